"""Tests of rnncourse.train: clipping, the training loop, perplexity, checkpoints.

Every model is small and every run a few epochs over the first 10,000 characters of
The Time Machine, so the file runs in seconds.
"""
import collections
import re
import sys
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.generate import predict
from rnncourse.models import RNNModel, RNNModelScratch
from rnncourse.sampling import SeqDataLoader, load_data_time_machine, seq_data_iter_sequential
from rnncourse.text import load_corpus_time_machine
from rnncourse.loop import Monitor
from rnncourse.train import (CheckpointError, FixedBatches, PlainSGD, SamplePrinter, TrainConfig,
                             evaluate_perplexity, grad_clipping, load_checkpoint, save_checkpoint, train_epoch,
                             train_lm)
from rnncourse.utils import set_seed


@pytest.fixture(scope="module")
def time_machine():
    """Sequential minibatches (32 x 35) of the first 10,000 characters, and the vocabulary."""
    return load_data_time_machine(batch_size=32, num_steps=35, max_tokens=10000)


@pytest.fixture(scope="module")
def small_batches(time_machine):
    """A short loader (4 x 5 minibatches over 300 characters), for checks of the state handling."""
    train_iter, vocab = time_machine
    return train_iter.corpus[:300], vocab


@pytest.fixture(scope="module")
def medium_loader(time_machine):
    """Sequential minibatches (8 x 10) of the first 1,200 characters: training runs of a blink."""
    train_iter, _ = time_machine
    return SeqDataLoader(train_iter.corpus[:1200], batch_size=8, num_steps=10)


@pytest.fixture(scope="module")
def valid_batches():
    """A fixed list of sequential minibatches of characters that no training loader here
    sees (characters 10,000 to 11,000), so every evaluation reads the same data."""
    corpus, _ = load_corpus_time_machine(max_tokens=11000)
    set_seed(1)
    return FixedBatches(seq_data_iter_sequential(corpus[10000:], batch_size=4, num_steps=10), use_random_iter=False)


def unigram_perplexity(corpus):
    """Perplexity of the best context-free model: every character predicted by its frequency."""
    counts = collections.Counter(corpus)
    n = sum(counts.values())
    return math.exp(-sum(c / n * math.log(c / n) for c in counts.values()))


# ----------------------------------------------------------------------------- grad_clipping

def params_with_grads(*grads):
    params = []
    for g in grads:
        p = nn.Parameter(torch.zeros_like(g))
        p.grad = g.clone()
        params.append(p)
    return params


def test_grad_clipping_returns_global_norm_and_keeps_direction():
    # norms 3 and 4 per parameter; global norm sqrt(3² + 4²) = 5
    params = params_with_grads(torch.tensor([3.0, 0.0]), torch.tensor([[0.0], [4.0]]))
    norm = grad_clipping(params, theta=1.0)
    assert norm == pytest.approx(5.0)
    torch.testing.assert_close(params[0].grad, torch.tensor([0.6, 0.0]))  # (3, 0) / 5
    torch.testing.assert_close(params[1].grad, torch.tensor([[0.0], [0.8]]))  # (0, 4) / 5
    new_norm = torch.cat([p.grad.flatten() for p in params]).norm()
    assert new_norm <= 1.0
    assert new_norm == pytest.approx(1.0, rel=1e-5)


def test_grad_clipping_is_global_not_per_parameter():
    # each parameter's own norm (3, 4) is below theta = 4.5, but together they are 5 > 4.5
    params = params_with_grads(torch.tensor([3.0]), torch.tensor([4.0]))
    assert grad_clipping(params, theta=4.5) == pytest.approx(5.0)
    torch.testing.assert_close(params[0].grad, torch.tensor([3.0 * 0.9]))
    torch.testing.assert_close(params[1].grad, torch.tensor([4.0 * 0.9]))


def test_grad_clipping_below_theta_changes_nothing():
    grads = (torch.tensor([3.0, -1.0]), torch.tensor([2.0]))
    params = params_with_grads(*grads)
    norm = grad_clipping(params, theta=10.0)
    assert norm == pytest.approx(math.sqrt(9 + 1 + 4))
    for p, g in zip(params, grads):
        assert torch.equal(p.grad, g)


