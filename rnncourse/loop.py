"""The training loop of the book's generic tasks, and what every training run shares.

    def batch_loss(batch) -> tuple[torch.Tensor, int]:
        ...                          # move the batch to the device, forward pass
        return mean_loss, num_tokens # a differentiable 0-d tensor: the MEAN over
                                     # num_tokens

    history = fit(net, train_iter, batch_loss, num_epochs, optimizer,
                  evaluate=valid_metric, config=TrainConfig(patience=3))

``fit_epoch`` is one epoch of it (the cloze task, the time-series regressor, the
sequence-to-sequence models); the language models have their own epoch,
``rnncourse.train.train_epoch``, the one chapter 5 shows. Both report each step to a
``Monitor`` (the epoch's statistics, the time budget, the guard against divergence),
and both run inside ``run_epochs`` (validation, early stopping, the lr schedule, the
progress bar, the history), with the settings of a ``TrainConfig``.

**Host syncs.** On CUDA every ``.item()`` waits for the GPU to finish. The monitor keeps
the per-minibatch losses and gradient norms on the device and reads them back once every
``check_every`` minibatches and at the end of the epoch; clipping scales by
``min(1, theta / norm)`` on the device instead of testing ``norm > theta`` on the host.

**Divergence.** At each of those checks the monitor looks for a non-finite (or too
large) loss, a non-finite gradient norm and non-finite weights. When all is well it
copies the weights (the snapshot); when not, it puts the last snapshot back into the net
and raises ``FloatingPointError``. So a diverged run stops within ``check_every``
minibatches and leaves the net with the last weights known to be finite.
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .checks import (check_bool, check_callable, check_positive, check_positive_int,
                     check_type)
from .utils import training

__all__ = ["grad_clipping", "PlainSGD", "TrainConfig", "Monitor", "fit", "fit_epoch",
           "plot_history", "show_progress", "say"]

BatchLoss = Callable[[Any], "tuple[torch.Tensor, int]"]


# --------------------------------------------------------------------------- clipping

def _grads(net_or_params: nn.Module | torch.Tensor | Iterable[torch.Tensor]
           ) -> list[torch.Tensor]:
    """The gradients of a module's parameters, or of an iterable of parameters;
    parameters without a gradient (frozen, or unused in the last backward pass) are
    skipped."""
    if isinstance(net_or_params, nn.Module):
        params = list(net_or_params.parameters())
    elif isinstance(net_or_params, torch.Tensor):
        params = [net_or_params]
    else:
        params = list(net_or_params)
    return [p.grad for p in params if p.grad is not None]


def _clip_grad_norm(grads: list[torch.Tensor], theta: float | None) -> torch.Tensor:
    """Clip ``grads`` in place to a global L2 norm of at most ``theta`` (``None``: leave
    them); return the norm before clipping as a 0-d tensor on the gradients' device (no
    host sync)."""
    if not grads:
        return torch.zeros(())
    # the global norm: the L2 norm of all gradient entries together, ||(g_1, g_2, ...)||
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g)
                                                 for g in grads]))
    if theta is not None:
        # g <- min(1, theta / ||g||) g: same direction, norm at most theta, and exactly
        # theta when clipped. torch.where does on the device what `if norm > theta:`
        # would do on the host (which would wait for the GPU); where ||g|| <= theta
        # (||g|| = 0 included, whose theta / 0 = inf is computed but not chosen) the
        # scale is exactly 1: g stays as it is.
        scale = torch.where(norm > theta, theta / norm, torch.ones_like(norm))
        for g in grads:
            g.mul_(scale)
    return norm


def grad_clipping(net_or_params: nn.Module | Iterable[torch.Tensor],
                  theta: float) -> float:
    """Rescale all gradients together so that their global L2 norm is at most ``theta``.

    With g the vector of every gradient entry of every parameter,
    ``g <- min(1, theta / ||g||) * g``: the direction is kept, nothing changes when
    ``||g|| <= theta``, and a clipped gradient has norm ``theta``. Accepts a module or
    an iterable of parameters; parameters without a gradient are skipped. Returns
    ``||g||`` before clipping (0.0 when no parameter has a gradient).
    """
    check_positive("theta", theta)
    return float(_clip_grad_norm(_grads(net_or_params), theta))


# --------------------------------------------------------------------------- plain SGD

class PlainSGD:
    """Minibatch stochastic gradient descent, ``p <- p - lr * p.grad``, as in the notes.

    It has the part of the ``torch.optim.Optimizer`` interface that the training loop
    uses (``param_groups``, ``zero_grad``, ``step``), so ``fit`` treats it like any
    optimizer. (``torch.optim.SGD`` computes the same update; building the first
    ``torch.optim`` optimizer of a session also imports the ``torch._dynamo`` compiler,
    which takes seconds.)
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


