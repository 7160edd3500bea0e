"""Tests of rnncourse.loop: the one training loop (fit), its divergence guard, progress and plots.

The task is the smallest real one: a bigram model of The Time Machine's characters (an
embedding whose rows are the next character's logits), trained on its first 20,000 characters
and validated on the 5,000 after them.
"""
import math

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.loop import PlainSGD, TrainConfig, fit, fit_epoch, plot_history, show_progress
from rnncourse.sampling import SeqDataLoader
from rnncourse.text import load_corpus_time_machine
from rnncourse.utils import set_seed

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def corpus():
    tokens, vocab = load_corpus_time_machine(max_tokens=25000)
    return tokens[:20000], tokens[20000:], len(vocab)


class Bigram(nn.Module):
    """logits of the next character = row X of a (vocab, vocab) table."""

    def __init__(self, vocab_size):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, X):  # X: (batch, steps) -> logits (batch, steps, vocab)
        return self.table(X)


def bigram_loss(net):
    def batch_loss(batch):
        X, Y = batch
        logits = net(X)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1)), Y.numel()
    return batch_loss


def mean_loss(net, batches):
    with torch.no_grad():
        total = sum(F.cross_entropy(net(X).flatten(0, 1), Y.reshape(-1), reduction="sum").item()
                    for X, Y in batches)
    return total / sum(Y.numel() for _, Y in batches)


@pytest.fixture
def task(corpus):
    train, valid, vocab_size = corpus
    set_seed(0)
    net = Bigram(vocab_size)
    loader = SeqDataLoader(train, batch_size=16, num_steps=20)
    valid_batches = list(SeqDataLoader(valid, batch_size=16, num_steps=20))
    return net, loader, valid_batches, vocab_size


class Recorder:
    """Wraps a batch loss; records each minibatch's loss, token count and the weights it saw."""

    def __init__(self, net, batch_loss, poison_at=None):
        self.net, self.batch_loss, self.poison_at = net, batch_loss, poison_at
        self.losses, self.tokens, self.weights_seen = [], [], []

    def __call__(self, batch):
        self.weights_seen.append(self.net.table.weight.detach().clone())
        loss, n = self.batch_loss(batch)
        if self.poison_at is not None and len(self.weights_seen) == self.poison_at:
            loss = loss * float("nan")  # as if this minibatch overflowed
        self.losses.append(loss.item())
        self.tokens.append(n)
        return loss, n


# ----------------------------------------------------------------------------- history

def test_fit_learns_and_its_history_is_token_weighted(task):
    net, loader, valid_batches, vocab_size = task
    # minibatches of different sizes, so that a plain mean of the losses would differ
    batches = [(X[:b], Y[:b]) for (X, Y), b in zip(loader, [16, 4] * 100)]
    recorder = Recorder(net, bigram_loss(net))
    history = fit(net, batches, recorder, 3, PlainSGD(net.parameters(), lr=2.0),
                  evaluate=lambda: mean_loss(net, valid_batches))
    n = len(batches)
    assert history["epochs"] == 3 and history["stopped"] is None
    for key in ("loss", "grad_norm", "lr", "epoch_seconds", "valid"):
        assert len(history[key]) == 3, key
    for epoch in range(3):
        losses, tokens = recorder.losses[epoch * n:(epoch + 1) * n], recorder.tokens[epoch * n:(epoch + 1) * n]
        expected = sum(l * t for l, t in zip(losses, tokens)) / sum(tokens)
        assert history["loss"][epoch] == pytest.approx(expected, rel=1e-6)
        assert history["loss"][epoch] != pytest.approx(sum(losses) / n, rel=1e-4)  # really weighted
    assert history["tokens"] == 3 * sum(b[1].numel() for b in batches)
    assert history["tokens_per_sec"] == pytest.approx(history["tokens"] / history["seconds"])
    assert history["wall_seconds"] >= history["seconds"] > 0
    assert history["lr"] == [2.0] * 3
    # the uniform guess scores log(vocab); a bigram table does much better on held-out text
    assert history["valid"][-1] < 0.85 * math.log(vocab_size)
    assert history["valid"][-1] == pytest.approx(mean_loss(net, valid_batches))
    assert history["best_valid"] == min(history["valid"]) and history["valid_epochs"] == [1, 2, 3]