def test_grad_clipping_of_a_module_matches_torch_and_skips_params_without_grad(time_machine):
    train_iter, vocab = time_machine
    torch.manual_seed(0)
    net = RNNModel(nn.GRU(len(vocab), 16), len(vocab))
    net.unused = nn.Parameter(torch.ones(3))  # never used by forward: its grad stays None
    reference = RNNModel(nn.GRU(len(vocab), 16), len(vocab))
    reference.load_state_dict({k: v for k, v in net.state_dict().items() if k != "unused"})
    X, Y = next(iter(train_iter))
    for model in (net, reference):
        logits, _ = model(X)
        F.cross_entropy(logits, Y.T.reshape(-1)).backward()
    norm = grad_clipping(net, theta=0.1)
    expected = torch.nn.utils.clip_grad_norm_(reference.parameters(), max_norm=0.1)
    assert norm > 0.1  # so clipping really happened
    assert norm == pytest.approx(float(expected), rel=1e-5)
    assert net.unused.grad is None
    for (name, p), q in zip(((n, p) for n, p in net.named_parameters() if n != "unused"), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-7, msg=name)


@pytest.mark.parametrize("theta", [0, -1.0, float("nan"), float("inf")])
def test_grad_clipping_rejects_bad_theta(theta):
    with pytest.raises(ValueError, match="theta"):
        grad_clipping(params_with_grads(torch.ones(2)), theta)


# ----------------------------------------------------------------------------- train_lm

def test_train_lm_beats_the_unigram_model(time_machine):
    train_iter, vocab = time_machine
    set_seed(0)
    net = RNNModelScratch(len(vocab), num_hiddens=32)
    history = train_lm(net, train_iter, vocab, lr=3.0, num_epochs=8)
    ppl = history["perplexity"]
    assert len(ppl) == len(history["grad_norm"]) == len(history["lr"]) == 8
    # an untrained model guesses uniformly (perplexity about len(vocab) = 28); a model that has
    # learned character frequencies only scores the unigram perplexity (about 17.4); beating it
    # by 10% means the network uses the context
    assert ppl[0] < len(vocab) + 1
    assert ppl[-1] < 0.9 * unigram_perplexity(train_iter.corpus)
    assert ppl[-1] < ppl[0]
    assert history["tokens"] == 8 * len(train_iter) * 32 * 35
    assert history["tokens_per_sec"] == pytest.approx(history["tokens"] / history["seconds"])
    assert all(g > 0 for g in history["grad_norm"])
    assert history["stopped"] is None and history["epochs"] == 8


def test_train_lm_with_a_given_optimizer_uses_it(time_machine, medium_loader):
    _, vocab = time_machine
    train_iter = medium_loader
    histories = []
    for use_optimizer in (False, True):
        set_seed(0)
        net = RNNModel(nn.RNN(len(vocab), 16), len(vocab))
        optimizer = PlainSGD(net.parameters(), lr=1.0) if use_optimizer else None
        histories.append(train_lm(net, train_iter, vocab, lr=None if use_optimizer else 1.0, num_epochs=2,
                                  optimizer=optimizer)["perplexity"])
    assert histories[0] == histories[1]
    with pytest.raises(ValueError, match="contradicts"):
        train_lm(net, train_iter, vocab, lr=0.5, num_epochs=1, optimizer=PlainSGD(net.parameters(), lr=1.0))