def _current_lr(optimizer: torch.optim.Optimizer | PlainSGD) -> float:
    return float(optimizer.param_groups[0]["lr"])


# --------------------------------------------------------------------------- settings

@dataclass
class TrainConfig:
    """The settings of a training run that travel together (``fit``, ``train_lm``,
    ``train_seq2seq``), checked once when built.

    * **validation**: evaluate every ``valid_every`` epochs (and after the last);
      ``keep_best=True`` puts back the weights of the best evaluation at the end;
      ``patience=k`` stops after k evaluations without improvement.
    * **budget**: ``max_seconds`` of wall-clock time (training may stop mid-epoch).
    * **lr_schedule**: ``epoch -> lr`` (epochs count from 1), set at each epoch's start.
    * **divergence guard**: one host sync every ``check_every`` minibatches; a loss not
      below ``max_loss`` (NaN and infinity always count) is divergence.
    * **display**: ``progress`` (a tqdm bar; ``None``: only inside Jupyter) and
      ``plot`` (the curves at the end; ``None``: only inside Jupyter); both off by
      default (the chapters plot with ``plot_history``).
    * **on_epoch_end**: ``on_epoch_end(epoch, history)`` after each epoch's validation,
      with the history so far (its ``stopped`` is already set when training stops
      after this epoch); e.g. a ``rnncourse.train.SamplePrinter``.
    """

    valid_every: int = 1
    keep_best: bool = False
    patience: int | None = None
    max_seconds: float | None = None
    lr_schedule: Callable[[int], float] | None = None
    check_every: int = 10
    max_loss: float = math.inf
    progress: bool | None = False
    plot: bool | None = False
    on_epoch_end: Callable[[int, dict], None] | None = None

    def __post_init__(self) -> None:
        check_positive_int("valid_every", self.valid_every)
        check_positive_int("check_every", self.check_every)
        check_positive_int("patience", self.patience, allow_none=True)
        check_bool("keep_best", self.keep_best)
        check_positive("max_seconds", self.max_seconds, allow_none=True)
        check_positive("max_loss", self.max_loss, finite=False)
        check_callable("lr_schedule", self.lr_schedule, "a function epoch -> lr",
                       allow_none=True)
        check_callable("on_epoch_end", self.on_epoch_end,
                       "a function (epoch, history) -> None", allow_none=True)
        check_bool("progress", self.progress, allow_none=True)
        check_bool("plot", self.plot, allow_none=True)


# --------------------------------------------------------------------- divergence guard

class _Snapshot:
    """A copy of a net's weights (its ``state_dict``), taken at each check that found
    them finite, and put back when a later check finds the training diverged."""

    def __init__(self, net: nn.Module) -> None:
        self.net = net
        self.tensors = {name: t.detach().clone()
                        for name, t in net.state_dict().items()}
        self.where = "the weights training started with"

    @torch.no_grad()
    def take(self, where: str) -> None:
        for name, t in self.net.state_dict().items():
            # into the buffers allocated once: no allocation per check
            self.tensors[name].copy_(t)
        self.where = where

    def restore(self) -> None:
        self.net.load_state_dict(self.tensors)


def _weights_finite(net: nn.Module) -> torch.Tensor:
    """A 0-d bool tensor on the net's device (no host sync): are all parameters finite?

    A sum is NaN or infinite when any entry is; summed in float64, float32 weights
    cannot overflow it. (On the CPU this is many times faster than
    ``torch.isfinite(p).all()``.)"""
    sums = [p.detach().sum(dtype=torch.float64) for p in net.parameters()]
    return (torch.isfinite(torch.stack(sums)).all() if sums
            else torch.ones((), dtype=torch.bool))


def _divergence_advice(theta: float | None) -> str:
    return "turn gradient clipping on (theta=1.0)" if theta is None else (
        f"clip harder (theta={theta} now)")