def test_clipping_bounds_every_step(task):
    net, loader, _, _ = task
    before = net.table.weight.detach().clone()
    history = fit(net, [next(iter(loader))], bigram_loss(net), 1, PlainSGD(net.parameters(), lr=1.0), theta=1e-3)
    step = (net.table.weight.detach() - before).norm().item()
    assert history["grad_norm"][0] > 1e-3  # so clipping had work to do
    assert step == pytest.approx(1e-3, rel=1e-4)  # lr * theta: the clipped gradient has norm theta


def test_validation_keep_best_patience_and_lr_schedule(task):
    net, loader, valid_batches, _ = task
    evaluate = lambda: mean_loss(net, valid_batches)  # noqa: E731
    # a good epoch, then steps so large that the validation loss gets worse
    history = fit(net, loader, bigram_loss(net), 3, PlainSGD(net.parameters(), lr=2.0), evaluate=evaluate,
                  theta=None, config=TrainConfig(keep_best=True, lr_schedule=lambda epoch: 2.0 if epoch == 1 else 400.0))
    assert history["lr"] == [2.0, 400.0, 400.0]
    assert history["best_epoch"] == 1 and min(history["valid"]) == history["valid"][0] < history["valid"][-1]
    assert evaluate() == pytest.approx(history["best_valid"], rel=1e-6)  # the best weights are back
    # lr 0 from epoch 2: the validation loss stops improving, patience=2 stops after two more evaluations
    history = fit(net, loader, bigram_loss(net), 10, PlainSGD(net.parameters(), lr=1.0), evaluate=evaluate,
                  config=TrainConfig(patience=2, lr_schedule=lambda epoch: 1.0 if epoch == 1 else 0.0))
    assert history["stopped"] == "patience" and history["epochs"] == 3
    assert history["valid"][1] == history["valid"][2] == history["valid"][0]
    history = fit(net, loader, bigram_loss(net), 5, PlainSGD(net.parameters(), lr=0.1), evaluate=evaluate,
                  config=TrainConfig(valid_every=2))
    assert history["valid_epochs"] == [2, 4, 5]  # every second epoch, and after the last


def test_max_seconds_stops_mid_epoch(task):
    net, loader, _, _ = task
    history = fit(net, loader, bigram_loss(net), 1000, PlainSGD(net.parameters(), lr=1.0),
                  config=TrainConfig(max_seconds=1e-9))
    assert history["stopped"] == "max_seconds"
    assert history["epochs"] == 1 and history["tokens"] == 16 * 20  # one minibatch


def test_hooks_see_each_epoch_and_the_stop(task):
    net, loader, valid_batches, _ = task
    calls = []
    fit(net, loader, bigram_loss(net), 4, PlainSGD(net.parameters(), lr=1.0),
        evaluate=lambda: mean_loss(net, valid_batches),
        config=TrainConfig(patience=1, lr_schedule=lambda e: 1.0 if e < 3 else 0.0,
                           on_epoch_end=lambda epoch, history: calls.append(
                               ("end", epoch, history["stopped"], len(history["valid"])))),
        on_epoch_start=lambda epoch: calls.append(("start", epoch, net.training)))
    assert calls == [("start", 1, True), ("end", 1, None, 1), ("start", 2, True), ("end", 2, None, 2),
                     ("start", 3, True), ("end", 3, "patience", 3)]


def test_mode_is_restored(task):
    net, loader, _, _ = task
    net.eval()
    fit(net, loader, bigram_loss(net), 1, PlainSGD(net.parameters(), lr=1.0))
    assert not net.training


# ----------------------------------------------------------------------------- divergence