class StateRecorder(RNNModelScratch):
    """RNNModelScratch that records the state it is given and the state it returns."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.given, self.returned = [], []

    def forward(self, X, state=None):
        self.given.append(state)
        logits, new_state = super().forward(X, state)
        self.returned.append(new_state)
        return logits, new_state


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_sequential_training_carries_the_state_detached(small_batches, cell):
    corpus, vocab = small_batches
    set_seed(0)
    net = StateRecorder(len(vocab), 8, cell=cell)
    train_lm(net, SeqDataLoader(corpus, 4, 5), vocab, lr=1.0, num_epochs=1)
    assert len(net.given) > 5
    for given in as_tuple(net.given[0]):
        assert not given.any()  # the first minibatch starts from begin_state (zeros)
    for previous, given in zip(net.returned, net.given[1:]):
        for prev, cur in zip(as_tuple(previous), as_tuple(given)):
            assert prev.requires_grad  # the previous minibatch's final state is part of its graph...
            assert torch.equal(cur, prev)  # ...its values are carried over...
            assert not cur.requires_grad and cur.grad_fn is None  # ...but cut from that graph


def test_random_sampling_starts_every_minibatch_from_begin_state(small_batches):
    corpus, vocab = small_batches
    set_seed(0)
    net = StateRecorder(len(vocab), 8, cell="lstm")
    train_lm(net, SeqDataLoader(corpus, 4, 5, use_random_iter=True), vocab, lr=1.0, num_epochs=1)
    assert len(net.given) > 5
    for given in net.given:
        for part in given:
            assert part.shape == (1, 4, 8) and not part.any() and not part.requires_grad
    assert any(part.any() for returned in net.returned for part in returned)  # the states did move


def test_train_lm_rejects_a_contradicting_use_random_iter(small_batches):
    corpus, vocab = small_batches
    net = RNNModelScratch(len(vocab), 8)
    # train_lm reads the scheme from the iterator; a contradiction can only be written where minibatches
    # are wrapped, and FixedBatches refuses it
    with pytest.raises(ValueError, match="use_random_iter"):
        train_lm(net, FixedBatches(SeqDataLoader(corpus, 4, 5, use_random_iter=True), use_random_iter=False),
                 vocab, lr=1.0, num_epochs=1)
    with pytest.raises(ValueError, match="use_random_iter"):
        train_lm(net, FixedBatches(SeqDataLoader(corpus, 4, 5), use_random_iter=True), vocab, lr=1.0,
                 num_epochs=1)


def test_train_lm_rejects_bad_arguments(small_batches):
    corpus, vocab = small_batches
    loader = SeqDataLoader(corpus, 4, 5)
    net = RNNModelScratch(len(vocab), 8)
    for kwargs in ({"lr": 0.0}, {"lr": -1.0}, {"num_epochs": 0}, {"theta": 0.0},
                   {"config": TrainConfig(keep_best=True)}, {"config": TrainConfig(patience=2)}):
        args = {"lr": 1.0, "num_epochs": 1, **kwargs}
        with pytest.raises(ValueError):
            train_lm(net, loader, vocab, **args)
    with pytest.raises(ValueError, match="vocabulary"):
        train_lm(RNNModelScratch(len(vocab) + 1, 8), loader, vocab, lr=1.0, num_epochs=1)
    for kwargs in ({"lr": True}, {"num_epochs": 1.5}, {"theta": "1"}, {"config": {"patience": 2}},
                   {"lr": None, "optimizer": 0.1}):
        args = {"lr": 1.0, "num_epochs": 1, **kwargs}
        with pytest.raises(TypeError):  # a wrong type is a TypeError (rnncourse.checks)
            train_lm(net, loader, vocab, **args)
    for kwargs in ({"patience": 0}, {"valid_every": 0}, {"max_seconds": 0}, {"check_every": 0}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            TrainConfig(**kwargs)

    class OneShot:  # an iterator that says how it was sampled, but can be read only once
        use_random_iter = False

        def __init__(self, batches):
            self.batches = iter(batches)

        def __iter__(self):
            return self.batches

    with pytest.raises(ValueError, match="no minibatches"):
        # a one-shot iterator is empty in epoch 2
        train_lm(net, OneShot(loader), vocab, lr=1.0, num_epochs=2)


def test_nan_loss_stops_training_with_a_clear_error(small_batches):
    corpus, vocab = small_batches
    net = RNNModelScratch(len(vocab), 8)
    with torch.no_grad():
        net.W_hq[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"epoch 1, minibatch 1 \(lr=0.5\).*smaller learning rate"):
        train_lm(net, SeqDataLoader(corpus, 4, 5), vocab, lr=0.5, num_epochs=3)


def test_huge_learning_rate_without_clipping_diverges_with_a_clear_error(small_batches):
    corpus, vocab = small_batches
    set_seed(0)
    net = RNNModelScratch(len(vocab), 8)
    with pytest.raises(FloatingPointError, match=r"lr=1e\+10.*clipping"):
        train_lm(net, SeqDataLoader(corpus, 4, 5), vocab, lr=1e10, num_epochs=3, theta=None)


def test_validation_keep_best_and_history(time_machine, medium_loader, valid_batches):
    _, vocab = time_machine
    train_iter = medium_loader
    set_seed(0)
    net = RNNModelScratch(len(vocab), 16)
    # a good first epoch, then steps so large (clipped gradients of norm 1 times lr 30) that it gets worse
    history = train_lm(net, train_iter, vocab, lr=3.0, num_epochs=3, valid_iter=valid_batches,
                       config=TrainConfig(keep_best=True, lr_schedule=lambda epoch: 3.0 if epoch == 1 else 30.0))
    assert history["lr"] == [3.0, 30.0, 30.0]
    assert history["valid_epochs"] == [1, 2, 3]
    valid = history["valid_perplexity"]
    assert history["best_valid_perplexity"] == min(valid)
    assert history["best_epoch"] == 1 + valid.index(min(valid))
    assert history["best_epoch"] < 3  # so keep_best had something to do
    assert evaluate_perplexity(net, valid_batches) == pytest.approx(min(valid), rel=1e-6)


def test_patience_and_valid_every(time_machine, medium_loader, valid_batches):
    _, vocab = time_machine
    train_iter = medium_loader
    set_seed(0)
    net = RNNModelScratch(len(vocab), 8)
    # lr 0 from epoch 2 on: the weights stop changing, so the validation perplexity stops improving
    history = train_lm(net, train_iter, vocab, lr=1.0, num_epochs=10, valid_iter=valid_batches,
                       config=TrainConfig(patience=1, lr_schedule=lambda epoch: 1.0 if epoch == 1 else 0.0))
    assert history["stopped"] == "patience"
    assert history["epochs"] == 2 and history["valid_epochs"] == [1, 2]
    assert history["valid_perplexity"][0] == history["valid_perplexity"][1]
    history = train_lm(net, train_iter, vocab, lr=0.1, num_epochs=5, valid_iter=valid_batches,
                       config=TrainConfig(valid_every=2))
    assert history["valid_epochs"] == [2, 4, 5]  # every second epoch, and after the last


def test_max_seconds_stops_training(time_machine, medium_loader):
    _, vocab = time_machine
    net = RNNModelScratch(len(vocab), 8)
    history = train_lm(net, medium_loader, vocab, lr=1.0, num_epochs=1000, config=TrainConfig(max_seconds=1e-9))
    assert history["stopped"] == "max_seconds"
    assert history["epochs"] == 1 and history["tokens"] == 8 * 10  # stopped after the first minibatch


def test_train_lm_is_quiet_by_default_and_prints_samples_on_request(small_batches, capsys):
    corpus, vocab = small_batches
    net = RNNModelScratch(len(vocab), 8)
    net.eval()
    history = train_lm(net, SeqDataLoader(corpus, 4, 5), vocab, lr=1.0, num_epochs=2)
    assert capsys.readouterr().out == "" and not net.training  # quiet, and the mode is restored
    printer = SamplePrinter(net, vocab, ["time ", "the "], every=2, length=7, num_epochs=3)
    train_lm(net, SeqDataLoader(corpus, 4, 5), vocab, lr=1.0, num_epochs=3, config=TrainConfig(on_epoch_end=printer))
    out = capsys.readouterr().out.splitlines()
    assert [s["epoch"] for s in printer.samples] == [2, 2, 3, 3]
    assert [len(s["text"]) for s in printer.samples] == [5 + 7, 4 + 7] * 2
    assert out == [f"epoch {s['epoch']}: {s['text']}" for s in printer.samples]
    # and when training stops early (here: the time budget)
    printer = SamplePrinter(net, vocab, "time ", every=10, length=3)
    train_lm(net, SeqDataLoader(corpus, 4, 5), vocab, lr=1.0, num_epochs=30,
             config=TrainConfig(max_seconds=1e-9, on_epoch_end=printer))
    assert [s["epoch"] for s in printer.samples] == [1]
    capsys.readouterr()
    for kwargs in ({"every": 0}, {"length": 0}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            SamplePrinter(net, vocab, "time ", **kwargs)


# ----------------------------------------------------------------------------- evaluate_perplexity

def test_untrained_model_has_perplexity_of_a_uniform_guess(time_machine):
    train_iter, vocab = time_machine
    torch.manual_seed(0)
    net = RNNModelScratch(len(vocab), 32)  # weights N(0, 0.01²): all logits nearly 0
    assert evaluate_perplexity(net, train_iter) == pytest.approx(len(vocab), rel=1e-2)
    assert net.training  # the mode is restored


def test_evaluate_perplexity_weights_tokens_and_resets_state_for_random_iterators(time_machine):
    _, vocab = time_machine
    torch.manual_seed(0)
    net = RNNModel(nn.GRU(len(vocab), 16), len(vocab))
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, len(vocab), (b, 11), generator=g) for b in (2, 8)]  # different sizes

    class RandomOrder(list):
        use_random_iter = True

    data = RandomOrder((X[:, :-1], X[:, 1:]) for X in batches)
    with torch.no_grad():  # independently: total loss of each batch from a zero state, over all tokens
        total = sum(F.cross_entropy(net(X)[0], Y.T.reshape(-1), reduction="sum") for X, Y in data)
    expected = math.exp(total.item() / (2 * 10 + 8 * 10))
    assert evaluate_perplexity(net, data) == pytest.approx(expected, rel=1e-5)


def test_evaluate_perplexity_carries_the_state_for_sequential_iterators(small_batches):
    corpus, vocab = small_batches
    net = StateRecorder(len(vocab), 8)
    evaluate_perplexity(net, SeqDataLoader(corpus, 4, 5))
    assert not net.given[0].any()
    for previous, given in zip(net.returned, net.given[1:]):
        assert given is previous


# ----------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("make_net", [
    lambda v: RNNModelScratch(v, 16, cell="gru", num_layers=2, reset_after=True),
    lambda v: RNNModelScratch(v, 16, cell="rnn", bptt="truncated", bptt_k=3),
    lambda v: RNNModel(nn.LSTM(v, 16, num_layers=2, dropout=0.1), v),
], ids=["scratch-gru", "scratch-rnn", "nn-lstm"])
def test_checkpoint_round_trip_gives_identical_predictions(time_machine, medium_loader, tmp_path, make_net):
    _, vocab = time_machine
    train_iter = medium_loader
    set_seed(0)
    net = make_net(len(vocab))
    history = train_lm(net, train_iter, vocab, lr=1.0, num_epochs=1)
    path = tmp_path / "model.pt"
    save_checkpoint(path, net, vocab, history=history, note="one epoch")
    loaded, loaded_vocab, extra = load_checkpoint(path, with_extra=True)
    assert type(loaded) is type(net) and loaded is not net
    assert loaded_vocab.idx_to_token == vocab.idx_to_token
    assert loaded_vocab.token_freqs == vocab.token_freqs
    assert extra["note"] == "one epoch" and extra["history"]["perplexity"] == history["perplexity"]
    for name, tensor in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    X, _ = next(iter(train_iter))
    net.eval(), loaded.eval()
    with torch.no_grad():
        assert torch.equal(loaded(X)[0], net(X)[0])
    assert predict("time traveller", 30, loaded, loaded_vocab) == predict("time traveller", 30, net, vocab)
    torch.manual_seed(3)
    sampled = predict("the ", 30, net, vocab, temperature=1.0)
    torch.manual_seed(3)
    assert predict("the ", 30, loaded, loaded_vocab, temperature=1.0) == sampled


def test_checkpoint_rejects_what_it_cannot_store(time_machine, tmp_path):
    _, vocab = time_machine
    net = RNNModelScratch(len(vocab), 4)
    with pytest.raises(TypeError, match="plain data"):
        save_checkpoint(tmp_path / "a.pt", net, vocab, fn=print)
    with pytest.raises(TypeError, match="RNNModelScratch"):
        save_checkpoint(tmp_path / "b.pt", nn.Linear(2, 2), vocab)
    torch.save({"weights": torch.ones(2)}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=r"c\.pt is not a readable rnncourse checkpoint.*save_checkpoint"):
        load_checkpoint(tmp_path / "c.pt")


# ----------------------------------------------------------------------------- defects of issue 11

@pytest.mark.parametrize("grad, theta", [(5e-7, 1e-6), (1.0, 1.0), (0.0, 1.0), (3.0, 10.0)])
def test_grad_clipping_leaves_gradients_within_theta_exactly_as_they_are(grad, theta):
    # ||g|| = 5e-7 <= theta = 1e-6 must not change (the old `theta / (||g|| + 1e-6)` made it 3.33e-7),
    # nor ||g|| = theta = 1 (the old scale was 1 / (1 + 1e-6)); ||g|| = 0 gives no NaN
    grads = (torch.tensor([0.0, grad, 0.0]), torch.tensor([[0.0]]))
    params = params_with_grads(*grads)
    assert grad_clipping(params, theta) == pytest.approx(grad, rel=1e-6)
    for p, g in zip(params, grads):
        assert torch.equal(p.grad, g)


@pytest.mark.parametrize("norm, theta", [(2e-6, 1e-6), (5.0, 1.0), (1e4, 0.25)])
def test_grad_clipping_gives_norm_theta_exactly(norm, theta):
    # split the norm over two parameters (0.6 and 0.8 of it): the old code gave 6.67e-7 for 2e-6 -> 1e-6
    params = params_with_grads(torch.tensor([0.6 * norm]), torch.tensor([[0.0, 0.8 * norm]]))
    assert grad_clipping(params, theta) == pytest.approx(norm, rel=1e-6)
    clipped = torch.cat([p.grad.flatten() for p in params]).double().norm().item()
    assert clipped == pytest.approx(theta, rel=1e-6)  # float32 rounding only
    assert params[0].grad.item() == pytest.approx(0.6 * theta, rel=1e-6)  # the direction is kept


def test_a_bare_iterator_needs_its_sampling_scheme_spelled_out(small_batches, time_machine):
    corpus, vocab = small_batches
    torch.manual_seed(0)
    net = RNNModel(nn.GRU(len(vocab), 16), len(vocab))
    for p in net.parameters():  # weights large enough for the state to matter
        torch.nn.init.normal_(p, std=0.5)
    loader = SeqDataLoader(corpus, 4, 5)
    with pytest.raises(ValueError, match="use_random_iter=False for sequential"):
        evaluate_perplexity(net, iter(loader))  # a generator: no use_random_iter to read
    batches = FixedBatches(loader)  # read once (each pass of a loader draws a new random offset)
    assert batches.use_random_iter is False
    with pytest.raises(ValueError, match="use_random_iter"):
        evaluate_perplexity(net, list(batches))
    sequential = evaluate_perplexity(net, batches)
    assert evaluate_perplexity(net, iter(batches), use_random_iter=False) == sequential
    # a fresh state for every minibatch, computed independently of evaluate_perplexity
    with torch.no_grad():
        total = sum(F.cross_entropy(net(X)[0], Y.T.reshape(-1), reduction="sum") for X, Y in batches)
    fresh = math.exp(total.item() / sum(Y.numel() for _, Y in batches))
    assert evaluate_perplexity(net, iter(batches), use_random_iter=True) == pytest.approx(fresh, rel=1e-5)
    assert fresh != pytest.approx(sequential, rel=1e-3)  # so the scheme matters here
    # a contradiction is an error
    assert FixedBatches(SeqDataLoader(corpus, 4, 5, use_random_iter=True)).use_random_iter is True
    with pytest.raises(ValueError, match="samples sequentially"):
        evaluate_perplexity(net, batches, use_random_iter=True)
    with pytest.raises(ValueError, match="use_random_iter"):
        FixedBatches(list(batches))
    with pytest.raises(TypeError, match="use_random_iter"):
        evaluate_perplexity(net, loader, use_random_iter="no")


def test_train_lm_needs_the_sampling_scheme_of_a_bare_iterator(small_batches, valid_batches):
    corpus, vocab = small_batches
    batches = list(SeqDataLoader(corpus, 4, 5))
    net = RNNModelScratch(len(vocab), 8)
    with pytest.raises(ValueError, match="train_iter.*use_random_iter=False"):
        train_lm(net, batches, vocab, lr=1.0, num_epochs=1)
    batches = FixedBatches(batches, use_random_iter=False)  # how a bare list says how it was sampled
    with pytest.raises(ValueError, match="valid_iter.*FixedBatches"):
        train_lm(net, batches, vocab, lr=1.0, num_epochs=1, valid_iter=list(valid_batches))
    history = train_lm(net, batches, vocab, lr=1.0, num_epochs=1, valid_iter=valid_batches)
    assert history["tokens"] == len(batches) * 4 * 5 and len(history["valid_perplexity"]) == 1


class WeightRecorder(RNNModelScratch):
    """RNNModelScratch that records, at every forward pass, the weights it runs with and its logits."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weights_seen, self.logits = [], []

    def forward(self, X, state=None):
        self.weights_seen.append({k: v.detach().clone() for k, v in self.state_dict().items()})
        logits, state = super().forward(X, state)
        self.logits.append(logits.detach())
        return logits, state


