"""Training and evaluating RNN language models: the minibatch loss, ``train_lm``,
perplexity, and checkpoints.

Every model of the book follows the same convention (see ``rnncourse.models``)::

    logits, state = net(X, state)    # X: (batch, num_steps) token indices
                                     # logits: (num_steps * batch, vocab_size),
                                     #         time-major
    state = net.begin_state(batch_size, device)

so the targets are read in the same time-major order, ``Y.T.reshape(-1)``. The loop
itself (epochs, clipping, validation, the time budget, the divergence guard) is
``rnncourse.loop.fit``; this module supplies the language model's loss on one minibatch,
``LanguageModelLoss``, which also carries the hidden state from one minibatch to the
next.

**Devices.** ``device=None`` means "where the net's parameters already are" (the CPU for
a fresh model); passing a device moves the net there (``Module.to``, in place). Chapters
pass ``device=try_gpu()``.

**Sampling schemes.** Whether the state is carried across minibatches (sequential
partitioning) or starts afresh for each (random sampling) is read from the iterator's
``use_random_iter`` attribute (a ``SeqDataLoader`` and a ``FixedBatches`` have one). For
an iterator without it (a list, a generator) the caller must say: ``use_random_iter=``.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .loop import (PlainSGD, _check_theta, _clip_grad_norm, _current_lr, _grads,
                   _in_ipython_kernel, fit, fit_epoch, grad_clipping, plot_history, say)
from .text import Vocab

__all__ = [
    "grad_clipping",
    "PlainSGD",
    "LanguageModelLoss",
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
_ = (_grads, _clip_grad_norm)


# --------------------------------------------------------------------------- helpers

def _net_device(net: nn.Module) -> torch.device:
    for p in net.parameters():
        return p.device
    return torch.device("cpu")


def _place(net: nn.Module, device: str | torch.device | None) -> torch.device:
    """The device to run on: ``device`` (moving the net there), else where the net
    is."""
    if device is None:
        return _net_device(net)
    device = torch.device(device)
    net.to(device)
    return device


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
    if use_random_iter is not None and not isinstance(use_random_iter, bool):
        raise TypeError(f"{parameter} must be True, False or None, got "
                        f"{use_random_iter!r}")
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


# ------------------------------------------------------------------- the minibatch loss

class LanguageModelLoss:
    """The language model's loss on one minibatch, for ``rnncourse.loop.fit``.

    ``loss, num_tokens = lm_loss((X, Y))`` with X, Y (batch, num_steps): the mean
    cross-entropy of ``net(X, state)``'s logits (num_steps * batch, vocab_size) against
    ``Y.T.reshape(-1)``, and ``num_tokens = batch * num_steps``. Random sampling
    (``use_random_iter=True``) starts every minibatch from ``net.begin_state``;
    sequential sampling carries the state from one minibatch to the next, detached, so
    the gradient stops at the minibatch boundary. ``reset()`` (at the start of each
    epoch) forgets it.
    """

    def __init__(self, net: nn.Module, device: torch.device,
                 use_random_iter: bool) -> None:
        self.net, self.device, self.use_random_iter = net, device, use_random_iter
        self.state: State = None

    def reset(self) -> None:
        self.state = None

    def __call__(self,
                 batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, int]:
        X, Y = batch
        # non_blocking: the host does not wait here for the GPU to finish the previous
        # minibatch
        X, Y = (X.to(self.device, non_blocking=True),
                Y.to(self.device, non_blocking=True))
        if self.state is None or self.use_random_iter:
            # random: unrelated to the last minibatch
            state = self.net.begin_state(X.shape[0], self.device)
        else:
            # keep the values, but do not backpropagate into the last minibatch
            state = _detach(self.state)
        # logits: (num_steps * batch, vocab_size)
        logits, self.state = self.net(X, state)
        y = _targets(logits, Y)  # (num_steps * batch,)
        return F.cross_entropy(logits, y), y.numel()


def train_epoch(net: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                optimizer: torch.optim.Optimizer | PlainSGD, device: torch.device,
                theta: float | None = 1.0, use_random_iter: bool = False,
                epoch: int = 1, deadline: float | None = None) -> dict:
    """One pass of language-model training over ``batches`` of (X, Y), both (batch,
    num_steps): ``rnncourse.loop.fit_epoch`` with the loss of ``LanguageModelLoss`` (a
    fresh state to start with). Returns
    ``{"loss", "tokens", "steps", "grad_norm", "seconds", "complete"}``; raises
    ``FloatingPointError`` when the loss overflows or a gradient norm is not finite.
    """
    lm_loss = LanguageModelLoss(net, torch.device(device), use_random_iter)
    return fit_epoch(net, batches, lm_loss, optimizer, theta=theta, epoch=epoch,
                     deadline=deadline, max_loss=_MAX_LOG_PERPLEXITY)


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
    device = _place(net, device)
    was_training = net.training
    net.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    total_tokens = 0
    state = None
    try:
        with torch.no_grad():
            for X, Y in data_iter:
                X, Y = X.to(device, non_blocking=True), Y.to(device, non_blocking=True)
                if state is None or use_random_iter:
                    state = net.begin_state(X.shape[0], device)
                logits, state = net(X, state)
                y = _targets(logits, Y)
                total_loss += F.cross_entropy(logits, y, reduction="sum")
                total_tokens += y.numel()
    finally:
        net.train(was_training)
    if total_tokens == 0:
        raise ValueError("the data iterator yielded no minibatches: nothing to "
                         "evaluate")
    return _perplexity(total_loss.item() / total_tokens)


# --------------------------------------------------------------------------- training

def train_lm(net: nn.Module, train_iter: Iterable[tuple[torch.Tensor, torch.Tensor]],
             vocab: Vocab, lr: float | None, num_epochs: int,
             device: str | torch.device | None = None,
             use_random_iter: bool | None = None,
             optimizer: torch.optim.Optimizer | None = None, theta: float | None = 1.0,
             valid_iter: Iterable | None = None, valid_every: int = 1,
             keep_best: bool = False, patience: int | None = None,
             max_seconds: float | None = None,
             lr_schedule: Callable[[int], float] | None = None,
             predict_prefix: str | Sequence[str] | None = None, predict_every: int = 10,
             predict_len: int = 50, progress: bool | None = None,
             plot: bool | None = None) -> dict:
    """Train a language model on minibatches of (X, Y), both (batch, num_steps).

    ``rnncourse.loop.fit`` with the loss of ``LanguageModelLoss``:

    * **optimizer**: plain SGD (``PlainSGD``) with learning rate ``lr`` by default; or
      pass one (for example ``torch.optim.Adam(net.parameters(), lr=1e-3)``; then its
      own lr counts and ``lr`` may be None).
    * **clipping**: gradients are clipped to a global norm of ``theta`` (``None``: no
      clipping).
    * **state**: fresh from ``net.begin_state`` for every minibatch with random
      sampling; carried over and detached with sequential sampling. The scheme is read
      from ``train_iter.use_random_iter`` (a ``SeqDataLoader``); ``use_random_iter``
      must agree with it, and is required for an iterator without that attribute.
    * **loss**: mean cross-entropy of the logits against ``Y.T.reshape(-1)``.
    * **device**: ``None`` trains where the net is; a device moves the net there.
    * **validation**: with ``valid_iter`` (a ``SeqDataLoader`` or a ``FixedBatches``,
      whose sampling scheme can be read), ``evaluate_perplexity`` every ``valid_every``
      epochs (and after the last); ``keep_best=True`` restores the weights of the best
      validation perplexity at the end; ``patience=k`` stops after k evaluations without
      improvement.
    * **budget**: ``max_seconds`` stops training once that much wall-clock time has
      passed (mid-epoch if need be; that epoch's perplexity covers the minibatches it
      trained on).
    * **lr_schedule**: ``epoch -> lr`` (epochs count from 1), applied at the start of
      each epoch.
    * **samples**: ``predict_prefix`` (a string or several) prints ``predict_len``
      greedy tokens every ``predict_every`` epochs and after the last; they are kept in
      the history.
    * **progress**: a tqdm bar over epochs; ``None`` shows it only inside Jupyter. The
      environment variable ``TQDM_DISABLE=1`` always turns it off.
    * **plot**: the perplexity curves at the end; ``None`` plots only inside Jupyter.

    Returns a history dict: ``perplexity``, ``grad_norm`` (mean norm before clipping),
    ``lr`` and ``epoch_seconds``, one entry per epoch; ``valid_perplexity`` and
    ``valid_epochs`` (with ``valid_iter``); ``tokens``, ``seconds`` (time spent
    training, validation excluded), ``tokens_per_sec``, ``wall_seconds``, ``stopped``
    (None, or why training stopped early: ``"max_seconds"`` or ``"patience"``),
    ``best_epoch`` and ``best_valid_perplexity`` (with ``valid_iter``), ``samples``.

    Raises ``FloatingPointError`` (naming the epoch, the minibatch and the lr) when the
    loss becomes NaN, infinite or so large that the perplexity overflows, at most 10
    minibatches later; the net is left with the weights of the last check that found
    them finite.
    """
    wall_start = time.perf_counter()
    # ---- check the arguments before doing any work
    if (isinstance(num_epochs, bool) or not isinstance(num_epochs, int)
            or num_epochs < 1):
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    if optimizer is None and (isinstance(lr, bool) or not isinstance(lr, (int, float))
                              or not lr > 0 or math.isinf(lr)):
        raise ValueError("lr must be a positive finite number for the default SGD "
                         f"optimizer, got {lr!r}")
    if optimizer is not None and lr is not None and lr != _current_lr(optimizer):
        raise ValueError(f"lr={lr} contradicts the optimizer's own "
                         f"lr={_current_lr(optimizer)}: with an optimizer, pass "
                         "lr=None (or its lr)")
    if theta is not None:
        _check_theta(theta)
    use_random_iter = _sampling_scheme(train_iter, use_random_iter, "train_iter",
                                       "use_random_iter")
    if (keep_best or patience is not None) and valid_iter is None:
        raise ValueError("keep_best and patience choose by validation perplexity: pass "
                         "valid_iter")
    valid_random = None
    if valid_iter is not None:
        if getattr(valid_iter, "use_random_iter", None) is None:
            raise ValueError("cannot tell how valid_iter was sampled: it has no "
                             "use_random_iter attribute. Pass a SeqDataLoader, or "
                             "fixed minibatches as FixedBatches(batches, "
                             "use_random_iter=False) (sequential: the state is carried "
                             "across them) or use_random_iter=True")
        valid_random = bool(valid_iter.use_random_iter)
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError("patience must be a positive integer (evaluations without "
                         f"improvement), got {patience!r}")
    if not isinstance(valid_every, int) or valid_every < 1:
        raise ValueError(f"valid_every must be a positive integer, got {valid_every!r}")
    if not isinstance(predict_every, int) or predict_every < 1:
        raise ValueError("predict_every must be a positive integer, got "
                         f"{predict_every!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds!r}")
    _check_vocab(net, vocab)

    device = _place(net, device)
    if optimizer is None:
        optimizer = PlainSGD(net.parameters(), lr=lr)
    prefixes = ([predict_prefix] if isinstance(predict_prefix, str)
                else list(predict_prefix or []))
    # imported here: generate is the consumer of trained models, not a dependency
    from .generate import predict

    lm_loss = LanguageModelLoss(net, device, use_random_iter)
    samples: list[dict] = []

    def validation_perplexity() -> float:
        return evaluate_perplexity(net, valid_iter, device,
                                   use_random_iter=valid_random)

    def print_samples(epoch: int, history: dict) -> None:
        last = epoch == num_epochs or history["stopped"] is not None
        if prefixes and (epoch % predict_every == 0 or last):
            for prefix in prefixes:
                text = predict(prefix, predict_len, net, vocab, device)
                samples.append({"epoch": epoch, "prefix": prefix, "text": text})
                say(f"epoch {epoch}: {text}")

    def bar_postfix(history: dict) -> dict:
        postfix = {"ppl": f"{_perplexity(history['loss'][-1]):.2f}"}
        if (history.get("valid_epochs")
                and history["valid_epochs"][-1] == len(history["loss"])):
            postfix["valid"] = f"{history['valid'][-1]:.2f}"
        return postfix

    # the budget counts from the call, as the checks and the move to the device take
    # time too
    budget = (None if max_seconds is None
              else max(max_seconds - (time.perf_counter() - wall_start), 1e-12))
    fitted = fit(net, train_iter, lm_loss, num_epochs, optimizer, theta=theta,
                 evaluate=validation_perplexity if valid_iter is not None else None,
                 valid_every=valid_every, keep_best=keep_best, patience=patience,
                 max_seconds=budget, lr_schedule=lr_schedule,
                 on_epoch_start=lambda epoch: lm_loss.reset(),
                 on_epoch_end=print_samples, progress=progress, desc="training",
                 max_loss=_MAX_LOG_PERPLEXITY, postfix=bar_postfix)

    history: dict[str, Any] = {"perplexity": [_perplexity(loss)
                                              for loss in fitted["loss"]],
                               "grad_norm": fitted["grad_norm"], "lr": fitted["lr"],
                               "epoch_seconds": fitted["epoch_seconds"],
                               "samples": samples,
                               "stopped": fitted["stopped"]}
    if valid_iter is not None:
        history.update(valid_perplexity=fitted["valid"],
                       valid_epochs=fitted["valid_epochs"],
                       best_epoch=fitted["best_epoch"],
                       best_valid_perplexity=fitted["best_valid"])
    for key in ("epochs", "tokens", "seconds", "tokens_per_sec"):
        history[key] = fitted[key]
    history["wall_seconds"] = time.perf_counter() - wall_start
    if plot if plot is not None else _in_ipython_kernel():
        plot_history(history, metric="perplexity", ylabel="perplexity")
    return history


# -------------------------------------------------------------------------- checkpoints

_CHECKPOINT_FORMAT = "rnncourse-checkpoint"
_PLAIN_TYPES = (str, int, float, bool, type(None), torch.Tensor)


def _check_plain(value: Any, where: str) -> None:
    """Checkpoints hold plain data only, so that ``torch.load(weights_only=True)`` can
    read them."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: dictionary keys must be strings or "
                                f"integers, got {type(key).__name__}")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN_TYPES):
        raise TypeError(f"{where} is a {type(value).__name__}: checkpoints store plain "
                        "data only (dict, list, tuple, str, int, float, bool, None, "
                        "tensors), so that they load with weights_only=True")


