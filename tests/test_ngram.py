"""N-gram models on the real Time Machine: the smoothing formulas, their limits, the split."""
import collections
import math
import re

import numpy as np
import pytest
import torch

from rnncourse.ngram import (LaplaceLM, laplace_table, ngram_counts, ngram_freqs, train_valid_test_split,
                             zipf_exponent)
from rnncourse.text import load_corpus_time_machine, read_time_machine, tokenize


@pytest.fixture(scope="module")
def chars():
    """The Time Machine as one string of characters (the char-level corpus, as text)."""
    return "".join(read_time_machine())


@pytest.fixture(scope="module")
def words():
    return [w for line in tokenize(read_time_machine(), "word") for w in line]


def sliding_count(seq, gram):
    """Overlapping occurrences of ``gram`` in ``seq``, by brute force (independent of Counter)."""
    if isinstance(seq, str):  # a regular-expression look-ahead finds overlapping matches too
        return len(re.findall(f"(?={re.escape(''.join(gram))})", seq))
    k = len(gram)
    return sum(1 for i in range(len(seq) - k + 1) if tuple(seq[i:i + k]) == tuple(gram))


# ---- distributions sum to 1


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_char_distributions_sum_to_one(chars, n):
    model = LaplaceLM(chars, n, eps=0.7)
    contexts = [(), tuple(chars[-(n - 1):]) if n > 1 else (),  # the corpus's last tokens
                tuple("the"[: n - 1]), tuple("qqqq"[: n - 1])]  # a frequent and an unseen context
    for context in contexts:
        assert sum(model.distribution(context).values()) == pytest.approx(1.0, abs=1e-12)


def test_word_distributions_sum_to_one_after_the_last_tokens(words):
    # "man" ends the book: as a context it is followed by a token once less than it occurs.
    model = LaplaceLM(words, 3, eps=(0.5, 0.5, 0.5))
    assert words[-1] == "man"
    assert model.context_count(("man",)) == words.count("man") - 1
    for context in [(), (words[-1],), tuple(words[-2:]), ("zzz", "qqq"), ("the",)]:
        assert sum(model.distribution(context).values()) == pytest.approx(1.0, abs=1e-12)


def test_context_count_is_the_number_of_followers(chars):
    model = LaplaceLM(chars, 3, eps=1.0)
    for context in [tuple(chars[-2:]), tuple(chars[-1:]), ("t", "h"), ("q", "q")]:
        followers = sum(sliding_count(chars, context + (c,)) for c in set(chars))
        assert model.context_count(context) == followers
    assert model.context_count(()) == len(chars)


# ---- the formulas and their limits


def test_formulas_of_the_notes(chars):
    m, n = len(set(chars)), len(chars)
    e1, e2, e3 = 0.3, 2.0, 5.0
    model = LaplaceLM(chars, 3, eps=(e1, e2, e3))
    p_e = (chars.count("e") + e1 / m) / (n + e1)
    assert model.prob("e") == pytest.approx(p_e, rel=1e-12)
    n_h_as_context = sliding_count(chars, "h") - (chars[-1] == "h")
    p_e_h = (sliding_count(chars, "he") + e2 * p_e) / (n_h_as_context + e2)
    assert model.prob("e", ("h",)) == pytest.approx(p_e_h, rel=1e-12)
    n_th_as_context = sliding_count(chars[:-1], "th")
    p_e_th = (sliding_count(chars, "the") + e3 * p_e) / (n_th_as_context + e3)  # back-off to P̂(e)
    assert model.prob("e", ("t", "h")) == pytest.approx(p_e_th, rel=1e-12)
    assert model.prob("e", ("x", "t", "h")) == model.prob("e", ("t", "h"))  # only the last n-1 count


def test_eps_to_zero_is_the_counting_estimate(chars):
    counting = sliding_count(chars, "the") / sliding_count(chars[:-1], "th")
    for eps in (0.0, 1e-9):
        assert LaplaceLM(chars, 3, eps).prob("e", "th") == pytest.approx(counting, rel=1e-6)
    assert LaplaceLM(chars, 1, 0.0).prob("e") == chars.count("e") / len(chars)


def test_eps_to_infinity_is_uniform(chars):
    m = len(set(chars))
    for eps in (1e12, math.inf):
        model = LaplaceLM(chars, 3, eps)
        for token, context in [("e", ()), ("e", "th"), ("q", "qq"), (" ", chars[-2:])]:
            assert model.prob(token, context) == pytest.approx(1 / m, rel=1e-6)


def test_unseen_context_backs_off_to_unigram_without_dividing_by_zero(chars):
    for eps in (0.0, 2.0, (1.0, 0.0, 3.0)):
        model = LaplaceLM(chars, 3, eps)
        assert model.context_count(("q", "z")) == 0
        assert model.prob("e", ("q", "z")) == model.prob("e")


