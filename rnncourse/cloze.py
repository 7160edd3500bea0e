"""The cloze task of the deep and bidirectional chapter: predict a masked character from
both sides.

A window of ``window`` (odd) consecutive characters is cut out of the corpus; its middle
character is replaced by a mask token and becomes the target::

    text     t h e ␣ t i m e ␣ m a      (␣ is a space)
    input    t h e ␣ t ▯ m e ␣ m a      (▯ is mask_index: <unk> by default, which
                                         never occurs in the text)
    target             i

The model reads the window with a recurrent network and classifies the masked character
with a linear layer on top. Where it reads the output decides what it can know:

* ``readout="mask"``: the output at the masked position. Bidirectional, that output
  joins the forward direction (the left context) and the backward direction (the right
  context). Unidirectional, it has read the left context only: the characters after the
  mask cannot influence it at all.
* ``readout="final"``: the final hidden state(s) of the last layer, after the whole
  window. Unidirectional, this model has read both sides too, but must carry what it
  read before the mask through everything after it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .checks import check_int, check_positive, check_positive_int
from .loop import TrainConfig, fit
from .utils import evaluating, place

__all__ = ["make_cloze_data", "ClozeModel", "num_cloze_parameters",
           "matching_hidden_size", "train_cloze", "evaluate_cloze"]

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
# weight blocks per layer and direction in torch.nn
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


# Argument checks, kept out of the listings: each public entry point calls one of them
# in its first lines, so that the code the book shows reads as the algorithm.

def _check_data_args(tokens: torch.Tensor, window: int, mask_index: int,
                     stride: int) -> None:
    """The checks of ``make_cloze_data``; ``tokens`` is the corpus as a LongTensor."""
    check_int("window", window)
    if window % 2 == 0:
        raise ValueError("window must be odd, so that the masked token has as many "
                         f"tokens on its left as on its right; got {window}")
    if window < 3:
        raise ValueError("window must be at least 3 (a token of context on each side "
                         f"of the mask), got {window}")
    check_positive_int("stride", stride)
    check_int("mask_index", mask_index, minimum=0)
    if tokens.ndim != 1:
        raise ValueError("corpus must be a flat sequence of token indices, got shape "
                         f"{tuple(tokens.shape)}")
    if len(tokens) < window:
        raise ValueError(f"a corpus of {len(tokens)} tokens is shorter than one window "
                         f"of {window}")
    if bool((tokens == mask_index).any()):
        raise ValueError(f"mask_index {mask_index} occurs in the corpus: a masked "
                         "position could not be told from a real token; use an index "
                         "that never occurs (e.g. <unk>)")


def _check_cell(cell: str) -> None:
    if cell not in _CELLS:
        raise ValueError(f"unknown cell {cell!r}: use one of {sorted(_CELLS)}")


def _check_model_args(vocab_size: int, num_hiddens: int, cell: str, num_layers: int,
                      readout: str) -> None:
    check_int("vocab_size", vocab_size, minimum=2)
    check_positive_int("num_hiddens", num_hiddens)
    check_positive_int("num_layers", num_layers)
    _check_cell(cell)
    if readout not in ("mask", "final"):
        raise ValueError(f"unknown readout {readout!r}: use 'mask' or 'final'")


def _check_windows(X: torch.Tensor) -> None:
    """``X`` is a (batch, window) LongTensor with an odd window (the mask in the
    middle)."""
    if X.ndim != 2 or X.dtype != torch.long:
        raise ValueError("X must be a (batch, window) LongTensor of token indices, "
                         f"got {X.dtype} of shape {tuple(X.shape)}")
    if X.shape[1] % 2 == 0:
        raise ValueError("the window must be odd (mask in the middle), got "
                         f"{X.shape[1]}")


def _check_examples(X: torch.Tensor, y: torch.Tensor) -> None:
    if X.ndim != 2 or y.shape != (X.shape[0],) or X.shape[0] == 0:
        raise ValueError("need a non-empty X (num_examples, window) and y "
                         f"(num_examples,), got {tuple(X.shape)} and {tuple(y.shape)}")


def _check_train_args(X: torch.Tensor, y: torch.Tensor, num_updates: int,
                      batch_size: int, lr: float, log_every: int) -> None:
    check_positive_int("num_updates", num_updates)
    check_positive_int("batch_size", batch_size)
    check_positive("lr", lr)
    check_positive_int("log_every", log_every)
    _check_examples(X, y)


def make_cloze_data(corpus: Sequence[int], window: int, mask_index: int = 0,
                    stride: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Cloze examples from a token sequence: windows with their middle token masked.

    Window i covers ``corpus[i * stride : i * stride + window]``; ``window`` must be odd
    (so there is a middle) and at least 3 (so there is context on both sides).
    ``mask_index`` replaces the middle token; it must not occur in ``corpus``, or a
    masked position could not be told from a real token (the default 0 is ``<unk>``,
    absent from the Time Machine).

    Returns ``(X, y)``: X (num_windows, window) LongTensor with ``X[:, window // 2] ==
    mask_index``, and y (num_windows,) LongTensor, the original middle tokens;
    ``num_windows = (len(corpus) - window) // stride + 1``.
    """
    tokens = torch.as_tensor(list(corpus), dtype=torch.long)  # (len(corpus),)
    _check_data_args(tokens, window, mask_index, stride)
    X = tokens.unfold(0, window, stride).clone()  # (num_windows, window)
    mid = window // 2
    y = X[:, mid].clone()  # (num_windows,): the middle tokens are the targets
    X[:, mid] = mask_index
    return X, y