def _model_config(net: nn.Module) -> dict:
    """What it takes to rebuild ``net``: its class and constructor arguments."""
    from . import models

    if isinstance(net, models.RNNModelScratch):
        # every cell of the stack was built with the same cell_kwargs
        first_cell = net.rnn.cells[0]
        cell_kwargs = {"rnn": ("bptt", "bptt_k", "bptt_pi"), "gru": ("reset_after",),
                       "lstm": ()}[net.cell]
        return {"class": "RNNModelScratch",
                "kwargs": {"vocab_size": net.vocab_size, "num_hiddens": net.num_hiddens,
                           "cell": net.cell, "num_layers": net.num_layers,
                           "bidirectional": net.num_directions == 2,
                           "dropout": float(net.rnn.dropout),
                           **{name: getattr(first_cell, name) for name in cell_kwargs}}}
    if isinstance(net, models.RNNModel):
        layer = net.rnn
        layer_kwargs = {"input_size": layer.input_size,
                        "hidden_size": layer.hidden_size,
                        "num_layers": layer.num_layers, "bias": layer.bias,
                        "dropout": float(layer.dropout),
                        "bidirectional": layer.bidirectional}
        if isinstance(layer, nn.RNN):
            layer_kwargs["nonlinearity"] = layer.nonlinearity
        return {"class": "RNNModel", "layer": type(layer).__name__,
                "layer_kwargs": layer_kwargs, "kwargs": {"vocab_size": net.vocab_size}}
    raise TypeError("save_checkpoint saves the language models of rnncourse.models "
                    f"(RNNModelScratch, RNNModel), got {type(net).__name__}")