def test_float_eps_equals_repeated_sequence(chars):
    a, b = LaplaceLM(chars, 3, 1.5), LaplaceLM(chars, 3, [1.5, 1.5, 1.5])
    assert a.eps == b.eps == (1.5, 1.5, 1.5)
    assert a.prob("e", "th") == b.prob("e", "th")
    c = LaplaceLM(chars, 3, (1.5, 1.5, 100.0))
    assert c.prob("e", "th") != a.prob("e", "th")
    d = a.with_eps((1.5, 1.5, 100.0))  # the same counts, other constants
    assert d.prob("e", "th") == c.prob("e", "th") and a.eps == (1.5, 1.5, 1.5)
    with pytest.raises(ValueError, match="needs 3"):
        a.with_eps((1.0, 2.0))


# ---- perplexity


def test_perplexity_of_the_uniform_model_is_m(chars):
    m = len(set(chars))
    model = LaplaceLM(chars, 4, math.inf)
    assert model.perplexity(chars[:5000]) == pytest.approx(m, rel=1e-12)


def test_perplexity_matches_prob_with_shorter_contexts_at_the_start(chars):
    model = LaplaceLM(chars, 3, (0.5, 1.0, 2.0))
    text = "the time traveller qz" + chars[-12:] + "e"  # the corpus's last tokens as a context, too
    logp = [math.log(model.prob(tok, text[:t])) for t, tok in enumerate(text)]
    assert logp[0] == math.log(model.prob("t"))  # the first token: unigram
    assert model.perplexity(text) == pytest.approx(math.exp(-sum(logp) / len(text)), rel=1e-12)


def test_held_out_perplexity_is_finite_and_better_than_uniform():
    corpus, vocab = load_corpus_time_machine(-1, "char")
    train, valid, test = train_valid_test_split(corpus)
    model = LaplaceLM(train, 3, 1.0)
    ppl = model.perplexity(test)
    assert math.isfinite(ppl) and 1 < ppl < model.m
    # over the whole Vocab (one more token: <unk>, never seen) the perplexity barely moves
    wide = LaplaceLM(train, 3, 1.0, vocab=range(len(vocab)))
    assert wide.m == len(vocab) == model.m + 1
    assert wide.prob(vocab.unk) > 0
    assert wide.perplexity(test) == pytest.approx(ppl, rel=1e-3)


def test_tokens_outside_the_vocabulary(words):
    train, _, test = train_valid_test_split(words)
    unseen = next(w for w in test if w not in set(train))
    model = LaplaceLM(train, 2, 1.0)
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        model.perplexity(test)
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        model.prob(unseen)
    wide = LaplaceLM(train, 2, 1.0, vocab=set(words))
    assert wide.prob(unseen) > 0 and math.isfinite(wide.perplexity(test))
    assert LaplaceLM(train, 2, 0.0, vocab=set(words)).perplexity(test) == math.inf


def test_bad_input_raises(chars):
    with pytest.raises(ValueError, match="at least 1"):
        LaplaceLM(chars, 0)
    with pytest.raises(TypeError, match="must be an int"):
        LaplaceLM(chars, 2.0)
    with pytest.raises(ValueError, match=">= 0"):
        LaplaceLM(chars, 2, -0.1)
    with pytest.raises(ValueError, match=">= 0"):
        LaplaceLM(chars, 2, (1.0, float("nan")))
    with pytest.raises(ValueError, match="needs 3 smoothing constants"):
        LaplaceLM(chars, 3, (1.0, 1.0))
    with pytest.raises(ValueError, match="empty"):
        LaplaceLM([], 2)
    with pytest.raises(TypeError, match="flat sequence"):
        LaplaceLM(tokenize(["a b", "c"], "word"), 2)
    with pytest.raises(ValueError, match="every training token"):
        LaplaceLM("abc", 2, vocab="ab")
    model = LaplaceLM(chars, 2)
    with pytest.raises(ValueError, match="empty"):
        model.perplexity([])
    with pytest.raises(ValueError, match="at most 1"):
        model.context_count("th")


# ---- the split and the table


