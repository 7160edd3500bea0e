"""Training and evaluating RNN language models: ``train_epoch`` (the epoch chapter 5
shows), ``train_lm`` (every language model of the book trains with it), perplexity.

Every model of the book follows the same convention (see ``rnncourse.models``)::

    logits, state = net(X, state)    # X: (batch, num_steps) token indices
                                     # logits: (num_steps * batch, vocab_size),
                                     #         time-major
    state = net.begin_state(batch_size, device)

so the targets are read in the same time-major order, ``Y.T.reshape(-1)``.
``train_epoch`` is the whole epoch: forward, loss, backward, clipping, step, and the
state. What a reader is not taught there (the epoch's statistics, the time budget, the
guard against divergence) is the ``Monitor`` of ``rnncourse.loop`` that it reports each
step to; the epochs around it (validation, early stopping, the lr schedule, the
progress bar, the history) are ``rnncourse.loop.run_epochs``, shared with ``fit``.

**Devices.** ``device=None`` means "where the net's parameters already are" (the CPU for
a fresh model); passing a device moves the net there (``Module.to``, in place). Chapters
pass ``device=try_gpu()``.

**Sampling schemes.** Whether the state is carried across minibatches (sequential
partitioning) or starts afresh for each (random sampling) is read from the iterator's
``use_random_iter`` attribute (a ``SeqDataLoader`` and a ``FixedBatches`` have one).
Wrap minibatches from elsewhere as ``FixedBatches(batches, use_random_iter=...)``;
``evaluate_perplexity`` also takes ``use_random_iter=``.

Checkpoints (``save_checkpoint``, ``load_checkpoint``, ``CheckpointError``) live in
``rnncourse.checkpoint``; they are imported here too, where the CLI and the chapters
look for them.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .checks import check_bool, check_positive, check_positive_int, check_type
from .loop import (Monitor, PlainSGD, TrainConfig, _check_optimizer, _clip_grad_norm,
                   _current_lr, _epoch_postfix, _grads, grad_clipping, plot_history,
                   run_epochs, say, show_plot)
from .text import Vocab
from .utils import device_of, evaluating, place

__all__ = [
    "grad_clipping",
    "PlainSGD",
    "TrainConfig",
    "SamplePrinter",
    "FixedBatches",
    "train_epoch",
    "train_lm",
    "evaluate_perplexity",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
]

# a tensor (num_layers * num_directions, batch, num_hiddens), or a tuple (H, C) of them
State = Any

# grad_clipping, PlainSGD and _clip_grad_norm live in rnncourse.loop (every task clips
# the same way); they are imported here too, where the chapters on language models look
# for them.


# --------------------------------------------------------------------------- helpers

def _detach(state: State) -> State:
    """The same state values, cut from the graph of the minibatch that produced them."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(_detach(s) for s in state)


def _check_vocab(net: nn.Module, vocab: Vocab) -> None:
    vocab_size = getattr(net, "vocab_size", None)
    if vocab_size is not None and vocab_size != len(vocab):
        raise ValueError(f"the model predicts {vocab_size} tokens but the vocabulary "
                         f"has {len(vocab)}: build the model with "
                         "vocab_size=len(vocab) of the corpus you train on")