@pytest.fixture(scope="module")
def full_corpus_batches():
    """The first 40 sequential minibatches (32 x 35) of the whole Time Machine."""
    loader, vocab = load_data_time_machine(batch_size=32, num_steps=35, max_tokens=-1)
    set_seed(0)
    return FixedBatches(list(loader)[:40], use_random_iter=False), vocab


@pytest.mark.parametrize("good_epoch_batches", [0, 15], ids=["lr=1e6", "lr=1e6-after-a-good-epoch"])
def test_divergence_stops_at_the_next_check_with_the_last_finite_weights(full_corpus_batches, good_epoch_batches):
    batches, vocab = full_corpus_batches
    check_every = 10  # train_lm checks every 10 minibatches and at the end of each epoch
    set_seed(0)
    net = WeightRecorder(len(vocab), 32)
    if good_epoch_batches:  # a first epoch at a sane lr, so that the last good weights are not the initial ones
        train_lm(net, FixedBatches(batches[:good_epoch_batches], False), vocab, lr=1.0, num_epochs=1)
    with pytest.raises(FloatingPointError, match=r"at epoch 1, minibatch \d+ \(lr=1e\+06\).*restored"):
        train_lm(net, batches, vocab, lr=1e6, num_epochs=3)
    # independently: the loss of every minibatch that ran, and the first whose perplexity overflows
    ran = net.logits[good_epoch_batches:]
    losses = [F.cross_entropy(logits, Y.T.reshape(-1)).item() for logits, (_, Y) in zip(ran, batches)]
    first_bad = next(i for i, loss in enumerate(losses, 1) if not loss < math.log(sys.float_info.max))
    assert len(losses) == math.ceil(first_bad / check_every) * check_every  # stopped at the first check after it
    assert len(losses) < len(batches)  # long before the end of the epoch
    last_good_check = (first_bad - 1) // check_every * check_every  # minibatches before the last good check
    snapshot = net.weights_seen[good_epoch_batches + last_good_check]  # the weights after that check
    for name, tensor in net.state_dict().items():
        assert torch.isfinite(tensor).all(), name
        assert torch.equal(tensor, snapshot[name]), name