def test_split_sizes_and_order():
    corpus, _ = load_corpus_time_machine(-1, "char")
    train, valid, test = train_valid_test_split(corpus)
    N = len(corpus)
    assert len(test) == N // 10
    assert len(valid) == (N - N // 10) // 10
    assert train + valid + test == corpus
    assert abs(len(train) / N - 0.81) < 1e-3 and abs(len(valid) / N - 0.09) < 1e-3


def test_split_edge_cases():
    data = list(range(100))
    assert train_valid_test_split(data, 0.2, 0.5) == (data[:40], data[40:50], data[50:])
    assert train_valid_test_split(data, 0.0, 0.0) == (data, [], [])
    for fracs in [(1.0, 0.1), (0.1, -0.1), (0.1, 1.0)]:
        with pytest.raises(ValueError, match=r"in \[0, 1\)"):
            train_valid_test_split(data, *fracs)
    assert train_valid_test_split([7], 0.5, 0.5) == ([7], [], [])  # training data always remains
    with pytest.raises(ValueError, match="empty corpus"):
        train_valid_test_split([], 0.1, 0.1)


def test_laplace_table_picks_the_best_eps_on_valid(chars):
    train, valid, test = train_valid_test_split(chars[:40000])
    grid = [0.1, 1.0, 10.0]
    rows = laplace_table(train, valid, test, orders=[1, 3], eps_grid=grid)
    assert [r["order"] for r in rows] == [1, 3]
    for row in rows:
        n = row["order"]
        # the vectorised tuning agrees with fitting one model per ε
        valid_ppls = [LaplaceLM(train, n, eps, vocab=set(train + valid)).perplexity(valid) for eps in grid]
        assert row["eps"] == grid[int(np.argmin(valid_ppls))]
        assert row["valid_ppls"] == pytest.approx(valid_ppls, rel=1e-12)
        assert row["valid_ppl"] == min(row["valid_ppls"])
        assert row["test_ppl"] == pytest.approx(
            LaplaceLM(train + valid, n, row["eps"], vocab=set(train + valid)).perplexity(test), rel=1e-12)
    assert rows[1]["test_ppl"] < rows[0]["test_ppl"]


# ---- counts for Zipf plots


def test_ngram_counts_and_freqs(words):
    bigrams = ngram_counts(words, 2)
    assert sum(bigrams.values()) == len(words) - 1
    assert bigrams[("of", "the")] == sliding_count(words, ("of", "the"))
    freqs = ngram_freqs(words, 2)
    assert freqs == sorted(bigrams.values(), reverse=True)


def test_zipf_exponent_recovers_a_power_law():
    ranks = np.arange(1, 1001)
    assert zipf_exponent(1e6 * ranks ** -1.3) == pytest.approx(1.3, rel=1e-9)
    assert zipf_exponent(1e6 * ranks ** -0.8, min_rank=10, max_rank=500) == pytest.approx(0.8, rel=1e-9)
    with pytest.raises(ValueError, match="sorted"):
        zipf_exponent([1, 2, 3])
    with pytest.raises(ValueError, match="min_rank"):
        zipf_exponent([3, 2, 1], min_rank=0)


# ---- token sequences given as tensors and arrays (ids are counted by value)


@pytest.fixture(scope="module")
def char_ids():
    return load_corpus_time_machine(-1, "char")[0]


@pytest.mark.parametrize("as_array", [torch.tensor, np.array], ids=["tensor", "numpy"])
def test_tensors_and_arrays_count_like_lists(as_array, char_ids):
    """A 0-d tensor is hashed by identity: counted one element at a time, every id of a
    tensor would be a new token. The list of the same ids is the oracle."""
    assert LaplaceLM(as_array([1, 2, 1, 2, 3]), 2).m == 3
    assert ngram_counts(as_array([1, 2, 1, 2]), 1) == collections.Counter({(1,): 2, (2,): 2})
    train, valid, _ = train_valid_test_split(char_ids)
    train_t, valid_t, _ = train_valid_test_split(as_array(char_ids))
    assert train_t == train and valid_t == valid and all(type(i) is int for i in valid_t[:100])
    from_list = LaplaceLM(train, 3, 0.1)
    from_array = LaplaceLM(as_array(train), 3, 0.1)
    assert from_array.m == from_list.m and from_array.counts == from_list.counts
    # the perplexity of a tensor is the perplexity of its list (no "outside the vocabulary" error)
    assert from_array.perplexity(as_array(valid)) == from_list.perplexity(valid)
    assert from_list.perplexity(as_array(valid)) == from_list.perplexity(valid)
    np.testing.assert_array_equal(from_list.log_probs(as_array(valid[:50])), from_list.log_probs(valid[:50]))
    a, b = valid[:2]
    assert from_list.prob(as_array(b)[()], as_array([a])) == from_list.prob(b, [a])
    assert from_list.count(as_array([a, b])) == from_list.count((a, b))
    rows_t = laplace_table(as_array(train), as_array(valid), as_array(valid), orders=[2])
    rows = laplace_table(train, valid, valid, orders=[2])
    assert rows_t == rows


def test_tensors_of_the_wrong_shape_or_dtype_are_refused():
    with pytest.raises(ValueError, match="1-d"):
        LaplaceLM(torch.tensor([[1, 2], [3, 4]]), 2)
    with pytest.raises(ValueError, match="1-d"):
        ngram_counts(np.zeros((2, 3), dtype=int), 1)
    with pytest.raises(ValueError, match="one token, not a sequence"):
        LaplaceLM(torch.tensor(3), 1)
    with pytest.raises(TypeError, match="integers"):
        LaplaceLM(torch.tensor([1.0, 2.0]), 2)
    with pytest.raises(TypeError, match="integers"):
        LaplaceLM(np.array([1.0, 2.0]), 2)
    model = LaplaceLM([1, 2, 1, 2, 3], 2)
    with pytest.raises(ValueError, match="1-d"):
        model.perplexity(torch.tensor([[1, 2, 3]]))
    with pytest.raises(TypeError, match="integers"):
        train_valid_test_split(torch.rand(10))
    with pytest.raises(TypeError, match="no order"):
        LaplaceLM({1, 2, 3}, 1)
