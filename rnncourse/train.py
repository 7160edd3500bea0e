"""Training and evaluating RNN language models: gradient clipping, the training loop,
perplexity, and checkpoints.

One loop serves every model of the book: the scratch models and the ``torch.nn`` ones
follow the same convention (see ``rnncourse.models``)::

    logits, state = net(X, state)    # X: (batch, num_steps) token indices
                                     # logits: (num_steps * batch, vocab_size), time-major
    state = net.begin_state(batch_size, device)

so the targets are read in the same time-major order, ``Y.T.reshape(-1)``.

**Devices.** ``device=None`` means "where the net's parameters already are" (the CPU for a
fresh model); passing a device moves the net there (``Module.to``, in place). Chapters
pass ``device=try_gpu()``.

**Host syncs.** On CUDA every ``.item()`` waits for the GPU to finish. The loop keeps the
per-minibatch losses and gradient norms on the device and reads them back once per epoch;
gradient clipping scales by ``min(1, theta / norm)`` on the device instead of testing
``norm > theta`` on the host.
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .text import Vocab

__all__ = [
    "grad_clipping",
    "PlainSGD",
    "train_epoch",
    "train_lm",
    "evaluate_perplexity",
    "save_checkpoint",
    "load_checkpoint",
]

State = Any  # a tensor (num_layers * num_directions, batch, num_hiddens), or a tuple (H, C) of them


# --------------------------------------------------------------------------- clipping

def _grads(net_or_params: nn.Module | torch.Tensor | Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """The gradients of a module's parameters, or of an iterable of parameters; parameters
    without a gradient (frozen, or unused in the last backward pass) are skipped."""
    if isinstance(net_or_params, nn.Module):
        params = list(net_or_params.parameters())
    elif isinstance(net_or_params, torch.Tensor):
        params = [net_or_params]
    else:
        params = list(net_or_params)
    return [p.grad for p in params if p.grad is not None]


def _clip_grad_norm(grads: list[torch.Tensor], theta: float | None) -> torch.Tensor:
    """Clip ``grads`` in place to a global L2 norm of at most ``theta`` (``None``: leave them);
    return the norm before clipping as a 0-d tensor on the gradients' device (no host sync)."""
    if not grads:
        return torch.zeros(())
    # the global norm: the L2 norm of all gradient entries together, ||(g_1, g_2, ...)||
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if theta is not None:
        # g <- min(1, theta / ||g||) g: same direction, norm at most theta. The clamp does on the
        # device what `if norm > theta:` would do on the host (which would wait for the GPU).
        scale = torch.clamp(theta / (norm + 1e-6), max=1.0)
        for g in grads:
            g.mul_(scale)
    return norm


def _check_theta(theta: float) -> None:
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not theta > 0 or math.isinf(theta):
        raise ValueError(f"theta must be a positive finite number (the largest gradient norm allowed), got {theta!r}")


def grad_clipping(net_or_params: nn.Module | Iterable[torch.Tensor], theta: float) -> float:
    """Rescale all gradients together so that their global L2 norm is at most ``theta``.

    With g the vector of every gradient entry of every parameter,
    ``g <- min(1, theta / ||g||) * g``: the direction is kept, and nothing changes when
    ``||g|| <= theta``. Accepts a module or an iterable of parameters; parameters without
    a gradient are skipped. Returns ``||g||`` before clipping (0.0 when no parameter has a
    gradient).
    """
    _check_theta(theta)
    return float(_clip_grad_norm(_grads(net_or_params), theta))


# --------------------------------------------------------------------------- helpers

def _net_device(net: nn.Module) -> torch.device:
    for p in net.parameters():
        return p.device
    return torch.device("cpu")


def _place(net: nn.Module, device: str | torch.device | None) -> torch.device:
    """The device to run on: ``device`` (moving the net there), else where the net is."""
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
        raise ValueError(f"the model predicts {vocab_size} tokens but the vocabulary has {len(vocab)}: "
                         "build the model with vocab_size=len(vocab) of the corpus you train on")