# ----------------------------------------------------------------------------- bad checkpoint files

@pytest.fixture
def checkpoint_bytes(time_machine, tmp_path):
    _, vocab = time_machine
    path = tmp_path / "good.pt"
    save_checkpoint(path, RNNModelScratch(len(vocab), 4), vocab)
    return path.read_bytes()


@pytest.mark.parametrize("kind, why", [
    ("truncated", "truncated or damaged"),
    ("cut-short", "truncated or damaged"),
    ("empty", "empty"),
    ("text", "not written by torch.save"),
    ("pickle", "not written by torch.save"),
    ("tensor", "not one written by save_checkpoint"),
    ("directory", "directory"),
])
def test_a_bad_checkpoint_file_gives_one_clear_error_naming_it(checkpoint_bytes, tmp_path, kind, why):
    path = tmp_path / f"{kind}.pt"
    if kind == "truncated":
        path.write_bytes(checkpoint_bytes[:len(checkpoint_bytes) // 2])
    elif kind == "cut-short":
        path.write_bytes(checkpoint_bytes[:100])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("epoch 1: perplexity 12.3\n")
    elif kind == "pickle":
        import pickle
        path.write_bytes(pickle.dumps({"format": "rnncourse-checkpoint"}))
    elif kind == "tensor":
        torch.save(torch.ones(3), path)
    else:
        path.mkdir()
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a readable rnncourse checkpoint: ") and why in message
    assert "\n" not in message
    assert isinstance(caught.value, ValueError)


def test_a_missing_checkpoint_file_is_named(tmp_path):
    path = tmp_path / "nowhere" / "model.pt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        load_checkpoint(path)


def test_a_damaged_checkpoint_entry_is_a_checkpoint_error(time_machine, tmp_path):
    _, vocab = time_machine
    path = tmp_path / "model.pt"
    save_checkpoint(path, RNNModelScratch(len(vocab), 4), vocab)
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["state_dict"]["W_hq"]
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="model.pt is not a readable.*damaged"):
        load_checkpoint(path)


def test_chapter_5_recipe_is_bit_identical_to_commit_65df1c6():
    """Chapter 5's recipe (sequential and random sampling, 3 epochs on the CPU, one
    thread) gives exactly the perplexities, gradient norms and weights that the training
    loop of commit 65df1c6 (before issue 15's restructure) recorded."""
    import json
    import pathlib

    here = pathlib.Path(__file__).parent / "data"
    sys.path.insert(0, str(here))
    try:
        import record_ch5_recipe
    finally:
        sys.path.remove(str(here))
    recorded = json.loads((here / "ch5_recipe_65df1c6.json").read_text())
    threads = torch.get_num_threads()
    try:
        assert record_ch5_recipe.recipe(recorded["num_epochs"]) == recorded
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("use_random_iter", [False, True], ids=["sequential", "random"])
def test_train_lm_trains_with_train_epoch_exactly(time_machine, valid_batches, use_random_iter):
    """The listing of chapter 5 is what trains: train_lm (its monitor, validation, history) and
    train_epoch called by hand (with or without a monitor) give identical losses and weights."""
    train_iter, vocab = time_machine
    loader = SeqDataLoader(train_iter.corpus[:1200], 8, 10, use_random_iter=use_random_iter)
    set_seed(3)
    net = RNNModelScratch(len(vocab), 16)
    set_seed(4)  # the loader's random offsets
    history = train_lm(net, loader, vocab, lr=2.0, num_epochs=3, theta=0.5, valid_iter=valid_batches)
    for monitored in (False, True):
        set_seed(3)
        by_hand = RNNModelScratch(len(vocab), 16)
        set_seed(4)
        sgd = PlainSGD(by_hand.parameters(), lr=2.0)
        monitor = Monitor(by_hand, sgd, 0.5, check_every=3) if monitored else None
        stats = [train_epoch(by_hand, loader, sgd, torch.device("cpu"), theta=0.5,
                             use_random_iter=use_random_iter, monitor=monitor) for _ in range(3)]
        assert [math.exp(s["loss"]) for s in stats] == history["perplexity"]
        assert [s["grad_norm"] for s in stats] == history["grad_norm"]
        for name, tensor in net.state_dict().items():
            assert torch.equal(tensor, by_hand.state_dict()[name]), name