@pytest.mark.parametrize("poison_at, check_every", [(13, 5), (13, 1), (1, 10), (4, 10)])
def test_divergence_stops_at_the_next_check_and_restores_the_last_finite_weights(task, poison_at, check_every):
    net, loader, _, _ = task
    recorder = Recorder(net, bigram_loss(net), poison_at=poison_at)
    with pytest.raises(FloatingPointError, match=rf"loss became nan at epoch 1, minibatch {poison_at} "
                                                 rf"\(lr=1\).*restored.*smaller learning rate"):
        fit(net, loader, recorder, 3, PlainSGD(net.parameters(), lr=1.0), config=TrainConfig(check_every=check_every))
    first_check_after = math.ceil(poison_at / check_every) * check_every
    assert len(recorder.losses) == first_check_after  # no more minibatches than up to that check
    last_good_check = (poison_at - 1) // check_every * check_every  # 0: the initial weights
    weights = net.table.weight.detach()
    assert torch.isfinite(weights).all()
    assert torch.equal(weights, recorder.weights_seen[last_good_check])  # as they were after that check


def test_divergence_at_the_end_of_an_epoch_is_caught_there(task):
    net, loader, _, _ = task
    batches = list(loader)[:7]  # 7 minibatches: the end of the epoch comes before the 10th
    recorder = Recorder(net, bigram_loss(net), poison_at=6)
    with pytest.raises(FloatingPointError, match="minibatch 6"):
        fit(net, batches, recorder, 2, PlainSGD(net.parameters(), lr=1.0), config=TrainConfig(check_every=10))
    assert len(recorder.losses) == 7 and torch.equal(net.table.weight.detach(), recorder.weights_seen[0])


def test_weights_that_overflow_count_as_divergence_even_with_a_finite_loss(task):
    net, loader, _, _ = task
    before = net.table.weight.detach().clone()
    # lr = inf: the loss and the gradient of the first minibatch are finite, the weights after it are not
    with pytest.raises(FloatingPointError, match=r"the weights became non-finite at epoch 1, minibatch 1 "):
        fit(net, loader, bigram_loss(net), 1, PlainSGD(net.parameters(), lr=1.0),
            config=TrainConfig(check_every=1, lr_schedule=lambda epoch: math.inf))
    assert torch.equal(net.table.weight.detach(), before)


def test_a_huge_loss_counts_as_divergence_with_max_loss(task):
    net, loader, _, _ = task
    with pytest.raises(FloatingPointError, match=r"the loss became 3\.\d+ at epoch 1, minibatch 1"):
        fit(net, loader, bigram_loss(net), 1, PlainSGD(net.parameters(), lr=1.0), config=TrainConfig(max_loss=1.0))


def test_fit_epoch_alone_returns_its_statistics(task):
    net, loader, _, _ = task
    stats = fit_epoch(net, loader, bigram_loss(net), PlainSGD(net.parameters(), lr=1.0))
    assert stats["steps"] == len(loader) and stats["tokens"] == len(loader) * 16 * 20 and stats["complete"]
    assert stats["grad_norm"] > 0 and 0 < stats["loss"] < math.log(28) + 0.1


# ----------------------------------------------------------------------------- progress and plots

def test_progress_bar_only_on_request_and_never_with_tqdm_disable(task, monkeypatch, capsys):
    net, loader, _, _ = task
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert show_progress(True) and not show_progress(False)
    assert not show_progress(None)  # not inside Jupyter
    batches = list(loader)[:2]
    fit(net, batches, bigram_loss(net), 2, PlainSGD(net.parameters(), lr=1.0),
        config=TrainConfig(progress=True), desc="bigram")
    err = capsys.readouterr().err
    assert "bigram" in err and "2/2" in err and "loss=" in err
    fit(net, batches, bigram_loss(net), 2, PlainSGD(net.parameters(), lr=1.0))
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not show_progress(True)
    fit(net, batches, bigram_loss(net), 2, PlainSGD(net.parameters(), lr=1.0),
        config=TrainConfig(progress=True), desc="bigram")
    assert capsys.readouterr().err == ""


def test_plot_history_draws_train_and_valid_curves():
    import matplotlib.pyplot as plt

    history = {"loss": [3.0, 2.5, 2.2, 2.1], "valid": [2.6, 2.3], "valid_epochs": [2, 4]}
    _, ax = plt.subplots()
    assert plot_history(history, ylabel="cross-entropy", ax=ax) is ax
    train_line, valid_line = ax.get_lines()
    assert list(train_line.get_xdata()) == [1, 2, 3, 4] and list(train_line.get_ydata()) == history["loss"]
    assert list(valid_line.get_xdata()) == [2, 4] and list(valid_line.get_ydata()) == history["valid"]
    assert ax.get_ylabel() == "cross-entropy" and ax.get_xlabel() == "epoch"
    _, ax = plt.subplots()
    plot_history({"perplexity": [9.0, 8.0], "valid_perplexity": [8.5], "valid_epochs": [2]}, "perplexity", ax=ax)
    assert len(ax.get_lines()) == 2 and ax.get_ylabel() == "perplexity"
    with pytest.raises(KeyError, match="accuracy"):
        plot_history(history, "accuracy")
    plt.close("all")