class ClozeModel(nn.Module):
    """One-hot inputs -> a recurrent stack (torch.nn, uni- or bidirectional) -> a linear
    classifier.

    ``forward(X)``: X (batch, window) LongTensor with an odd window, the mask in the
    middle; returns logits (batch, vocab_size) for the masked token. ``readout`` picks
    the features the classifier sees (see the module docstring): ``"mask"``, the last
    layer's output at the masked position, (batch, num_directions * num_hiddens); or
    ``"final"``, the last layer's final hidden state of each direction, concatenated,
    (batch, num_directions * num_hiddens).
    """

    def __init__(self, vocab_size: int, num_hiddens: int, bidirectional: bool = False,
                 cell: str = "gru", num_layers: int = 1, readout: str = "mask") -> None:
        super().__init__()
        _check_model_args(vocab_size, num_hiddens, cell, num_layers, readout)
        self.vocab_size, self.num_hiddens, self.num_layers = (
            vocab_size, num_hiddens, num_layers)
        self.cell, self.readout = cell, readout
        self.num_directions = 2 if bidirectional else 1
        self.rnn = _CELLS[cell](vocab_size, num_hiddens, num_layers=num_layers,
                                bidirectional=bidirectional)
        self.linear = nn.Linear(self.num_directions * num_hiddens, vocab_size)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        _check_windows(X)  # X: (batch, window), the mask at window // 2
        window = X.shape[1]
        inputs = F.one_hot(X.T, self.vocab_size).float()  # (window, batch, vocab_size)
        # outputs: (window, batch, num_directions * num_hiddens)
        outputs, state = self.rnn(inputs)
        if self.readout == "mask":
            features = outputs[window // 2]  # (batch, num_directions * num_hiddens)
        else:
            # (num_layers * num_directions, batch, num_hiddens); an LSTM's is (H, C)
            H = state[0] if self.cell == "lstm" else state
            # the last layer's directions, forward then backward concatenated:
            # (batch, num_directions * num_hiddens)
            features = torch.cat(list(H[-self.num_directions:]), dim=1)
        return self.linear(features)  # (batch, vocab_size)


def num_cloze_parameters(vocab_size: int, num_hiddens: int, bidirectional: bool = False,
                         cell: str = "gru", num_layers: int = 1) -> int:
    """The number of parameters of
    ``ClozeModel(vocab_size, num_hiddens, bidirectional, cell, num_layers)``, by
    formula: per layer and direction, ``gates * (h * inputs + h * h + 2 * h)`` (torch.nn
    keeps two bias vectors), then the classifier ``(d * h + 1) * vocab_size``."""
    _check_cell(cell)
    d, h, g = (2 if bidirectional else 1), num_hiddens, _GATES[cell]
    total, num_inputs = 0, vocab_size
    for _ in range(num_layers):
        total += d * g * (h * num_inputs + h * h + 2 * h)
        num_inputs = d * h  # the next layer reads both directions' outputs
    return total + (d * h + 1) * vocab_size


def matching_hidden_size(vocab_size: int, num_hiddens: int, cell: str = "gru",
                         num_layers: int = 1) -> int:
    """The hidden size of the unidirectional ClozeModel whose parameter count is closest
    to that of the bidirectional one with ``num_hiddens`` per direction (for a fair
    comparison)."""
    check_positive_int("num_hiddens", num_hiddens)
    target = num_cloze_parameters(vocab_size, num_hiddens, True, cell, num_layers)
    # the count grows with h: the match lies in here
    candidates = range(num_hiddens, 2 * num_hiddens + 1)
    return min(candidates,
               key=lambda h: abs(num_cloze_parameters(vocab_size, h, False, cell,
                                                      num_layers) - target))


class _RandomMinibatches:
    """Index minibatches drawn uniformly at random: ``per_pass`` of them each time it is
    iterated (one epoch of ``fit``), ``num_updates`` in all (the last pass may be
    shorter)."""

    def __init__(self, num_examples: int, batch_size: int, num_updates: int,
                 per_pass: int) -> None:
        self.num_examples, self.batch_size, self.per_pass = (
            num_examples, batch_size, per_pass)
        self.left = num_updates

    def __iter__(self):
        for _ in range(min(self.per_pass, self.left)):
            self.left -= 1
            # (batch_size,), on the CPU
            yield torch.randint(0, self.num_examples, (self.batch_size,))


def train_cloze(net: ClozeModel, X: torch.Tensor, y: torch.Tensor, num_updates: int,
                batch_size: int = 128, lr: float = 0.01, theta: float = 1.0,
                device: torch.device | None = None, log_every: int = 50,
                progress: bool | None = None) -> dict:
    """Train ``net`` with Adam on random minibatches of the cloze examples ``(X, y)``.

    X (num_examples, window), y (num_examples,). Each update draws ``batch_size``
    example indices uniformly at random (from torch's generator: seed it for
    reproducibility), clips the gradients to a global norm of ``theta`` and takes one
    Adam step with learning rate ``lr``: ``rnncourse.loop.fit`` with the cross-entropy
    of the masked character, where an epoch is a round of ``log_every`` updates. Returns
    a history dict: ``loss`` (mean training cross-entropy over each complete round of
    ``log_every`` updates), ``seconds``, ``examples_per_sec``. Raises
    ``FloatingPointError`` when the loss becomes NaN or infinite.
    """
    _check_train_args(X, y, num_updates, batch_size, lr, log_every)
    device = place(net, device)
    X, y = X.to(device), y.to(device)  # once: the examples are small
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)

    def cloze_loss(idx: torch.Tensor) -> tuple[torch.Tensor, int]:
        idx = idx.to(device)  # drawn on the CPU: the same examples on any device
        logits = net(X[idx])  # (batch_size, vocab_size)
        return F.cross_entropy(logits, y[idx]), len(idx)

    minibatches = _RandomMinibatches(X.shape[0], batch_size, num_updates,
                                     per_pass=log_every)
    try:
        history = fit(net, minibatches, cloze_loss, math.ceil(num_updates / log_every),
                      optimizer, theta=theta, config=TrainConfig(progress=progress),
                      desc="cloze")
    except FloatingPointError as error:
        raise FloatingPointError(f"{error} (an epoch here is a round of {log_every} "
                                 "updates)") from None
    complete_rounds = num_updates // log_every  # a last, shorter round is not reported
    return {"loss": history["loss"][:complete_rounds], "seconds": history["seconds"],
            "examples_per_sec": history["tokens_per_sec"]}


def evaluate_cloze(net: ClozeModel, X: torch.Tensor, y: torch.Tensor,
                   batch_size: int = 2048, device: torch.device | None = None) -> dict:
    """Accuracy, mean cross-entropy (nats) and perplexity ``exp(cross-entropy)`` of
    ``net`` on every cloze example ``(X, y)``: X (num_examples, window), y
    (num_examples,)."""
    _check_examples(X, y)
    check_positive_int("batch_size", batch_size)
    device = place(net, device)
    total_loss, correct = 0.0, 0
    with evaluating(net):
        for i in range(0, X.shape[0], batch_size):
            logits = net(X[i:i + batch_size].to(device))  # (batch, vocab_size)
            target = y[i:i + batch_size].to(device)       # (batch,)
            total_loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(dim=1) == target).sum().item()
    cross_entropy = total_loss / X.shape[0]
    return {"accuracy": correct / X.shape[0], "cross_entropy": cross_entropy,
            "perplexity": math.exp(cross_entropy)}