class Monitor:
    """What the book's epoch listings do not show: the epoch's statistics, the time
    budget and the divergence guard.

    An epoch loop calls ``monitor.step(loss, grad_norm, num_tokens)`` after each
    optimizer step (``loss``: the minibatch's mean loss, a 0-d tensor; ``grad_norm``:
    the norm before clipping, a 0-d tensor; ``num_tokens``: an int or a 0-d tensor); it
    returns True once ``deadline`` (a ``time.perf_counter()`` value) has passed, and the
    loop stops. ``monitor.end_epoch()`` returns the epoch's statistics
    ``{"loss": token-weighted mean loss, "tokens", "steps", "grad_norm": mean norm
    before clipping, "seconds", "complete"}``.

    **Host syncs.** On CUDA every ``.item()`` waits for the GPU. The monitor keeps the
    values on the device and reads them back once every ``check_every`` minibatches and
    at the end of the epoch.

    **Divergence.** At each of those checks it looks for a loss not below ``max_loss``
    (NaN and infinity included), a non-finite gradient norm and non-finite weights. When
    all is well it copies the weights (the snapshot); when not, it puts the last
    snapshot back into the net and raises ``FloatingPointError`` naming the epoch, the
    minibatch and the lr.
    """

    def __init__(self, net: nn.Module, optimizer: torch.optim.Optimizer | PlainSGD,
                 theta: float | None = None, *, check_every: int = 10,
                 max_loss: float = math.inf, deadline: float | None = None) -> None:
        self.net, self.optimizer, self.theta = net, optimizer, theta
        self.check_every, self.max_loss, self.deadline = check_every, max_loss, deadline
        self.snapshot = _Snapshot(net)
        self.start_epoch(1)

    def start_epoch(self, epoch: int) -> None:
        """Forget the last epoch's values; count minibatches and time afresh."""
        self.epoch, self.start, self.complete = epoch, time.perf_counter(), True
        # since the last check, on the device
        self.pending_losses, self.pending_norms, self.pending_tokens = [], [], []
        # read back, on the host
        self.checked_losses, self.checked_norms, self.num_tokens = [], [], []

    def step(self, loss: torch.Tensor, grad_norm: torch.Tensor,
             num_tokens: int | torch.Tensor) -> bool:
        """Record one minibatch; True when the deadline has passed (stop the epoch)."""
        self.pending_losses.append(loss.detach())
        self.pending_norms.append(grad_norm)
        self.pending_tokens.append(num_tokens)
        if len(self.pending_losses) == self.check_every:
            self._check()
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.complete = False
            return True
        return False

    def end_epoch(self) -> dict:
        """The last check of the epoch, and its statistics; then the monitor is ready
        for the next epoch."""
        if self.pending_losses:
            self._check()
        if not self.num_tokens:
            raise ValueError(f"the data iterator yielded no minibatches in epoch "
                             f"{self.epoch}: pass a loader that can be iterated once "
                             "per epoch (a SeqDataLoader, a list), not a one-shot "
                             "generator, and check that the data hold at least one "
                             "minibatch")
        # float64
        losses, norms = torch.cat(self.checked_losses), torch.cat(self.checked_norms)
        weights = torch.tensor(self.num_tokens, dtype=torch.float64)
        stats = {
            "loss": float((losses * weights).sum() / weights.sum()),
            "tokens": int(weights.sum()),
            "steps": len(self.num_tokens),
            "grad_norm": float(norms.mean()),
            "seconds": time.perf_counter() - self.start,
            "complete": self.complete,
        }
        self.start_epoch(self.epoch + 1)  # ready for the next one
        return stats

    def _check(self) -> None:
        device = self.pending_losses[0].device
        k = len(self.pending_losses)
        values = torch.cat([  # all in float64 on the loss's device: (3k + 1,)
            torch.stack(self.pending_losses).double(),
            torch.stack(self.pending_norms).to(device, torch.float64),
            torch.stack([torch.as_tensor(n).to(device, torch.float64)
                         for n in self.pending_tokens]),
            _weights_finite(self.net).to(device, torch.float64).reshape(1),
        ]).cpu()  # the one host sync of a check
        losses, norms, tokens, weights_ok = (values[:k], values[k:2 * k],
                                             values[2 * k:3 * k], bool(values[-1]))
        if not bool((tokens > 0).all()):
            raise ValueError("batch_loss returned a token count of "
                             f"{tokens.min().item():g}: it must return (mean loss, "
                             "number of tokens the mean is over), with at least one "
                             "token")
        # minibatches of this epoch checked before
        done = sum(len(c) for c in self.checked_losses)
        # `not x < bound` is True for NaN too
        bad_loss = (~(losses < self.max_loss)).nonzero()
        bad_norm = (~torch.isfinite(norms)).nonzero()
        if len(bad_loss) or len(bad_norm) or not weights_ok:
            self._diverged(done, k, losses, norms, bad_loss, bad_norm)
        self.checked_losses.append(losses)
        self.checked_norms.append(norms)
        self.num_tokens.extend(int(n) for n in tokens)
        self.pending_losses.clear()
        self.pending_norms.clear()
        self.pending_tokens.clear()
        self.snapshot.take(f"those after minibatch {done + k} of epoch {self.epoch}")

    def _diverged(self, done: int, k: int, losses: torch.Tensor, norms: torch.Tensor,
                  bad_loss: torch.Tensor, bad_norm: torch.Tensor) -> None:
        # the first bad minibatch; at the same minibatch the loss is named before the
        # norm
        candidates = [(int(i), 0, "loss", float(losses[i])) for i in bad_loss[:1, 0]]
        candidates += [(int(i), 1, "gradient norm", float(norms[i]))
                       for i in bad_norm[:1, 0]]
        step, _, name, value = (min(candidates) if candidates
                                else (k - 1, 2, "weights", math.nan))
        what = f"the {name} became {value:g}" if name != "weights" else (
            "the weights became non-finite")
        self.snapshot.restore()
        raise FloatingPointError(
            f"{what} at epoch {self.epoch}, minibatch {done + step + 1} "
            f"(lr={_current_lr(self.optimizer):g}): training diverged; the net's "
            f"weights were restored to {self.snapshot.where}. Use a smaller learning "
            f"rate or {_divergence_advice(self.theta)}.")