def _build_model(config: dict) -> nn.Module:
    from . import models

    if config["class"] == "RNNModelScratch":
        return models.RNNModelScratch(**config["kwargs"])
    if config["class"] == "RNNModel":
        layers = {"RNN": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}
        return models.RNNModel(layers[config["layer"]](**config["layer_kwargs"]),
                               **config["kwargs"])
    raise ValueError(f"the checkpoint holds an unknown model class {config['class']!r}")


def save_checkpoint(path: str | os.PathLike, net: nn.Module, vocab: Vocab,
                    **extra: Any) -> None:
    """Save a trained language model together with its vocabulary (and any plain
    ``extra`` data, such as the training history) to ``path``.

    The file is a plain dict written by ``torch.save``: the model's class and
    constructor arguments, its ``state_dict`` (moved to the CPU), the vocabulary's
    tokens and counts, and ``extra``. ``load_checkpoint`` rebuilds the model from it.
    """
    if not isinstance(vocab, Vocab):
        raise TypeError("vocab must be an rnncourse.text.Vocab, got "
                        f"{type(vocab).__name__}")
    _check_vocab(net, vocab)
    _check_plain(extra, "extra")
    checkpoint = {
        "format": _CHECKPOINT_FORMAT,
        "version": 1,
        "model": _model_config(net),
        "state_dict": {name: tensor.detach().cpu()
                       for name, tensor in net.state_dict().items()},
        "vocab": {"idx_to_token": list(vocab.idx_to_token),
                  "token_freqs": [[token, count]
                                  for token, count in vocab.token_freqs]},
        "extra": extra,
    }
    torch.save(checkpoint, path)


