"""Random and sequential minibatch sampling."""
import random

import pytest
import torch

from rnncourse.sampling import SeqDataLoader, load_data_time_machine, seq_data_iter_random, seq_data_iter_sequential

TOY = list(range(35))


@pytest.mark.parametrize("sampler", [seq_data_iter_random, seq_data_iter_sequential])
def test_targets_are_inputs_shifted_by_one(sampler):
    random.seed(1)
    batches = list(sampler(TOY, 2, 5))
    assert batches, "a corpus long enough for one batch must give batches"
    for X, Y in batches:
        assert X.dtype == Y.dtype == torch.long
        assert X.shape == Y.shape == (2, 5)
        assert torch.equal(Y, X + 1)  # on 0..34, the next token is the token plus one


def test_random_sampling_offsets_are_all_reached_and_subsequences_do_not_overlap():
    offsets = set()
    for seed in range(50):
        random.seed(seed)
        rows = [row for X, _ in seq_data_iter_random(TOY, 2, 5) for row in X.tolist()]
        starts = [row[0] for row in rows]
        offsets.add(min(starts) % 5)
        # non-overlapping: every start differs by a multiple of num_steps
        assert len({s % 5 for s in starts}) == 1 and len(set(starts)) == len(starts)
        assert all(row == list(range(row[0], row[0] + 5)) for row in rows)
    assert offsets == set(range(5))


def test_random_sampling_order_is_random_but_reproducible():
    def run(seed):
        random.seed(seed)
        return [X.tolist() for X, _ in seq_data_iter_random(list(range(1000)), 4, 10)]

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_sequential_rows_continue_across_minibatches():
    corpus = list(range(1000))
    random.seed(3)
    batches = list(seq_data_iter_sequential(corpus, 4, 7))
    for (X0, _), (X1, _) in zip(batches, batches[1:]):
        assert torch.equal(X1[:, 0], X0[:, -1] + 1)


def test_sequential_uses_almost_the_whole_corpus():
    random.seed(0)
    corpus = list(range(10_000))
    seen = sum(X.numel() for X, _ in seq_data_iter_sequential(corpus, 32, 35))
    assert seen > len(corpus) - 32 * 35 - 35


@pytest.mark.parametrize("sampler", [seq_data_iter_random, seq_data_iter_sequential, SeqDataLoader])
def test_bad_arguments_are_clear_errors(sampler):
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        list(sampler(TOY, 0, 5))
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        list(sampler(TOY, 2, 0))
    with pytest.raises(ValueError, match="too short for one minibatch.*need at least 45"):
        list(sampler(TOY, 4, 9))
    with pytest.raises(ValueError, match="0 tokens is too short"):
        list(sampler([], 1, 1))


def test_shortest_corpus_that_is_accepted_always_gives_a_batch():
    corpus = list(range(2 * 5 + 5))  # (num_steps - 1) + batch_size * num_steps + 1
    for seed in range(20):
        random.seed(seed)
        assert len(list(seq_data_iter_random(corpus, 2, 5))) >= 1
        assert len(list(seq_data_iter_sequential(corpus, 2, 5))) >= 1


def test_loader_is_a_fresh_epoch_each_time_and_len_is_a_lower_bound():
    random.seed(0)
    loader, vocab = load_data_time_machine(32, 35)
    assert len(vocab) == 28 and not loader.use_random_iter
    epochs = [list(loader) for _ in range(3)]
    assert all(len(e) >= len(loader) for e in epochs)
    assert not all(torch.equal(epochs[0][0][0], e[0][0]) for e in epochs[1:])  # new offsets
    loader_r, _ = load_data_time_machine(32, 35, use_random_iter=True)
    assert loader_r.use_random_iter and len(list(loader_r)) >= len(loader_r)


@pytest.mark.parametrize("sampler", [seq_data_iter_random, seq_data_iter_sequential])
def test_tensor_and_array_corpora_give_the_list_batches(sampler):
    import numpy as np

    corpus = load_data_time_machine(4, 10, max_tokens=2000)[0].corpus
    batches = {}
    for kind, c in (("list", corpus), ("tensor", torch.tensor(corpus)), ("numpy", np.array(corpus))):
        random.seed(3)
        batches[kind] = list(sampler(c, 4, 10))
    for kind in ("tensor", "numpy"):
        assert len(batches[kind]) == len(batches["list"]) > 0
        for (X, Y), (X0, Y0) in zip(batches[kind], batches["list"]):
            assert torch.equal(X, X0) and torch.equal(Y, Y0)


def test_corpora_that_are_not_token_ids_are_refused():
    with pytest.raises(ValueError, match="1-d"):
        SeqDataLoader(torch.zeros(10, 200, dtype=torch.long), 2, 5)  # was: "corpus of 10 tokens is too short"
    with pytest.raises(TypeError, match="integers"):
        SeqDataLoader(torch.arange(100.0), 2, 5)  # was: silently truncated to long
    with pytest.raises(TypeError, match="vocab"):
        list(seq_data_iter_sequential(list("the time machine " * 10), 2, 5))


def test_arguments_of_the_wrong_type_are_type_errors():
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        SeqDataLoader(list(range(100)), True, 5)  # a bool is no batch size
    with pytest.raises(TypeError, match="num_steps must be an integer"):
        list(seq_data_iter_random(list(range(100)), 2, 5.0))
    with pytest.raises(TypeError, match="position 1.*vocab"):
        SeqDataLoader([1, True, 3] * 40, 2, 5)  # a bool is no token index