# --------------------------------------------------------------------------- one epoch

def fit_epoch(net: nn.Module, batches: Iterable, batch_loss: BatchLoss,
              optimizer: torch.optim.Optimizer | PlainSGD, theta: float | None = 1.0,
              monitor: Monitor | None = None) -> dict:
    """One pass over ``batches``: for each minibatch
    ``loss, num_tokens = batch_loss(batch)`` (the mean loss over ``num_tokens`` tokens),
    backward, clipping to ``theta`` (``None``: no clipping), optimizer step; the
    ``monitor`` (a fresh ``Monitor`` by default) keeps the statistics, guards against
    divergence and says when the time is up. Returns ``monitor.end_epoch()``."""
    if monitor is None:
        monitor = Monitor(net, optimizer, theta)
    for batch in batches:
        loss, num_tokens = batch_loss(batch)  # loss: 0-d, the mean over num_tokens
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = _clip_grad_norm(_grads(net), theta)  # 0-d, before clipping
        optimizer.step()
        if monitor.step(loss, grad_norm, num_tokens):
            break
    return monitor.end_epoch()


# -------------------------------------------------------------------------- many epochs

def _in_ipython_kernel() -> bool:
    """True inside Jupyter (an IPython kernel), False in plain scripts, pytest and
    terminals."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _tqdm_disabled_by_env() -> bool:
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false",
                                                                      "no")


def show_progress(progress: bool | None) -> bool:
    """Whether to draw a progress bar: ``progress``, where ``None`` means only inside
    Jupyter; the environment variable ``TQDM_DISABLE=1`` turns it off in any case."""
    return (bool(_in_ipython_kernel() if progress is None else progress)
            and not _tqdm_disabled_by_env())


def show_plot(plot: bool | None) -> bool:
    """Whether to plot at the end: ``plot``; ``None`` means only inside Jupyter."""
    return bool(_in_ipython_kernel() if plot is None else plot)


def _check_optimizer(optimizer: Any) -> None:
    if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "step"):
        raise TypeError("optimizer must be a torch.optim.Optimizer or a PlainSGD, got "
                        f"{type(optimizer).__name__}")


def _check_fit_args(num_epochs: int, optimizer: Any, theta: float | None,
                    evaluate: Any, config: TrainConfig) -> None:
    check_positive_int("num_epochs", num_epochs)
    _check_optimizer(optimizer)
    check_positive("theta", theta, allow_none=True)
    check_callable("evaluate", evaluate, "a function () -> float (lower is better)",
                   allow_none=True)
    check_type("config", config, TrainConfig)
    if (config.keep_best or config.patience is not None) and evaluate is None:
        raise ValueError("keep_best and patience choose by the validation metric: pass "
                         "evaluate (train_lm, train_seq2seq: valid_iter)")


def fit(net: nn.Module, train_iter: Iterable, batch_loss: BatchLoss, num_epochs: int,
        optimizer: torch.optim.Optimizer | PlainSGD, *, theta: float | None = 1.0,
        evaluate: Callable[[], float] | None = None, config: TrainConfig | None = None,
        on_epoch_start: Callable[[int], None] | None = None,
        desc: str = "training") -> dict:
    """Train ``net`` for ``num_epochs`` passes over ``train_iter``; return the history.

    * **minibatch**: ``loss, num_tokens = batch_loss(batch)``, the MEAN loss over
      ``num_tokens`` tokens (an int, or a 0-d tensor, read back only at the checks) as a
      differentiable 0-d tensor (``batch_loss`` moves the batch to the device); then
      ``optimizer.zero_grad``, backward, clipping to a global norm of ``theta``
      (``None``: no clipping), ``optimizer.step()`` (``fit_epoch``). ``train_iter`` is
      iterated once per epoch, so it must be re-iterable (a loader or a list, not a
      generator).
    * **validation**: ``evaluate()`` (lower is better, e.g. a perplexity) every
      ``config.valid_every`` epochs and after the last.
    * **config**: a ``TrainConfig`` (validation schedule, early stopping, time budget,
      lr schedule, divergence guard, progress bar, ``on_epoch_end``).
    * **on_epoch_start**: ``on_epoch_start(epoch)`` before each epoch (e.g. to reset a
      state the task carries); ``desc`` titles the progress bar.
    * **divergence**: a loss not below ``config.max_loss``, a non-finite gradient norm
      or non-finite weights stop training: the net gets back the weights of the last
      good check and ``FloatingPointError`` names the epoch, the minibatch and the lr.
      (The optimizer's own state, e.g. Adam's moments, is not restored.)

    Returns a history dict: ``loss`` (token-weighted mean training loss), ``grad_norm``
    (mean norm before clipping), ``lr`` and ``epoch_seconds``, one entry per epoch;
    ``valid``, ``valid_epochs``, ``best_epoch`` and ``best_valid`` (with ``evaluate``);
    ``epochs``, ``tokens``, ``seconds`` (training only, validation excluded),
    ``tokens_per_sec``, ``wall_seconds`` and ``stopped`` (None, ``"max_seconds"`` or
    ``"patience"``).
    """
    config = TrainConfig() if config is None else config
    _check_fit_args(num_epochs, optimizer, theta, evaluate, config)
    check_callable("batch_loss", batch_loss, "a function batch -> (mean loss, "
                   "num_tokens)")
    check_callable("on_epoch_start", on_epoch_start, allow_none=True)
    check_type("desc", desc, str)

    def one_epoch(monitor: Monitor) -> dict:
        return fit_epoch(net, train_iter, batch_loss, optimizer, theta, monitor)

    return run_epochs(net, one_epoch, num_epochs, optimizer, theta, evaluate, config,
                      desc=desc, on_epoch_start=on_epoch_start)


def run_epochs(net: nn.Module, train_one_epoch: Callable[[Monitor], dict],
               num_epochs: int, optimizer: torch.optim.Optimizer | PlainSGD,
               theta: float | None, evaluate: Callable[[], float] | None,
               config: TrainConfig, *, desc: str = "training",
               on_epoch_start: Callable[[int], None] | None = None,
               postfix: Callable[[dict], dict] | None = None) -> dict:
    """The epochs around ``train_one_epoch(monitor)`` (which returns
    ``monitor.end_epoch()``): the lr schedule, validation, early stopping, the time
    budget, the progress bar (titled ``desc``, with ``postfix(history)``), the history
    (see ``fit``). The arguments are not checked here: ``fit`` and ``train_lm`` check
    theirs."""
    wall_start = time.perf_counter()
    deadline = (None if config.max_seconds is None
                else wall_start + config.max_seconds)
    monitor = Monitor(net, optimizer, theta, check_every=config.check_every,
                      max_loss=config.max_loss, deadline=deadline)
    history: dict[str, Any] = {"loss": [], "grad_norm": [], "lr": [],
                               "epoch_seconds": [], "stopped": None}
    if evaluate is not None:
        history.update(valid=[], valid_epochs=[], best_epoch=None, best_valid=math.inf)
    best_state, evals_since_best = None, 0
    total_tokens, train_seconds = 0, 0.0

    show_bar = show_progress(config.progress)
    from tqdm import tqdm

    bar = tqdm(range(1, num_epochs + 1), desc=desc, unit="epoch",
               disable=not show_bar, file=sys.stderr)
    try:
        with training(net):
            for epoch in bar:
                # every epoch: evaluate() or a hook may have switched to eval mode
                net.train()
                if config.lr_schedule is not None:
                    for group in optimizer.param_groups:
                        group["lr"] = float(config.lr_schedule(epoch))
                if on_epoch_start is not None:
                    on_epoch_start(epoch)
                monitor.start_epoch(epoch)
                stats = train_one_epoch(monitor)
                total_tokens += stats["tokens"]
                train_seconds += stats["seconds"]
                history["loss"].append(stats["loss"])
                history["grad_norm"].append(stats["grad_norm"])
                history["lr"].append(_current_lr(optimizer))
                history["epoch_seconds"].append(stats["seconds"])
                out_of_time = not stats["complete"] or (
                    deadline is not None and time.perf_counter() > deadline)
                last = epoch == num_epochs or out_of_time

                if evaluate is not None and (epoch % config.valid_every == 0 or last):
                    value = float(evaluate())
                    history["valid"].append(value)
                    history["valid_epochs"].append(epoch)
                    if value < history["best_valid"]:
                        history["best_valid"], history["best_epoch"] = value, epoch
                        evals_since_best = 0
                        if config.keep_best:
                            best_state = {k: v.detach().clone()
                                          for k, v in net.state_dict().items()}
                    else:
                        evals_since_best += 1
                    if (config.patience is not None
                            and evals_since_best >= config.patience):
                        history["stopped"] = "patience"
                if out_of_time and history["stopped"] is None:
                    history["stopped"] = "max_seconds"
                if show_bar:
                    bar.set_postfix(postfix(history) if postfix is not None
                                    else _epoch_postfix(history))
                if config.on_epoch_end is not None:
                    config.on_epoch_end(epoch, history)
                if history["stopped"]:
                    break
    finally:
        bar.close()

    if best_state is not None:
        net.load_state_dict(best_state)
    history["epochs"] = len(history["loss"])
    history["tokens"] = total_tokens
    history["seconds"] = train_seconds
    history["tokens_per_sec"] = (total_tokens / train_seconds if train_seconds > 0
                                 else math.inf)
    history["wall_seconds"] = time.perf_counter() - wall_start
    return history


def _epoch_postfix(history: dict, name: str = "loss", fmt: str = ".4g",
                   transform: Callable[[float], float] | None = None) -> dict:
    """The progress bar's postfix after an epoch: the training loss (as ``name``,
    through ``transform`` when given) and, after a validated epoch, the validation
    score, both formatted with ``fmt``."""
    loss = history["loss"][-1]
    postfix = {name: format(loss if transform is None else transform(loss), fmt)}
    if (history.get("valid_epochs")
            and history["valid_epochs"][-1] == len(history["loss"])):
        postfix["valid"] = format(history["valid"][-1], fmt)
    return postfix


def say(text: str) -> None:
    """Print a line without breaking a progress bar that is being drawn
    (``tqdm.write``)."""
    from tqdm import tqdm

    tqdm.write(text)


# --------------------------------------------------------------------------- plotting

def plot_history(history: dict, metric: str = "loss", ylabel: str | None = None,
                 valid_metric: str | None = None, ax: Any = None) -> Any:
    """Draw the training curve ``history[metric]`` by epoch and, when the history has
    them, the validation values ``history[valid_metric]`` at ``history["valid_epochs"]``
    (``valid_metric`` defaults to ``"valid"`` for ``metric="loss"``, else
    ``"valid_" + metric``). Draws on ``ax`` (a new figure, shown, when None); returns
    the axes."""
    import matplotlib.pyplot as plt

    if metric not in history:
        raise KeyError(f"the history has no {metric!r}: it has {sorted(history)}")
    if valid_metric is None:
        valid_metric = "valid" if metric == "loss" else f"valid_{metric}"
    new_figure = ax is None
    if new_figure:
        _, ax = plt.subplots()
    epochs = range(1, len(history[metric]) + 1)
    ax.plot(epochs, history[metric], marker="." if len(epochs) < 3 else None,
            label="train")
    if history.get(valid_metric):
        ax.plot(history["valid_epochs"], history[valid_metric], marker=".",
                label="valid")
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel if ylabel is not None else metric)
    ax.grid(True, alpha=0.3)
    if new_figure:
        plt.show()
    return ax