# ----------------------------------------------------------------------------- bad input

def test_fit_rejects_bad_arguments(task):
    net, loader, _, _ = task
    sgd = PlainSGD(net.parameters(), lr=1.0)
    loss = bigram_loss(net)
    for kwargs in ({"num_epochs": 0}, {"theta": 0.0}, {"theta": float("inf")},
                   {"config": TrainConfig(keep_best=True)}, {"config": TrainConfig(patience=2)}):
        args = {"num_epochs": 1, **kwargs}
        with pytest.raises(ValueError):
            fit(net, loader, loss, args.pop("num_epochs"), sgd, **args)
    # the settings of a run are checked when the TrainConfig is built
    for kwargs in ({"check_every": 0}, {"valid_every": 0}, {"patience": 0}, {"max_seconds": 0},
                   {"max_loss": 0.0}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            TrainConfig(**kwargs)
    # a wrong type is a TypeError now (rnncourse.checks; num_epochs=1.5 was a ValueError)
    for kwargs in ({"num_epochs": 1.5}, {"num_epochs": True}, {"theta": "1"}, {"config": {"patience": 2}}):
        args = {"num_epochs": 1, **kwargs}
        with pytest.raises(TypeError):
            fit(net, loader, loss, args.pop("num_epochs"), sgd, **args)
    for kwargs in ({"keep_best": 1}, {"check_every": 2.0}, {"lr_schedule": 0.1}, {"progress": "yes"},
                   {"on_epoch_end": "print"}):
        with pytest.raises(TypeError, match=next(iter(kwargs))):
            TrainConfig(**kwargs)
    with pytest.raises(TypeError, match="batch_loss"):
        fit(net, loader, None, 1, sgd)
    with pytest.raises(TypeError, match="optimizer"):
        fit(net, loader, loss, 1, 0.1)
    with pytest.raises(TypeError, match="evaluate"):
        fit(net, loader, loss, 1, sgd, evaluate=2.0)
    with pytest.raises(ValueError, match="no minibatches in epoch 2"):
        fit(net, iter(loader), loss, 2, sgd)  # a one-shot iterator is empty in epoch 2


def test_token_counts_may_be_tensors_and_must_be_positive(task):
    net, loader, _, vocab_size = task
    batches = list(loader)[:12]
    start = {k: v.clone() for k, v in net.state_dict().items()}
    as_int = fit(net, batches, bigram_loss(net), 1, PlainSGD(net.parameters(), lr=1.0))
    net.load_state_dict(start)

    def tensor_count(batch):  # the count as a 0-d tensor, as a masked loss computes it
        loss, n = bigram_loss(net)(batch)
        return loss, torch.tensor(n)
    as_tensor = fit(net, batches, tensor_count, 1, PlainSGD(net.parameters(), lr=1.0))
    assert as_tensor["loss"] == as_int["loss"] and as_tensor["tokens"] == as_int["tokens"] == 12 * 16 * 20
    with pytest.raises(ValueError, match="token count of 0"):
        fit(net, batches, lambda batch: (bigram_loss(net)(batch)[0], 0), 1, PlainSGD(net.parameters(), lr=1.0))


def test_mode_is_restored_when_training_diverges(task):
    net, loader, _, _ = task
    net.eval()
    recorder = Recorder(net, bigram_loss(net), poison_at=2)
    modes = []

    def batch_loss(batch):
        modes.append(net.training)
        return recorder(batch)

    with pytest.raises(FloatingPointError):
        fit(net, loader, batch_loss, 1, PlainSGD(net.parameters(), lr=1.0), config=TrainConfig(check_every=1))
    assert modes == [True, True]  # trained in training mode
    assert not net.training  # and the eval mode it had is back