def _targets(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Y (batch, num_steps) in the logits' time-major order: (num_steps * batch,)."""
    y = Y.T.reshape(-1)
    if logits.dim() != 2 or logits.shape[0] != y.numel():
        raise ValueError(f"the model returned logits of shape {tuple(logits.shape)} for targets of shape "
                         f"{tuple(Y.shape)}: expected (num_steps * batch, vocab_size) = ({y.numel()}, vocab_size), "
                         "time-major (row t * batch + i is step t of sequence i)")
    return y


_MAX_LOG_PERPLEXITY = math.log(torch.finfo(torch.float64).max)  # about 709.8


def _perplexity(mean_loss: float) -> float:
    """exp(mean loss), or inf where that overflows a float (a finite but huge loss)."""
    return math.exp(mean_loss) if mean_loss < _MAX_LOG_PERPLEXITY else math.inf


def _current_lr(optimizer: torch.optim.Optimizer | PlainSGD) -> float:
    return float(optimizer.param_groups[0]["lr"])


# --------------------------------------------------------------------------- plain SGD

class PlainSGD:
    """Minibatch stochastic gradient descent, ``p <- p - lr * p.grad``, as in the notes.

    It has the part of the ``torch.optim.Optimizer`` interface that the training loop uses
    (``param_groups``, ``zero_grad``, ``step``), so ``train_lm`` treats it like any optimizer.
    (``torch.optim.SGD`` computes the same update; building the first ``torch.optim``
    optimizer of a session also imports the ``torch._dynamo`` compiler, which takes seconds.)
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        self.param_groups = [{"params": list(params), "lr": lr}]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"])


# --------------------------------------------------------------------------- one epoch

def train_epoch(net: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                optimizer: torch.optim.Optimizer | PlainSGD, device: torch.device, theta: float | None = 1.0,
                use_random_iter: bool = False, epoch: int = 1, deadline: float | None = None) -> dict:
    """One pass over ``batches`` of (X, Y), both (batch, num_steps): forward, mean
    cross-entropy, backward, clipping to ``theta`` (``None``: no clipping), optimizer step.

    Random sampling (``use_random_iter=True``) starts every minibatch from
    ``net.begin_state``; sequential sampling carries the state from one minibatch to the
    next, detached, so the gradient stops at the minibatch boundary. ``deadline`` (a
    ``time.perf_counter()`` value) ends the epoch early once passed.

    Returns ``{"loss": token-weighted mean loss, "tokens": int, "steps": int,
    "grad_norm": mean norm before clipping, "seconds": float, "complete": bool}``.
    Raises ``FloatingPointError`` when a loss or gradient norm is NaN or infinite.
    """
    start = time.perf_counter()
    losses, norms, num_tokens = [], [], []  # per minibatch; losses and norms stay on the device
    state = None
    complete = True
    for X, Y in batches:
        # non_blocking: the host does not wait here for the GPU to finish the previous minibatch
        X, Y = X.to(device, non_blocking=True), Y.to(device, non_blocking=True)
        if state is None or use_random_iter:
            state = net.begin_state(X.shape[0], device)  # random sampling: unrelated to the last minibatch
        else:
            state = _detach(state)  # keep the values, but do not backpropagate into the last minibatch
        logits, state = net(X, state)  # logits: (num_steps * batch, vocab_size)
        y = _targets(logits, Y)  # (num_steps * batch,)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms.append(_clip_grad_norm(_grads(net), theta))
        optimizer.step()
        losses.append(loss.detach())
        num_tokens.append(y.numel())
        if deadline is not None and time.perf_counter() > deadline:
            complete = False
            break
    if not losses:
        raise ValueError(f"the data iterator yielded no minibatches in epoch {epoch}: pass a loader that can be "
                         "iterated once per epoch (a SeqDataLoader), not a one-shot generator, and check that "
                         "the corpus holds at least one minibatch")
    # the one host sync of the epoch
    step_losses, step_norms = torch.stack([torch.stack(losses), torch.stack(norms).to(losses[0].device)]).cpu()
    seconds = time.perf_counter() - start
    # Diverged: a NaN or infinite gradient norm, or a loss so large (or NaN) that exp(loss),
    # the perplexity, overflows. (`not x < bound` is True for NaN too.)
    for name, bad in (("loss", ~(step_losses < _MAX_LOG_PERPLEXITY)), ("gradient norm", ~torch.isfinite(step_norms))):
        if bad.any():
            step = int(bad.nonzero()[0]) + 1
            value = (step_losses if name == "loss" else step_norms)[step - 1].item()
            advice = ("turn gradient clipping on (theta=1.0)" if theta is None
                      else f"clip harder (theta={theta} now)")
            raise FloatingPointError(
                f"the {name} became {value:g} at epoch {epoch}, minibatch {step} (lr={_current_lr(optimizer):g}): "
                f"training diverged. Use a smaller learning rate or {advice}.")
    weights = torch.tensor(num_tokens, dtype=torch.float64)
    return {
        "loss": float((step_losses.double() * weights).sum() / weights.sum()),
        "tokens": int(weights.sum()),
        "steps": len(num_tokens),
        "grad_norm": float(step_norms.double().mean()),
        "seconds": seconds,
        "complete": complete,
    }


# --------------------------------------------------------------------------- evaluation

def evaluate_perplexity(net: nn.Module, data_iter: Iterable[tuple[torch.Tensor, torch.Tensor]],
                        device: str | torch.device | None = None) -> float:
    """Perplexity ``exp(mean cross-entropy per token)`` of ``net`` on ``data_iter``.

    Token-weighted over all minibatches, under ``torch.no_grad()`` and in eval mode (the
    net's mode is restored afterwards). The state is carried across minibatches for a
    sequential iterator and starts afresh for each minibatch when the iterator has
    ``use_random_iter=True``. An untrained model that guesses uniformly scores ``len(vocab)``.
    """
    device = _place(net, device)
    use_random_iter = bool(getattr(data_iter, "use_random_iter", False))
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
        raise ValueError("the data iterator yielded no minibatches: nothing to evaluate")
    return _perplexity(total_loss.item() / total_tokens)


# --------------------------------------------------------------------------- training

def _in_ipython_kernel() -> bool:
    """True inside Jupyter (an IPython kernel), False in plain scripts, pytest and terminals."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _tqdm_disabled_by_env() -> bool:
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")


def _plot_history(history: dict) -> None:
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    epochs = range(1, len(history["perplexity"]) + 1)
    ax.plot(epochs, history["perplexity"], marker="." if len(epochs) < 3 else None, label="train")
    if history.get("valid_perplexity"):
        ax.plot(history["valid_epochs"], history["valid_perplexity"], marker=".", label="valid")
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.grid(True, alpha=0.3)
    plt.show()


def train_lm(net: nn.Module, train_iter: Iterable[tuple[torch.Tensor, torch.Tensor]], vocab: Vocab,
             lr: float | None, num_epochs: int, device: str | torch.device | None = None,
             use_random_iter: bool = False, optimizer: torch.optim.Optimizer | None = None,
             theta: float | None = 1.0, valid_iter: Iterable | None = None, valid_every: int = 1,
             keep_best: bool = False, patience: int | None = None, max_seconds: float | None = None,
             lr_schedule: Callable[[int], float] | None = None,
             predict_prefix: str | Sequence[str] | None = None, predict_every: int = 10, predict_len: int = 50,
             progress: bool | None = None, plot: bool | None = None) -> dict:
    """Train a language model on minibatches of (X, Y), both (batch, num_steps).

    * **optimizer**: plain SGD (``PlainSGD``) with learning rate ``lr`` by default; or pass one (for example
      ``torch.optim.Adam(net.parameters(), lr=1e-3)``; then its own lr counts and ``lr`` may be None).
    * **clipping**: gradients are clipped to a global norm of ``theta`` (``None``: no clipping).
    * **state**: fresh from ``net.begin_state`` for every minibatch with random sampling
      (``use_random_iter=True``); carried over and detached with sequential sampling. When
      ``train_iter`` has a ``use_random_iter`` attribute (a ``SeqDataLoader``) it must agree.
    * **loss**: mean cross-entropy of the logits against ``Y.T.reshape(-1)``.
    * **device**: ``None`` trains where the net is; a device moves the net there.
    * **validation**: with ``valid_iter``, ``evaluate_perplexity`` every ``valid_every`` epochs
      (and after the last); ``keep_best=True`` restores the weights of the best validation
      perplexity at the end; ``patience=k`` stops after k evaluations without improvement.
    * **budget**: ``max_seconds`` stops training once that much wall-clock time has passed
      (mid-epoch if need be; that epoch's perplexity covers the minibatches it trained on).
    * **lr_schedule**: ``epoch -> lr`` (epochs count from 1), applied at the start of each epoch.
    * **samples**: ``predict_prefix`` (a string or several) prints ``predict_len`` greedy
      tokens every ``predict_every`` epochs and after the last; they are kept in the history.
    * **progress**: a tqdm bar over epochs; ``None`` shows it only inside Jupyter. The
      environment variable ``TQDM_DISABLE=1`` always turns it off.
    * **plot**: the perplexity curves at the end; ``None`` plots only inside Jupyter.

    Returns a history dict: ``perplexity``, ``grad_norm`` (mean norm before clipping),
    ``lr`` and ``epoch_seconds``, one entry per epoch; ``valid_perplexity`` and
    ``valid_epochs`` (with ``valid_iter``); ``tokens``, ``seconds`` (time spent training,
    validation excluded), ``tokens_per_sec``, ``wall_seconds``, ``stopped`` (None, or why
    training stopped early: ``"max_seconds"`` or ``"patience"``), ``best_epoch`` and
    ``best_valid_perplexity`` (with ``valid_iter``), ``samples``.

    Raises ``FloatingPointError`` (naming the epoch, the minibatch and the lr) when the
    loss becomes NaN or infinite.
    """
    wall_start = time.perf_counter()
    # ---- check the arguments before doing any work
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    if optimizer is None and (isinstance(lr, bool) or not isinstance(lr, (int, float))
                              or not lr > 0 or math.isinf(lr)):
        raise ValueError(f"lr must be a positive finite number for the default SGD optimizer, got {lr!r}")
    if optimizer is not None and lr is not None and lr != _current_lr(optimizer):
        raise ValueError(f"lr={lr} contradicts the optimizer's own lr={_current_lr(optimizer)}: with an optimizer, "
                         "pass lr=None (or its lr)")
    if theta is not None:
        _check_theta(theta)
    iter_random = getattr(train_iter, "use_random_iter", None)
    if iter_random is not None and bool(iter_random) != bool(use_random_iter):
        raise ValueError(
            f"train_iter samples {'randomly' if iter_random else 'sequentially'} (its use_random_iter="
            f"{iter_random}) but train_lm was called with use_random_iter={use_random_iter}: pass "
            f"use_random_iter={bool(iter_random)}, so that the hidden state is "
            f"{'reset for every minibatch' if iter_random else 'carried between minibatches'}")
    if (keep_best or patience is not None) and valid_iter is None:
        raise ValueError("keep_best and patience choose by validation perplexity: pass valid_iter")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be a positive integer (evaluations without improvement), got {patience!r}")
    if not isinstance(valid_every, int) or valid_every < 1:
        raise ValueError(f"valid_every must be a positive integer, got {valid_every!r}")
    if not isinstance(predict_every, int) or predict_every < 1:
        raise ValueError(f"predict_every must be a positive integer, got {predict_every!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, got {max_seconds!r}")
    _check_vocab(net, vocab)

    device = _place(net, device)
    if optimizer is None:
        optimizer = PlainSGD(net.parameters(), lr=lr)
    prefixes = [predict_prefix] if isinstance(predict_prefix, str) else list(predict_prefix or [])
    deadline = None if max_seconds is None else wall_start + max_seconds

    history: dict[str, Any] = {"perplexity": [], "grad_norm": [], "lr": [], "epoch_seconds": [], "samples": [],
                               "stopped": None}
    if valid_iter is not None:
        history.update(valid_perplexity=[], valid_epochs=[], best_epoch=None, best_valid_perplexity=math.inf)
    best_state, evals_since_best = None, 0
    total_tokens, train_seconds = 0, 0.0

    show_bar = (_in_ipython_kernel() if progress is None else progress) and not _tqdm_disabled_by_env()
    from tqdm import tqdm
    from .generate import predict  # imported here: generate is the consumer of trained models, not a dependency

    bar = tqdm(range(1, num_epochs + 1), desc="training", unit="epoch", disable=not show_bar, file=sys.stderr)
    say = bar.write if show_bar else print
    was_training = net.training
    net.train()
    try:
        for epoch in bar:
            if lr_schedule is not None:
                for group in optimizer.param_groups:
                    group["lr"] = float(lr_schedule(epoch))
            stats = train_epoch(net, train_iter, optimizer, device, theta=theta, use_random_iter=use_random_iter,
                                epoch=epoch, deadline=deadline)
            total_tokens += stats["tokens"]
            train_seconds += stats["seconds"]
            history["perplexity"].append(_perplexity(stats["loss"]))
            history["grad_norm"].append(stats["grad_norm"])
            history["lr"].append(_current_lr(optimizer))
            history["epoch_seconds"].append(stats["seconds"])
            out_of_time = not stats["complete"] or (deadline is not None and time.perf_counter() > deadline)
            last = epoch == num_epochs or out_of_time
            postfix = {"ppl": f"{history['perplexity'][-1]:.2f}"}

            if valid_iter is not None and (epoch % valid_every == 0 or last):
                valid_ppl = evaluate_perplexity(net, valid_iter, device)
                history["valid_perplexity"].append(valid_ppl)
                history["valid_epochs"].append(epoch)
                postfix["valid"] = f"{valid_ppl:.2f}"
                if valid_ppl < history["best_valid_perplexity"]:
                    history["best_valid_perplexity"], history["best_epoch"] = valid_ppl, epoch
                    evals_since_best = 0
                    if keep_best:
                        best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    evals_since_best += 1
                if patience is not None and evals_since_best >= patience:
                    history["stopped"] = "patience"
            bar.set_postfix(postfix)

            if prefixes and (epoch % predict_every == 0 or last or history["stopped"]):
                for prefix in prefixes:
                    text = predict(prefix, predict_len, net, vocab, device)
                    history["samples"].append({"epoch": epoch, "prefix": prefix, "text": text})
                    say(f"epoch {epoch}: {text}")
            if out_of_time and history["stopped"] is None:
                history["stopped"] = "max_seconds"
            if history["stopped"]:
                break
    finally:
        bar.close()
        net.train(was_training)

    if best_state is not None:
        net.load_state_dict(best_state)
    history["epochs"] = len(history["perplexity"])
    history["tokens"] = total_tokens
    history["seconds"] = train_seconds
    history["tokens_per_sec"] = total_tokens / train_seconds if train_seconds > 0 else math.inf
    history["wall_seconds"] = time.perf_counter() - wall_start
    if plot if plot is not None else _in_ipython_kernel():
        _plot_history(history)
    return history


# --------------------------------------------------------------------------- checkpoints

_CHECKPOINT_FORMAT = "rnncourse-checkpoint"
_PLAIN_TYPES = (str, int, float, bool, type(None), torch.Tensor)


def _check_plain(value: Any, where: str) -> None:
    """Checkpoints hold plain data only, so that ``torch.load(weights_only=True)`` can read them."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: dictionary keys must be strings or integers, got {type(key).__name__}")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN_TYPES):
        raise TypeError(f"{where} is a {type(value).__name__}: checkpoints store plain data only (dict, list, "
                        "tuple, str, int, float, bool, None, tensors), so that they load with weights_only=True")


def _model_config(net: nn.Module) -> dict:
    """What it takes to rebuild ``net``: its class and constructor arguments."""
    from . import models

    if isinstance(net, models.RNNModelScratch):
        first_cell = net.rnn.cells[0]  # every cell of the stack was built with the same cell_kwargs
        cell_kwargs = {"rnn": ("bptt", "bptt_k", "bptt_pi"), "gru": ("reset_after",), "lstm": ()}[net.cell]
        return {"class": "RNNModelScratch",
                "kwargs": {"vocab_size": net.vocab_size, "num_hiddens": net.num_hiddens, "cell": net.cell,
                           "num_layers": net.num_layers, "bidirectional": net.num_directions == 2,
                           "dropout": float(net.rnn.dropout),
                           **{name: getattr(first_cell, name) for name in cell_kwargs}}}
    if isinstance(net, models.RNNModel):
        layer = net.rnn
        layer_kwargs = {"input_size": layer.input_size, "hidden_size": layer.hidden_size,
                        "num_layers": layer.num_layers, "bias": layer.bias, "dropout": float(layer.dropout),
                        "bidirectional": layer.bidirectional}
        if isinstance(layer, nn.RNN):
            layer_kwargs["nonlinearity"] = layer.nonlinearity
        return {"class": "RNNModel", "layer": type(layer).__name__, "layer_kwargs": layer_kwargs,
                "kwargs": {"vocab_size": net.vocab_size}}
    raise TypeError(f"save_checkpoint saves the language models of rnncourse.models (RNNModelScratch, RNNModel), "
                    f"got {type(net).__name__}")


def _build_model(config: dict) -> nn.Module:
    from . import models

    if config["class"] == "RNNModelScratch":
        return models.RNNModelScratch(**config["kwargs"])
    if config["class"] == "RNNModel":
        layers = {"RNN": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}
        return models.RNNModel(layers[config["layer"]](**config["layer_kwargs"]), **config["kwargs"])
    raise ValueError(f"the checkpoint holds an unknown model class {config['class']!r}")


def save_checkpoint(path: str | os.PathLike, net: nn.Module, vocab: Vocab, **extra: Any) -> None:
    """Save a trained language model together with its vocabulary (and any plain ``extra``
    data, such as the training history) to ``path``.

    The file is a plain dict written by ``torch.save``: the model's class and constructor
    arguments, its ``state_dict`` (moved to the CPU), the vocabulary's tokens and counts,
    and ``extra``. ``load_checkpoint`` rebuilds the model from it.
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be an rnncourse.text.Vocab, got {type(vocab).__name__}")
    _check_vocab(net, vocab)
    _check_plain(extra, "extra")
    checkpoint = {
        "format": _CHECKPOINT_FORMAT,
        "version": 1,
        "model": _model_config(net),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in net.state_dict().items()},
        "vocab": {"idx_to_token": list(vocab.idx_to_token),
                  "token_freqs": [[token, count] for token, count in vocab.token_freqs]},
        "extra": extra,
    }
    torch.save(checkpoint, path)


def _vocab_from_dict(data: dict) -> Vocab:
    vocab = Vocab()  # just "<unk>"; then the saved tokens, in their saved order
    vocab.idx_to_token = list(data["idx_to_token"])
    vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
    vocab.token_freqs = [(token, int(count)) for token, count in data["token_freqs"]]
    return vocab


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None,
                    with_extra: bool = False) -> tuple:
    """Rebuild the model and vocabulary saved by ``save_checkpoint``: returns ``(net, vocab)``,
    or ``(net, vocab, extra)`` with ``with_extra=True``.

    The net is on ``device`` (default: the CPU) and in training mode, like a freshly built
    module (``predict`` and ``evaluate_perplexity`` switch to eval mode by themselves).
    Reads with ``torch.load(weights_only=True)``: a checkpoint cannot run code.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(f"{os.fspath(path)} is not an rnncourse checkpoint (written by save_checkpoint)")
    net = _build_model(checkpoint["model"])
    net.load_state_dict(checkpoint["state_dict"])
    if device is not None:
        net.to(device)
    vocab = _vocab_from_dict(checkpoint["vocab"])
    return (net, vocab, checkpoint["extra"]) if with_extra else (net, vocab)