def _targets(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Y (batch, num_steps) in the logits' time-major order: (num_steps * batch,)."""
    y = Y.T.reshape(-1)
    if logits.dim() != 2 or logits.shape[0] != y.numel():
        raise ValueError(f"the model returned logits of shape {tuple(logits.shape)} "
                         f"for targets of shape {tuple(Y.shape)}: expected (num_steps "
                         f"* batch, vocab_size) = ({y.numel()}, vocab_size), "
                         "time-major (row t * batch + i is step t of sequence i)")
    return y


_MAX_LOG_PERPLEXITY = math.log(torch.finfo(torch.float64).max)  # about 709.8


def _perplexity(mean_loss: float) -> float:
    """exp(mean loss), or inf where that overflows a float (a finite but huge loss)."""
    return math.exp(mean_loss) if mean_loss < _MAX_LOG_PERPLEXITY else math.inf


def _sampling_scheme(data_iter: Any, use_random_iter: bool | None, name: str,
                     parameter: str) -> bool:
    """Random (True) or sequential (False) sampling: read from
    ``data_iter.use_random_iter``, else taken from ``use_random_iter``, which must then
    be given; the two must agree."""
    check_bool(parameter, use_random_iter, allow_none=True)
    readable = getattr(data_iter, "use_random_iter", None)
    if readable is None:
        if use_random_iter is None:
            raise ValueError(
                f"cannot tell how {name} was sampled: it has no use_random_iter "
                "attribute (as a SeqDataLoader or a FixedBatches has). Pass "
                f"{parameter}=False for sequential minibatches (the hidden state is "
                f"carried from one minibatch to the next) or {parameter}=True for "
                "random ones (a fresh state for every minibatch)")
        return use_random_iter
    if use_random_iter is not None and use_random_iter != bool(readable):
        raise ValueError(
            f"{name} samples {'randomly' if readable else 'sequentially'} (its "
            f"use_random_iter={readable}) but {parameter}={use_random_iter} was "
            f"passed: pass {parameter}={bool(readable)} (or leave it out), so that the "
            "hidden state is " + ("reset for every minibatch" if readable
                                  else "carried between minibatches"))
    return bool(readable)


class FixedBatches(list):
    """A fixed list of minibatches (X, Y) that remembers how they were sampled.

    ``FixedBatches(SeqDataLoader(valid, batch_size, num_steps))`` reads the loader once
    (so every evaluation sees the same minibatches) and keeps its ``use_random_iter``;
    for minibatches from elsewhere pass ``use_random_iter`` yourself. ``train_lm`` and
    ``evaluate_perplexity`` read it, so that they neither carry the state across
    unrelated minibatches nor drop it between consecutive ones.
    """

    def __init__(self, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                 use_random_iter: bool | None = None) -> None:
        self.use_random_iter = _sampling_scheme(batches, use_random_iter, "batches",
                                                "use_random_iter")
        super().__init__(batches)


# --------------------------------------------------------------------------- one epoch

def train_epoch(net: nn.Module, train_iter: Iterable[tuple[torch.Tensor, torch.Tensor]],
                optimizer: torch.optim.Optimizer | PlainSGD, device: torch.device,
                theta: float | None = 1.0, use_random_iter: bool = False,
                monitor: Monitor | None = None) -> dict:
    """One epoch of language-model training; returns the monitor's statistics."""
    if monitor is None:  # statistics, time budget, divergence guard: rnncourse.loop
        monitor = Monitor(net, optimizer, theta, max_loss=_MAX_LOG_PERPLEXITY)
    state = None
    for X, Y in train_iter:  # X, Y: (batch, num_steps) token indices
        X, Y = X.to(device, non_blocking=True), Y.to(device, non_blocking=True)
        if state is None or use_random_iter:
            # this minibatch does not continue the last one: a fresh state
            state = net.begin_state(X.shape[0], device)
        else:
            # it does: keep the values, but stop the gradient at the boundary
            state = _detach(state)
        logits, state = net(X, state)  # logits: (num_steps * batch, vocab_size)
        y = _targets(logits, Y)  # Y.T.reshape(-1): (num_steps * batch,), time-major
        loss = F.cross_entropy(logits, y)  # the mean over num_steps * batch tokens
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = _clip_grad_norm(_grads(net), theta)  # 0-d, before clipping
        optimizer.step()
        if monitor.step(loss, grad_norm, y.numel()):  # True: the time is up
            break
    return monitor.end_epoch()


# --------------------------------------------------------------------------- evaluation

def evaluate_perplexity(net: nn.Module,
                        data_iter: Iterable[tuple[torch.Tensor, torch.Tensor]],
                        device: str | torch.device | None = None,
                        use_random_iter: bool | None = None) -> float:
    """Perplexity ``exp(mean cross-entropy per token)`` of ``net`` on ``data_iter``.

    Token-weighted over all minibatches, under ``torch.no_grad()`` and in eval mode (the
    net's mode is restored afterwards). The state is carried across minibatches of a
    sequential iterator and starts afresh for each minibatch of a random one. The scheme
    is read from ``data_iter.use_random_iter`` (a ``SeqDataLoader``, a
    ``FixedBatches``); an iterator without it needs ``use_random_iter=``. An untrained
    model that guesses uniformly scores ``len(vocab)``.
    """
    use_random_iter = _sampling_scheme(data_iter, use_random_iter, "data_iter",
                                       "use_random_iter")
    device = place(net, device)
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    total_tokens = 0
    state = None
    with evaluating(net):
        for X, Y in data_iter:
            X, Y = X.to(device, non_blocking=True), Y.to(device, non_blocking=True)
            if state is None or use_random_iter:
                state = net.begin_state(X.shape[0], device)
            logits, state = net(X, state)
            y = _targets(logits, Y)
            total_loss += F.cross_entropy(logits, y, reduction="sum")
            total_tokens += y.numel()
    if total_tokens == 0:
        raise ValueError("the data iterator yielded no minibatches: nothing to "
                         "evaluate")
    return _perplexity(total_loss.item() / total_tokens)


# --------------------------------------------------------------------------- training

def _readable_scheme(data_iter: Any, name: str) -> bool:
    """``data_iter.use_random_iter``, which ``train_lm`` needs to be there."""
    readable = getattr(data_iter, "use_random_iter", None)
    if readable is None:
        raise ValueError(f"cannot tell how {name} was sampled: it has no "
                         "use_random_iter attribute. Pass a SeqDataLoader, or fixed "
                         "minibatches as FixedBatches(batches, use_random_iter=False) "
                         "(sequential: the state is carried across them) or "
                         "use_random_iter=True (a fresh state for every minibatch)")
    return bool(readable)


def _check_args(net: nn.Module, train_iter: Any, vocab: Vocab, lr: Any,
                num_epochs: Any, theta: Any, valid_iter: Any, optimizer: Any,
                config: Any) -> None:
    """``train_lm``'s arguments, checked once before any work."""
    check_positive_int("num_epochs", num_epochs)
    if optimizer is None:
        check_positive("lr", lr)
    else:
        _check_optimizer(optimizer)
    if optimizer is not None and lr is not None and lr != _current_lr(optimizer):
        raise ValueError(f"lr={lr} contradicts the optimizer's own "
                         f"lr={_current_lr(optimizer)}: with an optimizer, pass "
                         "lr=None (or its lr)")
    check_positive("theta", theta, allow_none=True)
    check_type("config", config, TrainConfig)
    _readable_scheme(train_iter, "train_iter")
    if valid_iter is not None:
        _readable_scheme(valid_iter, "valid_iter")
    elif config.keep_best or config.patience is not None:
        raise ValueError("keep_best and patience choose by validation perplexity: pass "
                         "valid_iter")
    _check_vocab(net, vocab)


class SamplePrinter:
    """``on_epoch_end`` that prints greedy samples while a language model trains:
    ``predict(prefix, length, net, vocab)`` for each of ``prefixes`` every ``every``
    epochs, after epoch ``num_epochs`` (when given) and when training stops early. The
    samples are kept in ``self.samples`` as dicts ``{"epoch", "prefix", "text"}``.

    ``train_lm(..., config=TrainConfig(on_epoch_end=SamplePrinter(net, vocab,
    ["time "])))``
    """

    def __init__(self, net: nn.Module, vocab: Vocab, prefixes: str | Sequence[str],
                 every: int = 10, length: int = 50,
                 num_epochs: int | None = None) -> None:
        check_type("prefixes", prefixes, (str, list, tuple))
        self.prefixes = [prefixes] if isinstance(prefixes, str) else list(prefixes)
        self.every = check_positive_int("every", every)
        self.length = check_positive_int("length", length)
        self.num_epochs = check_positive_int("num_epochs", num_epochs, allow_none=True)
        self.net, self.vocab = net, vocab
        self.samples: list[dict] = []

    def __call__(self, epoch: int, history: dict) -> None:
        # imported here: generate is the consumer of trained models, not a dependency
        from .generate import predict

        if (epoch % self.every == 0 or epoch == self.num_epochs
                or history["stopped"] is not None):
            for prefix in self.prefixes:
                text = predict(prefix, self.length, self.net, self.vocab,
                               device_of(self.net))
                self.samples.append({"epoch": epoch, "prefix": prefix, "text": text})
                say(f"epoch {epoch}: {text}")


def train_lm(net: nn.Module, train_iter: Iterable[tuple[torch.Tensor, torch.Tensor]],
             vocab: Vocab, lr: float | None, num_epochs: int,
             device: str | torch.device | None = None, *, theta: float | None = 1.0,
             valid_iter: Iterable | None = None,
             optimizer: torch.optim.Optimizer | None = None,
             config: TrainConfig | None = None) -> dict:
    """Train a language model on minibatches of (X, Y), both (batch, num_steps):
    ``train_epoch`` once per epoch.

    * **optimizer**: plain SGD (``PlainSGD``) with learning rate ``lr`` by default; or
      pass one (for example ``torch.optim.Adam(net.parameters(), lr=1e-3)``; then its
      own lr counts and ``lr`` may be None).
    * **clipping**: gradients are clipped to a global norm of ``theta`` (``None``: no
      clipping).
    * **state**: fresh from ``net.begin_state`` for every minibatch with random
      sampling; carried over and detached with sequential sampling. The scheme is read
      from ``train_iter.use_random_iter`` (a ``SeqDataLoader`` or a ``FixedBatches``).
    * **device**: ``None`` trains where the net is; a device moves the net there.
    * **validation**: with ``valid_iter`` (a ``SeqDataLoader`` or a ``FixedBatches``),
      ``evaluate_perplexity`` every ``config.valid_every`` epochs (and after the last).
    * **config**: a ``TrainConfig``: ``keep_best``, ``patience``, ``max_seconds`` (from
      the call; stops mid-epoch if need be, and that epoch's perplexity covers the
      minibatches it trained on), ``lr_schedule``, ``progress``, ``plot``,
      ``on_epoch_end`` (e.g. a ``SamplePrinter``: samples of text as training goes).

    Returns a history dict: ``perplexity``, ``grad_norm`` (mean norm before clipping),
    ``lr`` and ``epoch_seconds``, one entry per epoch; ``valid_perplexity`` and
    ``valid_epochs`` (with ``valid_iter``); ``tokens``, ``seconds`` (time spent
    training, validation excluded), ``tokens_per_sec``, ``wall_seconds``, ``stopped``
    (None, or why training stopped early: ``"max_seconds"`` or ``"patience"``),
    ``best_epoch`` and ``best_valid_perplexity`` (with ``valid_iter``).

    Raises ``FloatingPointError`` (naming the epoch, the minibatch and the lr) when the
    loss becomes NaN, infinite or so large that the perplexity overflows, at most
    ``config.check_every`` minibatches later; the net is left with the weights of the
    last check that found them finite.
    """
    wall_start = time.perf_counter()
    config = TrainConfig() if config is None else config
    _check_args(net, train_iter, vocab, lr, num_epochs, theta, valid_iter, optimizer,
                config)
    use_random_iter = bool(train_iter.use_random_iter)
    device = place(net, device)
    if optimizer is None:
        optimizer = PlainSGD(net.parameters(), lr=lr)

    def validation_perplexity() -> float:
        return evaluate_perplexity(net, valid_iter, device)

    def one_epoch(monitor: Monitor) -> dict:
        return train_epoch(net, train_iter, optimizer, device, theta, use_random_iter,
                           monitor)

    # the budget counts from the call, as the checks and the move to the device take
    # time too
    budget = (None if config.max_seconds is None else
              max(config.max_seconds - (time.perf_counter() - wall_start), 1e-12))
    run = dataclasses.replace(config, max_seconds=budget,
                              max_loss=min(config.max_loss, _MAX_LOG_PERPLEXITY))
    fitted = run_epochs(net, one_epoch, num_epochs, optimizer, theta,
                        validation_perplexity if valid_iter is not None else None, run,
                        postfix=functools.partial(_epoch_postfix, name="ppl",
                                                  fmt=".2f", transform=_perplexity))

    history: dict[str, Any] = {"perplexity": [_perplexity(loss)
                                              for loss in fitted["loss"]],
                               "grad_norm": fitted["grad_norm"], "lr": fitted["lr"],
                               "epoch_seconds": fitted["epoch_seconds"],
                               "stopped": fitted["stopped"]}
    if valid_iter is not None:
        history.update(valid_perplexity=fitted["valid"],
                       valid_epochs=fitted["valid_epochs"],
                       best_epoch=fitted["best_epoch"],
                       best_valid_perplexity=fitted["best_valid"])
    for key in ("epochs", "tokens", "seconds", "tokens_per_sec"):
        history[key] = fitted[key]
    history["wall_seconds"] = time.perf_counter() - wall_start
    if show_plot(config.plot):
        plot_history(history, metric="perplexity", ylabel="perplexity")
    return history
