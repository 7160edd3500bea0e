"""A long-range memory task: delayed recall, the kind of experiment that motivated the
LSTM (Hochreiter & Schmidhuber 1997).

Each sequence starts with a **symbol** drawn from ``num_symbols`` classes, followed by
``gap`` **distractors** drawn from ``num_distractors`` other tokens; after reading the
whole sequence, the network must say which symbol came first. Guessing scores
``1 / num_symbols``. The information sits ``gap`` steps before the answer, with nothing
but noise between: a network can answer only if its state carries the symbol across the
gap, and it can learn to do so only if the gradient of the loss reaches back that far.

``delayed_recall`` draws the data, ``RecallNet`` reads it with a plain RNN, a GRU or an
LSTM (``torch.nn``'s, for speed), ``hidden_for_params`` sizes cells to equal parameter
counts, ``train_recall`` trains against a wall-clock budget on fresh data at every step
(no data is seen twice, so there is nothing to overfit) and ``recall_accuracy`` is the
metric.
"""
from __future__ import annotations

import time

import torch
from torch import nn

from .checks import (check_choice, check_int, check_number, check_positive,
                     check_positive_int, check_type)
from .utils import evaluating

__all__ = ["delayed_recall", "RecallNet", "hidden_for_params", "recall_accuracy",
           "train_recall", "num_params", "CELLS"]

#: the cells ``RecallNet`` accepts
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def _check_task(batch_size: int, gap: int, num_symbols: int,
                num_distractors: int) -> None:
    check_positive_int("batch_size", batch_size)
    check_int("gap", gap, minimum=0)
    check_int("num_symbols", num_symbols, minimum=2)  # 1 symbol: nothing to recall
    check_positive_int("num_distractors", num_distractors)


def _check_net_args(cell: str, num_hiddens: int, num_symbols: int,
                    num_distractors: int, gate_bias: float | None) -> None:
    check_choice("cell", cell, CELLS)
    check_positive_int("num_hiddens", num_hiddens)
    check_int("num_symbols", num_symbols, minimum=2)
    check_positive_int("num_distractors", num_distractors)
    check_number("gate_bias", gate_bias, allow_none=True)
    if cell == "rnn" and gate_bias is not None:
        raise ValueError("gate_bias: a plain RNN has no gate (use None)")


def _check_training_args(net, seconds: float, lr: float, max_steps: int,
                         grad_clip: float) -> None:
    """(``delayed_recall`` checks ``gap`` and ``batch_size``, at the first step.)"""
    check_type("net", net, RecallNet)
    check_positive("seconds", seconds, finite=False)  # inf: train for max_steps
    check_positive("lr", lr)
    check_positive_int("max_steps", max_steps)
    check_positive("grad_clip", grad_clip)


def delayed_recall(batch_size: int, gap: int, num_symbols: int = 4,
                   num_distractors: int = 4, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the delayed-recall task.

    Returns ``(X, y)``: ``X`` of shape (batch_size, gap + 1), int64 tokens, the symbol
    (0 .. num_symbols − 1) first and ``gap`` distractors (num_symbols .. num_symbols +
    num_distractors − 1) after it; ``y`` of shape (batch_size,), the symbol to recall.
    """
    _check_task(batch_size, gap, num_symbols, num_distractors)
    y = torch.randint(num_symbols, (batch_size,), generator=generator)  # (B,)
    noise = torch.randint(num_symbols, num_symbols + num_distractors,
                          (batch_size, gap), generator=generator)  # (B, gap)
    return torch.cat([y[:, None], noise], dim=1), y  # (B, gap + 1), (B,)


class RecallNet(nn.Module):
    """Reads a token sequence with one recurrent layer and classifies its last state.

    ``cell`` is ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``; tokens enter one-hot.
    ``forward(X)`` maps (batch, steps) tokens to (batch, num_symbols) logits.

    ``gate_bias``: if given, the bias of the gate that keeps the state, the GRU's update
    gate or the LSTM's forget gate, starts at this value (split as ``gate_bias`` in the
    input bias and 0 in the recurrent one), so that at initialisation the cell keeps
    a share σ(gate_bias) of its state per step; e.g. 1 (Gers et al. 2000; Jozefowicz
    et al. 2015) or 3. A plain RNN has no such gate: ``gate_bias`` must be ``None``.
    """

    def __init__(self, cell: str, num_hiddens: int, num_symbols: int = 4,
                 num_distractors: int = 4, gate_bias: float | None = None) -> None:
        _check_net_args(cell, num_hiddens, num_symbols, num_distractors, gate_bias)
        super().__init__()
        self.cell, self.num_tokens = cell, num_symbols + num_distractors
        self.rnn = CELLS[cell](self.num_tokens, num_hiddens, batch_first=True)
        self.head = nn.Linear(num_hiddens, num_symbols)
        if gate_bias is not None:
            # torch orders the gates (r, z, n) for the GRU, (i, f, g, o) for the LSTM:
            # the keeping gate is the second block of num_hiddens rows in both
            keep = slice(num_hiddens, 2 * num_hiddens)
            with torch.no_grad():
                self.rnn.bias_ih_l0[keep].fill_(gate_bias)
                self.rnn.bias_hh_l0[keep].zero_()

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        inputs = nn.functional.one_hot(X, self.num_tokens).float()  # (B, T, V)
        outputs, _ = self.rnn(inputs)  # (B, T, H)
        return self.head(outputs[:, -1])  # (B, num_symbols)


def num_params(net: nn.Module) -> int:
    """The number of trainable parameters of ``net``."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def hidden_for_params(cell: str, target: int, num_symbols: int = 4,
                      num_distractors: int = 4) -> int:
    """The hidden size (1 to 1024) whose ``RecallNet`` has the parameter count closest
    to ``target``."""
    check_choice("cell", cell, CELLS)
    check_positive_int("target", target)

    def count(h: int) -> int:
        return num_params(RecallNet(cell, h, num_symbols, num_distractors))

    lo, hi = 1, 1024  # the count grows with h: bisect for the first h at or above
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if count(mid) < target else (lo, mid)
    return min({max(lo - 1, 1), lo}, key=lambda h: abs(count(h) - target))


def recall_accuracy(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """The share of sequences of ``X`` whose first symbol ``net`` recalls (argmax), in
    eval mode and without gradients (``net``'s mode is put back)."""
    with evaluating(net):
        return float((net(X).argmax(dim=1) == y).float().mean())


def train_recall(net: RecallNet, gap: int, seconds: float, batch_size: int = 64,
                 lr: float = 0.01, max_steps: int = 100_000, seed: int = 0,
                 grad_clip: float = 1.0) -> dict:
    """Train ``net`` with Adam on fresh batches of ``delayed_recall`` for ``seconds`` of
    wall-clock time (or ``max_steps``), gradients clipped to norm ``grad_clip``.

    Returns ``{"steps", "seconds", "losses"}`` (the training loss at every step).
    """
    _check_training_args(net, seconds, lr, max_steps, grad_clip)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses, start, steps = [], time.perf_counter(), 0
    net.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: more threads only wait on each other
    try:
        while time.perf_counter() - start < seconds and steps < max_steps:
            X, y = delayed_recall(batch_size, gap, net.head.out_features,
                                  net.num_tokens - net.head.out_features, gen)
            loss = nn.functional.cross_entropy(net(X), y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
            opt.step()
            losses.append(loss.item())
            steps += 1
    finally:
        torch.set_num_threads(threads)
    return {"steps": steps, "seconds": time.perf_counter() - start, "losses": losses}