def _vocab_from_dict(data: dict) -> Vocab:
    vocab = Vocab()  # just "<unk>"; then the saved tokens, in their saved order
    vocab.idx_to_token = list(data["idx_to_token"])
    vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
    vocab.token_freqs = [(token, int(count)) for token, count in data["token_freqs"]]
    return vocab


class CheckpointError(ValueError):
    """A file that is not a readable rnncourse checkpoint (empty, truncated, not written
    by ``torch.save``, or not by ``save_checkpoint``); the message names the file and
    says why."""


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def _describe(error: Exception) -> str:
    """``"Type: first line of the message"``, short enough for a one-line error."""
    lines = str(error).strip().splitlines()
    return (f"{type(error).__name__}: {lines[0][:200]}" if lines
            else type(error).__name__)


def _read_checkpoint(path: str) -> dict:
    """The dict that ``save_checkpoint`` wrote to ``path``, or ``CheckpointError``
    saying why not."""
    def bad(reason: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a readable rnncourse checkpoint: "
                               f"{reason}")

    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint file {path}: no such file or directory")
    if os.path.isdir(path):
        raise bad("it is a directory, not a file written by save_checkpoint")
    with open(path, "rb") as file:
        head = file.read(len(_ZIP_MAGIC))
    if not head:
        raise bad("the file is empty (0 bytes)")
    if head != _ZIP_MAGIC:
        raise bad(f"it was not written by torch.save (it starts with {head!r}, not a "
                  f"zip archive's {_ZIP_MAGIC!r})")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    # torch raises RuntimeError, OSError, EOFError, UnpicklingError... for bad files
    except Exception as error:
        raise bad("torch.load cannot read it; it may be truncated or damaged "
                  f"({_describe(error)})") from error
    if (not isinstance(checkpoint, dict)
            or checkpoint.get("format") != _CHECKPOINT_FORMAT):
        raise bad("it is a torch.save file, but not one written by save_checkpoint (no "
                  f"'format': {_CHECKPOINT_FORMAT!r} entry)")
    missing = [key for key in ("model", "state_dict", "vocab", "extra")
               if key not in checkpoint]
    if missing:
        raise bad(f"it lacks the entries {missing}")
    return checkpoint


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None,
                    with_extra: bool = False) -> tuple:
    """Rebuild the model and vocabulary saved by ``save_checkpoint``: returns
    ``(net, vocab)``, or ``(net, vocab, extra)`` with ``with_extra=True``.

    The net is on ``device`` (default: the CPU) and in training mode, like a freshly
    built module (``predict`` and ``evaluate_perplexity`` switch to eval mode by
    themselves). Reads with ``torch.load(weights_only=True)``: a checkpoint cannot run
    code.

    Raises ``FileNotFoundError`` for a missing file and ``CheckpointError`` (a
    ``ValueError``) naming the file for one that is not a readable checkpoint: empty,
    truncated, not written by ``torch.save``, or not by ``save_checkpoint``.
    """
    path = os.fspath(path)
    checkpoint = _read_checkpoint(path)
    try:
        net = _build_model(checkpoint["model"])
        net.load_state_dict(checkpoint["state_dict"])
        vocab = _vocab_from_dict(checkpoint["vocab"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a readable rnncourse checkpoint: its "
                              "model or vocabulary entry is damaged "
                              f"({_describe(error)})") from error
    if device is not None:
        net.to(device)
    return (net, vocab, checkpoint["extra"]) if with_extra else (net, vocab)
