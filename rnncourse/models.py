"""Recurrent networks: scratch cells, a layer stack, and the character language models.

Scratch cells (row-vector convention ``X W``, time-major tensors)::

    RNNScratch(num_inputs, num_hiddens)     H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)
    GRUScratch(num_inputs, num_hiddens)     gates R_t, Z_t, candidate H~_t
    LSTMScratch(num_inputs, num_hiddens)    gates I_t, F_t, O_t, candidate C~_t,
                                            memory C_t

Each cell maps ``inputs`` (num_steps, batch, num_inputs) and an optional initial state
to ``(outputs, state)`` with ``outputs`` (num_steps, batch, num_hiddens); the state is
``H`` (batch, num_hiddens), or ``(H, C)`` for the LSTM.

``RecurrentStack`` stacks cells into a deep and/or bidirectional network with the state
layout of ``torch.nn.RNN``. The language models ``RNNModelScratch`` (built on the
scratch cells) and ``RNNModel`` (built on ``torch.nn.RNN/GRU/LSTM``) share one call
convention::

    logits, state = net(X, state)   # X: LongTensor (batch, num_steps) of token ids
                                    # logits: (num_steps * batch, vocab_size),
                                    #         row t*batch + b
    state = net.begin_state(batch_size, device)

``copy_from_torch`` copies the weights of a ``torch.nn`` layer into the scratch modules,
so the tests (and the chapters) can check that both compute the same function.
"""
from __future__ import annotations

import contextvars

import torch
from torch import nn
from torch.nn.functional import dropout, one_hot

from .checks import (check_bool, check_choice, check_number, check_positive_int,
                     check_probability, check_type)

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # H, or (H, C) for the LSTM

__all__ = [
    "RNNScratch",
    "GRUScratch",
    "LSTMScratch",
    "RecurrentStack",
    "RNNModelScratch",
    "RNNModel",
    "CELLS",
    "input_projection",
    "scale_grad",
    "copy_from_torch",
    "gate_activations",
]

BPTT_MODES = ("full", "truncated", "randomized")


# ----------------------------------------------------------------------------- checks
# Every public entry point checks its arguments once, at the top, in one line that calls
# one of these helpers; the listings in the book then read as the algorithm.

def _check_inputs(inputs, num_inputs: int, dtype: torch.dtype, who: str) -> None:
    """Cells take float inputs of shape (num_steps, batch, num_inputs)."""
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"{who}: inputs must be a tensor of shape (num_steps, batch, "
                        f"{num_inputs}), got {type(inputs).__name__}")
    if inputs.dim() != 3 or inputs.shape[-1] != num_inputs:
        raise ValueError(f"{who}: inputs must have shape (num_steps, batch, "
                         f"num_inputs={num_inputs}) (time-major), got shape "
                         f"{tuple(inputs.shape)}")
    if inputs.dtype != dtype:
        raise TypeError(f"{who}: inputs must have the parameters' dtype {dtype}, got "
                        f"{inputs.dtype}; convert them with .to({dtype})")


def _check_hidden(H, batch_size: int, num_hiddens: int, who: str,
                  what: str = "state") -> None:
    if not isinstance(H, torch.Tensor):
        raise TypeError(f"{who}: {what} must be a tensor of shape (batch, "
                        f"num_hiddens), got {type(H).__name__}")
    if tuple(H.shape) != (batch_size, num_hiddens):
        raise ValueError(f"{who}: {what} must have shape (batch={batch_size}, "
                         f"num_hiddens={num_hiddens}), got shape {tuple(H.shape)}")


# The ids of the cells whose arguments a running RecurrentStack.forward builds (after
# checking its own), one set per running stack: pushed by the stack's forward pre-hook,
# popped by its forward hook, which runs even when forward raises. A context variable, so
# threads do not share it.
_CELLS_CHECKED_BY_STACK: contextvars.ContextVar[tuple[frozenset[int], ...]] = (
    contextvars.ContextVar("cells_checked_by_stack", default=()))


def _check_cell_args(cell: nn.Module, inputs, state) -> None:
    """The arguments of a cell's ``forward``: inputs (num_steps, batch, num_inputs) of
    the parameters' dtype; state None, H (batch, num_hiddens), or (H, C) for the LSTM.

    A cell skips this while a ``RecurrentStack`` that holds it runs ``forward``: the
    stack checked its inputs and state on entry, and builds the cells' arguments itself.
    Called on its own (or after it left the stack), a cell checks."""
    if any(id(cell) in ids for ids in _CELLS_CHECKED_BY_STACK.get()):
        return
    who = type(cell).__name__
    _check_inputs(inputs, cell.num_inputs, next(cell.parameters()).dtype, who)
    if state is None:
        return
    batch_size = inputs.shape[1]
    if isinstance(cell, LSTMScratch):
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"{who}: state must be a tuple (H, C), got "
                            f"{type(state).__name__}")
        _check_hidden(state[0], batch_size, cell.num_hiddens, who, "state H")
        _check_hidden(state[1], batch_size, cell.num_hiddens, who, "state C")
    else:
        _check_hidden(state, batch_size, cell.num_hiddens, who)


def _check_cell_sizes(num_inputs: int, num_hiddens: int, init_std: float,
                      reset_after: bool = False) -> None:
    check_bool("reset_after", reset_after)
    check_positive_int("num_inputs", num_inputs)
    check_positive_int("num_hiddens", num_hiddens)
    check_number("init_std", init_std, minimum=0)


def _check_rnn_cell_args(num_inputs: int, num_hiddens: int, bptt: str, bptt_k: int,
                         bptt_pi: float, init_std: float) -> None:
    _check_cell_sizes(num_inputs, num_hiddens, init_std)
    check_choice("bptt", bptt, BPTT_MODES)
    check_positive_int("bptt_k", bptt_k)  # steps per truncation block
    # the probability of keeping a step's gradient: 0 would divide by zero in 1 / pi
    if not 0 < check_number("bptt_pi", bptt_pi) <= 1:
        raise ValueError("bptt_pi must lie in (0, 1] (the probability of keeping a "
                         f"step's gradient), got {bptt_pi!r}")


def _check_tokens(X, vocab_size: int, who: str) -> None:
    """Language models take token ids: a LongTensor (batch, num_steps) with 0 <= id <
    vocab_size."""
    if not isinstance(X, torch.Tensor) or X.dtype != torch.long:
        got = X.dtype if isinstance(X, torch.Tensor) else type(X).__name__
        raise TypeError(f"{who}: X must be a LongTensor of token ids, shape (batch, "
                        f"num_steps), got {got}")
    if X.dim() != 2:
        raise ValueError(f"{who}: X must have shape (batch, num_steps), got shape "
                         f"{tuple(X.shape)}")
    # The range check reads the ids on the host. On a GPU that would stall every forward
    # pass waiting for the device, so it runs for CPU tensors only; out-of-range ids on
    # a GPU still fail, in the one-hot encoding (a device-side assertion).
    if (X.device.type == "cpu" and X.numel()
            and bool(((X < 0) | (X >= vocab_size)).any())):
        raise ValueError(f"{who}: token ids must lie in [0, vocab_size={vocab_size}), "
                         f"got ids from {int(X.min())} to {int(X.max())}")


def _normal(*shape: int, std: float) -> nn.Parameter:
    return nn.Parameter(torch.randn(*shape) * std)


def _zeros(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(*shape))


def _zero_state(like: torch.Tensor, device, *shape: int) -> torch.Tensor:
    """Zeros of ``shape`` with the dtype of ``like`` (a parameter), on ``device``
    (default: like's)."""
    return torch.zeros(*shape, dtype=like.dtype,
                       device=like.device if device is None else device)


def input_projection(inputs: torch.Tensor, W: torch.Tensor,
                     b: torch.Tensor) -> torch.Tensor:
    """``X_t W + b`` for every time step in one matrix product.

    inputs (num_steps, batch, num_inputs), W (num_inputs, num_hiddens), b (num_hiddens,)
    -> (num_steps, batch, num_hiddens). Only the recurrent terms ``H_{t-1} W_h*`` must
    wait for the previous step, so the cells compute their input terms up front with
    this.
    """
    num_steps, batch_size, num_inputs = inputs.shape
    return torch.addmm(b, inputs.reshape(-1, num_inputs), W).reshape(
        num_steps, batch_size, W.shape[1])


def scale_grad(H: torch.Tensor, xi: float) -> torch.Tensor:
    """``H`` unchanged in the forward pass; in the backward pass its gradient is
    multiplied by ``xi``.

    ``H.detach() + xi * (H - H.detach())`` has the value of ``H`` (the bracket is
    exactly 0) and the derivative ``xi`` with respect to ``H``. ``xi = 0`` is plain
    ``H.detach()``.
    """
    if xi == 1.0:
        return H
    if xi == 0.0:
        return H.detach()
    return H.detach() + xi * (H - H.detach())


# ----------------------------------------------------------------------------- cells

class RNNScratch(nn.Module):
    """The vanilla RNN cell: ``H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)``.

    Parameters: ``W_xh`` (num_inputs, num_hiddens), ``W_hh`` (num_hiddens, num_hiddens),
    both N(0, init_std²), and ``b_h`` (num_hiddens,), zeros.

    ``bptt`` chooses how far gradients flow back through the recurrence:

    * ``"full"``: all the way (ordinary backpropagation through time);
    * ``"truncated"``: the gradient into ``H_{t-1}`` is cut before every step
      ``t = bptt_k, 2 bptt_k, ...`` (t counted from 0 within one call), so it flows
      back within blocks of ``bptt_k`` steps only;
    * ``"randomized"``: the gradient into ``H_{t-1}`` at every step ``t >= 1`` is
      multiplied by an independent ``ξ_t``: 0 with probability ``1 - bptt_pi`` and
      ``1 / bptt_pi`` with probability ``bptt_pi``, so ``E[ξ_t] = 1`` and the gradient
      is unbiased. One ξ_t per step, shared by the whole minibatch, drawn from torch's
      default generator (reproducible under ``torch.manual_seed``).

    The forward values are the same in every mode. Truncation acts only while training
    (``module.training`` and autograd recording); in eval mode or under
    ``torch.no_grad()`` no ξ is drawn, so generation does not consume random numbers.
    Whether the gradient flows into the incoming ``state`` is the caller's business (the
    trainer detaches it).
    """

    def __init__(self, num_inputs: int, num_hiddens: int, bptt: str = "full",
                 bptt_k: int = 10, bptt_pi: float = 0.1,
                 init_std: float = 0.01) -> None:
        _check_rnn_cell_args(num_inputs, num_hiddens, bptt, bptt_k, bptt_pi, init_std)
        super().__init__()
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens
        self.bptt, self.bptt_k, self.bptt_pi = bptt, bptt_k, bptt_pi
        self.W_xh = _normal(num_inputs, num_hiddens, std=init_std)
        self.W_hh = _normal(num_hiddens, num_hiddens, std=init_std)
        self.b_h = _zeros(num_hiddens)

    def begin_state(self, batch_size: int, device=None) -> torch.Tensor:
        """Zeros (batch_size, num_hiddens)."""
        return _zero_state(self.W_hh, device, batch_size, self.num_hiddens)

    def grad_factors(self, num_steps: int) -> list[float] | None:
        """ξ_t for t = 0..num_steps-1 (the factor on the gradient into H_{t-1}), or None
        for full BPTT."""
        if self.bptt == "full" or not (self.training and torch.is_grad_enabled()):
            return None
        if self.bptt == "truncated":
            return [0.0 if t > 0 and t % self.bptt_k == 0 else 1.0
                    for t in range(num_steps)]
        # torch's CPU generator
        keep = (torch.rand(num_steps - 1) < self.bptt_pi).tolist()
        return [1.0] + [1.0 / self.bptt_pi if k else 0.0 for k in keep]

    def forward(self, inputs: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (num_steps, batch, num_inputs), state H (batch, num_hiddens) or None
        (zeros) -> outputs (num_steps, batch, num_hiddens), final H (batch,
        num_hiddens)."""
        _check_cell_args(self, inputs, state)
        num_steps, batch_size, _ = inputs.shape
        # H_0: the given state, or zeros (batch, num_hiddens)
        H = self.begin_state(batch_size, inputs.device) if state is None else state
        # The input term X_t W_xh + b_h of every step at once; only the recurrent term
        # H_{t-1} W_hh must wait for the previous step: (num_steps, batch, num_hiddens)
        XW = input_projection(inputs, self.W_xh, self.b_h)
        xis = self.grad_factors(num_steps)  # ξ_t of every step (num_steps,), or None
        outputs = []
        # unbind: one view per step, a cheap backward; XW_t (batch, num_hiddens)
        for t, XW_t in enumerate(XW.unbind(0)):
            if xis is not None:
                # (batch, num_hiddens): same value, gradient into H_{t-1} times ξ_t
                H = scale_grad(H, xis[t])
            # H_t = tanh(X_t W_xh + b_h + H_{t-1} W_hh): (batch, num_hiddens)
            H = torch.tanh(torch.addmm(XW_t, H, self.W_hh))
            outputs.append(H)
        # outputs (num_steps, batch, num_hiddens), final H (batch, num_hiddens)
        return torch.stack(outputs), H


class GRUScratch(nn.Module):
    """The gated recurrent unit, as in the notes::

        R_t = σ(X_t W_xr + H_{t-1} W_hr + b_r)            reset gate
        Z_t = σ(X_t W_xz + H_{t-1} W_hz + b_z)            update gate
        H~_t = tanh(X_t W_xh + (R_t ⊙ H_{t-1}) W_hh + b_h)  candidate state
        H_t = Z_t ⊙ H_{t-1} + (1 - Z_t) ⊙ H~_t

    ``reset_after=True`` is the variant of ``torch.nn.GRU`` (and cuDNN), which resets
    after the matrix product:
    ``H~_t = tanh(X_t W_xh + b_h + R_t ⊙ (H_{t-1} W_hh + b_hn))``, with an extra bias
    ``b_hn``. Only that variant equals ``nn.GRU`` (see ``copy_from_torch``).

    ``W_x*`` are (num_inputs, num_hiddens), ``W_h*`` (num_hiddens, num_hiddens), N(0,
    init_std²); biases (num_hiddens,), zeros. State: H (batch, num_hiddens).

    The parameters are one per gate, named as in the equations; ``forward`` puts them
    side by side, so that one matrix product computes the input terms of all gates and
    steps, and one per step the recurrent terms of R and Z, as ``torch.nn`` does.
    """

    def __init__(self, num_inputs: int, num_hiddens: int, reset_after: bool = False,
                 init_std: float = 0.01) -> None:
        _check_cell_sizes(num_inputs, num_hiddens, init_std, reset_after=reset_after)
        super().__init__()
        self.num_inputs, self.num_hiddens, self.reset_after = (
            num_inputs, num_hiddens, reset_after)

        def triple():
            return (_normal(num_inputs, num_hiddens, std=init_std),
                    _normal(num_hiddens, num_hiddens, std=init_std),
                    _zeros(num_hiddens))

        self.W_xz, self.W_hz, self.b_z = triple()  # update gate
        self.W_xr, self.W_hr, self.b_r = triple()  # reset gate
        self.W_xh, self.W_hh, self.b_h = triple()  # candidate hidden state
        if reset_after:
            self.b_hn = _zeros(num_hiddens)

    def begin_state(self, batch_size: int, device=None) -> torch.Tensor:
        """Zeros (batch_size, num_hiddens)."""
        return _zero_state(self.W_hh, device, batch_size, self.num_hiddens)

    def forward(self, inputs: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (num_steps, batch, num_inputs), state H (batch, num_hiddens) or None
        (zeros) -> outputs (num_steps, batch, num_hiddens), final H (batch,
        num_hiddens)."""
        _check_cell_args(self, inputs, state)
        # H_0: the given state, or zeros (batch, num_hiddens)
        H = self.begin_state(inputs.shape[1], inputs.device) if state is None else state
        # The gates' weights side by side, so that one matrix product computes them all
        # (the candidate's W_hh has to wait for R_t): W_x (num_inputs, 3 * num_hiddens)
        W_x = torch.cat([self.W_xr, self.W_xz, self.W_xh], dim=1)
        W_h = torch.cat([self.W_hr, self.W_hz], dim=1)  # (num_hiddens, 2 * num_hiddens)
        b = torch.cat([self.b_r, self.b_z, self.b_h])  # (3 * num_hiddens,)
        # X_t W_x* + b_* of all gates and steps: (num_steps, batch, 3 * num_hiddens)
        XW = input_projection(inputs, W_x, b)
        outputs = []
        for XW_t in XW.unbind(0):  # one step at a time: XW_t (batch, 3 * num_hiddens)
            XR_t, XZ_t, XH_t = XW_t.chunk(3, dim=1)  # each (batch, num_hiddens)
            # H_{t-1} W_hr and H_{t-1} W_hz, each (batch, num_hiddens)
            HR_t, HZ_t = (H @ W_h).chunk(2, dim=1)
            R = torch.sigmoid(XR_t + HR_t)  # reset gate R_t (batch, num_hiddens)
            Z = torch.sigmoid(XZ_t + HZ_t)  # update gate Z_t (batch, num_hiddens)
            if self.reset_after:  # torch.nn.GRU's variant: (batch, num_hiddens)
                H_tilde = torch.tanh(XH_t + R * torch.addmm(self.b_hn, H, self.W_hh))
            else:  # candidate state H~_t (batch, num_hiddens)
                H_tilde = torch.tanh(torch.addmm(XH_t, R * H, self.W_hh))
            H = Z * H + (1 - Z) * H_tilde  # H_t (batch, num_hiddens)
            outputs.append(H)
        # outputs (num_steps, batch, num_hiddens), final H (batch, num_hiddens)
        return torch.stack(outputs), H


class LSTMScratch(nn.Module):
    """Long short-term memory, as in the notes::

        I_t = σ(X_t W_xi + H_{t-1} W_hi + b_i)       input gate
        F_t = σ(X_t W_xf + H_{t-1} W_hf + b_f)       forget gate
        O_t = σ(X_t W_xo + H_{t-1} W_ho + b_o)       output gate
        C~_t = tanh(X_t W_xc + H_{t-1} W_hc + b_c)   candidate memory
        C_t = F_t ⊙ C_{t-1} + I_t ⊙ C~_t
        H_t = O_t ⊙ tanh(C_t)

    ``W_x*`` are (num_inputs, num_hiddens), ``W_h*`` (num_hiddens, num_hiddens), N(0,
    init_std²); biases (num_hiddens,), zeros. State: (H, C), each (batch, num_hiddens).

    The parameters are one per gate, named as in the equations; ``forward`` puts them
    side by side, so that one matrix product computes the input terms of all gates and
    steps, and one per step the recurrent terms of all four gates, as ``torch.nn`` does.
    """

    def __init__(self, num_inputs: int, num_hiddens: int,
                 init_std: float = 0.01) -> None:
        _check_cell_sizes(num_inputs, num_hiddens, init_std)
        super().__init__()
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens

        def triple():
            return (_normal(num_inputs, num_hiddens, std=init_std),
                    _normal(num_hiddens, num_hiddens, std=init_std),
                    _zeros(num_hiddens))

        self.W_xi, self.W_hi, self.b_i = triple()  # input gate
        self.W_xf, self.W_hf, self.b_f = triple()  # forget gate
        self.W_xo, self.W_ho, self.b_o = triple()  # output gate
        self.W_xc, self.W_hc, self.b_c = triple()  # candidate memory cell

    def begin_state(self, batch_size: int,
                    device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(H, C): zeros, each (batch_size, num_hiddens)."""
        return (_zero_state(self.W_hi, device, batch_size, self.num_hiddens),
                _zero_state(self.W_hi, device, batch_size, self.num_hiddens))

    def forward(self, inputs: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """inputs (num_steps, batch, num_inputs), state (H, C) or None (zeros)
        -> outputs (num_steps, batch, num_hiddens), final (H, C), each (batch,
        num_hiddens)."""
        _check_cell_args(self, inputs, state)
        batch_size = inputs.shape[1]
        # (H_0, C_0): the given state, or zeros, each (batch, num_hiddens)
        H, C = self.begin_state(batch_size, inputs.device) if state is None else state
        # The four gates' weights side by side, so that one matrix product computes
        # them all: W_x (num_inputs, 4 * num_hiddens)
        W_x = torch.cat([self.W_xi, self.W_xf, self.W_xo, self.W_xc], dim=1)
        # (num_hiddens, 4 * num_hiddens)
        W_h = torch.cat([self.W_hi, self.W_hf, self.W_ho, self.W_hc], dim=1)
        b = torch.cat([self.b_i, self.b_f, self.b_o, self.b_c])  # (4 * num_hiddens,)
        # X_t W_x* + b_* of all gates and steps: (num_steps, batch, 4 * num_hiddens)
        XW = input_projection(inputs, W_x, b)
        outputs = []
        for XW_t in XW.unbind(0):  # one step at a time: XW_t (batch, 4 * num_hiddens)
            # X_t W_x* + H_{t-1} W_h* + b_* of the four gates, each (batch, num_hiddens)
            A_i, A_f, A_o, A_c = torch.addmm(XW_t, H, W_h).chunk(4, dim=1)
            I = torch.sigmoid(A_i)  # input gate I_t (batch, num_hiddens)
            F = torch.sigmoid(A_f)  # forget gate F_t (batch, num_hiddens)
            O = torch.sigmoid(A_o)  # output gate O_t (batch, num_hiddens)
            C_tilde = torch.tanh(A_c)  # candidate memory C~_t (batch, num_hiddens)
            C = F * C + I * C_tilde  # memory C_t (batch, num_hiddens)
            H = O * torch.tanh(C)  # hidden state H_t (batch, num_hiddens)
            outputs.append(H)
        # outputs (num_steps, batch, num_hiddens); final H and C (batch, num_hiddens)
        return torch.stack(outputs), (H, C)


CELLS: dict[str, type[nn.Module]] = {"rnn": RNNScratch, "gru": GRUScratch,
                                     "lstm": LSTMScratch}


@torch.no_grad()
def gate_activations(cell: GRUScratch | LSTMScratch, inputs: torch.Tensor,
                     state=None) -> dict[str, torch.Tensor]:
    """The gates of a scratch GRU or LSTM cell at every step of ``inputs``.

    Runs the cell, then evaluates each gate's equation on the hidden state before every
    step, all steps in one batched product. Returns ``{"R", "Z"}`` (GRU) or ``{"I",
    "F", "O"}`` (LSTM), each (num_steps, batch, num_hiddens); ``state`` as for the
    cell's ``forward``.
    """
    check_type("cell", cell, (GRUScratch, LSTMScratch))
    outputs, _ = cell(inputs, state)  # (num_steps, batch, num_hiddens)
    if state is None:
        state = cell.begin_state(inputs.shape[1], inputs.device)
    H0 = state if isinstance(cell, GRUScratch) else state[0]  # (batch, num_hiddens)
    H_prev = torch.cat([H0[None], outputs[:-1]])  # H_{t-1} for every step t
    names = ({"R": "r", "Z": "z"} if isinstance(cell, GRUScratch)
             else {"I": "i", "F": "f", "O": "o"})
    return {G: torch.sigmoid(input_projection(inputs, getattr(cell, f"W_x{g}"),
                                              getattr(cell, f"b_{g}"))
                             + H_prev @ getattr(cell, f"W_h{g}"))
            for G, g in names.items()}


# --------------------------------------------------------------- deep and bidirectional

def _check_stacked_state(state, cell: str, shape: tuple[int, int, int],
                         who: str) -> State:
    """A state in torch.nn's layout: (num_layers * num_directions, batch, num_hiddens),
    or (H, C) of those; returned as is, an (H, C) list as a tuple."""
    if cell == "lstm":
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"{who}: an LSTM state must be a tuple (H, C) of tensors "
                            f"of shape {shape}, got {type(state).__name__}")
        parts = {"H": state[0], "C": state[1]}
    else:
        parts = {"state": state}
    for name, part in parts.items():
        if not isinstance(part, torch.Tensor):
            raise TypeError(f"{who}: {name} must be a tensor of shape (num_layers * "
                            f"num_directions, batch, num_hiddens) = {shape}, got "
                            f"{type(part).__name__}")
        if tuple(part.shape) != shape:
            raise ValueError(f"{who}: {name} must have shape (num_layers * "
                             f"num_directions, batch, num_hiddens) = {shape}, got "
                             f"shape {tuple(part.shape)}")
    return tuple(state) if cell == "lstm" else state


def _check_stack_args(cell: str, num_layers: int, bidirectional: bool,
                      dropout: float) -> None:
    check_choice("cell", cell, CELLS)
    check_positive_int("num_layers", num_layers)
    check_bool("bidirectional", bidirectional)
    check_probability("dropout", dropout)


def _check_stack_call(stack: "RecurrentStack", inputs, state) -> None:
    """The arguments of ``RecurrentStack.forward``; its cells then skip their own
    checks (see ``_check_cell_args``)."""
    dtype = next(stack.parameters()).dtype
    _check_inputs(inputs, stack.num_inputs, dtype, "RecurrentStack")
    if state is not None:
        shape = (len(stack.cells), inputs.shape[1], stack.num_hiddens)
        _check_stacked_state(state, stack.cell, shape, "RecurrentStack")



def _stack_checks_its_cells(stack: "RecurrentStack", args) -> None:
    ids = frozenset(id(c) for c in stack.cells)
    _CELLS_CHECKED_BY_STACK.set(_CELLS_CHECKED_BY_STACK.get() + (ids,))


def _stack_done(stack: "RecurrentStack", args, output) -> None:
    _CELLS_CHECKED_BY_STACK.set(_CELLS_CHECKED_BY_STACK.get()[:-1])


class RecurrentStack(nn.Module):
    """``num_layers`` layers of scratch cells, each layer one cell per direction.

    Layer 0 reads the inputs, layer l > 0 reads the outputs of layer l - 1 (both
    directions concatenated), with dropout between layers while training, as
    ``torch.nn.RNN`` does. The backward cell of a bidirectional layer reads the sequence
    in reverse; its outputs are flipped back, so ``outputs[t]`` of either direction
    belongs to position t.

    ``cells[l * num_directions + d]`` is the cell of layer l, direction d (0 forward, 1
    backward), the order of torch.nn's state. forward: inputs (num_steps, batch,
    num_inputs), state or None -> outputs (num_steps, batch, num_directions *
    num_hiddens) of the last layer, and the final state: a tensor (num_layers *
    num_directions, batch, num_hiddens), or (H, C) of those for "lstm". A bidirectional
    stack sees the whole sequence: fine for tagging or filling in blanks, but not for
    predicting the next token.

    ``forward`` checks its inputs and state once, on entry; its cells then skip their
    own checks.
    """

    def __init__(self, cell: str, num_inputs: int, num_hiddens: int,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
                 **cell_kwargs) -> None:
        _check_stack_args(cell, num_layers, bidirectional, dropout)
        super().__init__()
        self.cell, self.num_inputs, self.num_hiddens = cell, num_inputs, num_hiddens
        self.num_layers, self.dropout = num_layers, dropout
        self.num_directions = 2 if bidirectional else 1
        self.cells = nn.ModuleList()
        for layer in range(num_layers):
            layer_inputs = (num_inputs if layer == 0
                            else num_hiddens * self.num_directions)
            for _ in range(self.num_directions):
                self.cells.append(CELLS[cell](layer_inputs, num_hiddens, **cell_kwargs))
        # forward checks its own arguments once; while it runs, its cells skip theirs
        self.register_forward_pre_hook(_stack_checks_its_cells)
        self.register_forward_hook(_stack_done, always_call=True)

    def begin_state(self, batch_size: int, device=None) -> State:
        """Zeros (num_layers * num_directions, batch_size, num_hiddens); a pair (H, C)
        of them for "lstm"."""
        def zeros():
            return _zero_state(next(self.parameters()), device, len(self.cells),
                               batch_size, self.num_hiddens)

        return (zeros(), zeros()) if self.cell == "lstm" else zeros()

    def forward(self, inputs: torch.Tensor,
                state: State | None = None) -> tuple[torch.Tensor, State]:
        _check_stack_call(self, inputs, state)
        if state is None:
            # zeros (num_layers * num_directions, batch, num_hiddens), or (H, C) of them
            state = self.begin_state(inputs.shape[1], inputs.device)
        layer_inputs = inputs  # (num_steps, batch, num_inputs) into layer 0
        final_states = []  # one per cell, in the order of self.cells
        for layer in range(self.num_layers):
            if layer > 0:  # dropout between layers, while training
                # (num_steps, batch, num_directions * num_hiddens)
                layer_inputs = dropout(layer_inputs, self.dropout, self.training)
            outputs = []  # one (num_steps, batch, num_hiddens) per direction
            for direction in range(self.num_directions):
                i = layer * self.num_directions + direction
                # the cell's initial state: (batch, num_hiddens), or (H, C) of those
                cell_state = ((state[0][i], state[1][i]) if self.cell == "lstm"
                              else state[i])
                if direction == 0:
                    # out (num_steps, batch, num_hiddens)
                    out, cell_state = self.cells[i](layer_inputs, cell_state)
                else:
                    # read the sequence backwards, then put the outputs back in time
                    # order: out (num_steps, batch, num_hiddens)
                    out, cell_state = self.cells[i](layer_inputs.flip(0), cell_state)
                    out = out.flip(0)  # (num_steps, batch, num_hiddens)
                outputs.append(out)
                final_states.append(cell_state)
            # directions side by side: (num_steps, batch, num_directions * num_hiddens)
            layer_inputs = (outputs[0] if self.num_directions == 1
                            else torch.cat(outputs, dim=-1))
        if self.cell == "lstm":
            # each (num_layers * num_directions, batch, num_hiddens)
            state = (torch.stack([H for H, _ in final_states]),
                     torch.stack([C for _, C in final_states]))
        else:
            # (num_layers * num_directions, batch, num_hiddens)
            state = torch.stack(final_states)
        return layer_inputs, state


# ---------------------------------------------------------------------- language models

def _check_torch_layer(rnn_layer, vocab_size: int) -> None:
    if not isinstance(rnn_layer, (nn.RNN, nn.GRU, nn.LSTM)):
        raise TypeError("rnn_layer must be an nn.RNN, nn.GRU or nn.LSTM, got "
                        f"{type(rnn_layer).__name__}")
    check_positive_int("vocab_size", vocab_size)
    if rnn_layer.input_size != vocab_size:
        raise ValueError(f"rnn_layer.input_size must equal vocab_size={vocab_size} "
                         f"(one-hot inputs), got {rnn_layer.input_size}")
    if rnn_layer.batch_first:
        raise ValueError("RNNModel feeds time-major inputs (num_steps, batch, "
                         "vocab_size): build the layer with batch_first=False")
    if getattr(rnn_layer, "proj_size", 0):
        raise ValueError("LSTM projections are not supported: build the layer with "
                         f"proj_size=0, got {rnn_layer.proj_size}")


def _check_model_call(net: "RNNModel", X, state) -> State | None:
    """The arguments of ``RNNModel.forward``: token ids, and a state in torch.nn's
    layout or None; returns the state (an LSTM's (H, C) as a tuple, as nn.LSTM wants
    it)."""
    _check_tokens(X, net.vocab_size, "RNNModel")
    if state is None:
        return None
    shape = (net.num_layers * net.num_directions, X.shape[0], net.num_hiddens)
    return _check_stacked_state(state, net.cell, shape, "RNNModel")


class RNNModelScratch(nn.Module):
    """The character language model of the notes, built on the scratch cells.

    Token ids -> one-hot vectors -> ``RecurrentStack`` (``self.rnn``) -> output layer
    ``W_hq`` (num_hiddens * num_directions, vocab_size), ``b_q`` (vocab_size,).
    ``cell`` is "rnn", "gru" or "lstm"; ``cell_kwargs`` go to every cell (e.g.
    ``bptt="truncated"`` for "rnn", ``reset_after=True`` for "gru").

    ``forward(X, state)``: X LongTensor (batch, num_steps) -> logits (num_steps * batch,
    vocab_size), time-major (row t * batch + b is step t of sequence b), and the final
    state in torch.nn's layout (see ``begin_state``). A bidirectional model sees the
    future tokens, so it is not a valid next-token predictor or generator: its training
    loss is misleadingly low.
    """

    def __init__(self, vocab_size: int, num_hiddens: int, cell: str = "rnn",
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
                 init_std: float = 0.01, **cell_kwargs) -> None:
        super().__init__()
        self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
        self.rnn = RecurrentStack(cell, vocab_size, num_hiddens, num_layers,
                                  bidirectional, dropout, init_std=init_std,
                                  **cell_kwargs)
        self.cell, self.num_layers, self.num_directions = (
            cell, num_layers, self.rnn.num_directions)
        self.W_hq = _normal(num_hiddens * self.num_directions, vocab_size, std=init_std)
        self.b_q = _zeros(vocab_size)

    def begin_state(self, batch_size: int, device=None) -> State:
        """Zeros (num_layers * num_directions, batch_size, num_hiddens); a pair (H, C)
        of them for "lstm"."""
        return self.rnn.begin_state(batch_size, device)

    def forward(self, X: torch.Tensor,
                state: State | None = None) -> tuple[torch.Tensor, State]:
        _check_tokens(X, self.vocab_size, "RNNModelScratch")  # the stack checks state
        # one-hot and time-major: (num_steps, batch, vocab_size)
        inputs = one_hot(X.T, self.vocab_size).to(self.W_hq.dtype)
        # (num_steps, batch, num_directions * num_hiddens)
        outputs, state = self.rnn(inputs, state)
        # (num_steps * batch, vocab_size), row t * batch + b
        logits = torch.addmm(self.b_q, outputs.reshape(-1, outputs.shape[-1]),
                             self.W_hq)
        return logits, state


class RNNModel(nn.Module):
    """The same language model on a ``torch.nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` layer
    (``self.rnn``).

    The layer must take one-hot inputs (``input_size == vocab_size``) time-major
    (``batch_first=False``); any ``num_layers``, ``bidirectional`` and ``dropout``.
    Output layer ``self.linear = nn.Linear(num_hiddens * num_directions, vocab_size)``.
    Same ``forward`` and ``begin_state`` as ``RNNModelScratch``.
    """

    def __init__(self, rnn_layer: nn.Module, vocab_size: int) -> None:
        _check_torch_layer(rnn_layer, vocab_size)
        super().__init__()
        self.rnn, self.vocab_size = rnn_layer, vocab_size
        self.num_hiddens, self.num_layers = rnn_layer.hidden_size, rnn_layer.num_layers
        self.num_directions = 2 if rnn_layer.bidirectional else 1
        self.cell = {nn.LSTM: "lstm", nn.GRU: "gru"}.get(type(rnn_layer), "rnn")
        self.linear = nn.Linear(self.num_hiddens * self.num_directions, vocab_size)

    def begin_state(self, batch_size: int, device=None) -> State:
        """Zeros (num_layers * num_directions, batch_size, num_hiddens); a pair (H, C)
        of them for nn.LSTM."""
        def zeros():
            shape = (self.num_layers * self.num_directions, batch_size,
                     self.num_hiddens)
            return _zero_state(self.linear.weight, device, *shape)

        return (zeros(), zeros()) if self.cell == "lstm" else zeros()

    def forward(self, X: torch.Tensor,
                state: State | None = None) -> tuple[torch.Tensor, State]:
        state = _check_model_call(self, X, state)  # an LSTM's (H, C) as a tuple
        # one-hot and time-major: (num_steps, batch, vocab_size)
        inputs = one_hot(X.T, self.vocab_size).to(self.linear.weight.dtype)
        # (num_steps, batch, num_directions * num_hiddens)
        outputs, state = self.rnn(inputs, state)
        # (num_steps * batch, vocab_size), row t * batch + b
        return self.linear(outputs.reshape(-1, outputs.shape[-1])), state


# ---------------------------------------------------------------- weights from torch.nn

def _torch_params(layer: nn.Module, index: int, direction: int):
    """weight_ih (gates * h, d), weight_hh (gates * h, h), bias_ih, bias_hh (zeros if
    bias=False) of one cell."""
    suffix = f"_l{index}" + ("_reverse" if direction == 1 else "")
    W_ih, W_hh = (getattr(layer, "weight_ih" + suffix),
                  getattr(layer, "weight_hh" + suffix))
    if layer.bias:
        b_ih, b_hh = (getattr(layer, "bias_ih" + suffix),
                      getattr(layer, "bias_hh" + suffix))
    else:
        b_ih = b_hh = torch.zeros(W_ih.shape[0], dtype=W_ih.dtype, device=W_ih.device)
    return W_ih, W_hh, b_ih, b_hh


def _copy_cell(cell: nn.Module, layer: nn.Module, index: int, direction: int) -> None:
    expected = {RNNScratch: nn.RNN, GRUScratch: nn.GRU,
                LSTMScratch: nn.LSTM}[type(cell)]
    if type(layer) is not expected:
        raise TypeError(f"a {type(cell).__name__} takes weights from an "
                        f"nn.{expected.__name__}, got {type(layer).__name__}")
    if (not 0 <= index < layer.num_layers
            or direction not in ((0, 1) if layer.bidirectional else (0,))):
        raise ValueError(f"the torch layer has {layer.num_layers} layer(s), "
                         f"bidirectional={layer.bidirectional}; got layer={index}, "
                         f"direction={direction}")
    W_ih, W_hh, b_ih, b_hh = _torch_params(layer, index, direction)
    if W_ih.shape[1] != cell.num_inputs or W_hh.shape[1] != cell.num_hiddens:
        raise ValueError("size mismatch: the scratch cell has "
                         f"num_inputs={cell.num_inputs}, "
                         f"num_hiddens={cell.num_hiddens}; the torch cell has "
                         f"{W_ih.shape[1]} and {W_hh.shape[1]}")
    # torch computes x W_ih^T + b_ih + h W_hh^T + b_hh with the gates stacked along dim
    # 0
    num_gates = W_ih.shape[0] // cell.num_hiddens
    # each (d, h) and (h, h)
    W_x, W_h = W_ih.T.chunk(num_gates, dim=1), W_hh.T.chunk(num_gates, dim=1)
    b_x, b_h = b_ih.chunk(num_gates), b_hh.chunk(num_gates)
    if isinstance(cell, RNNScratch):
        if layer.nonlinearity != "tanh":
            raise ValueError("RNNScratch uses tanh; the torch layer uses "
                             f"{layer.nonlinearity!r}")
        targets = [(cell.W_xh, W_x[0]), (cell.W_hh, W_h[0]),
                   (cell.b_h, b_x[0] + b_h[0])]
    elif isinstance(cell, GRUScratch):
        if not cell.reset_after:
            raise ValueError("nn.GRU resets after the matrix product, R ⊙ (H W_hh + "
                             "b_hn): only GRUScratch(reset_after=True) computes the "
                             "same function")
        r, z, n = 0, 1, 2  # torch's gate order
        targets = [(cell.W_xr, W_x[r]), (cell.W_hr, W_h[r]),
                   (cell.b_r, b_x[r] + b_h[r]), (cell.W_xz, W_x[z]),
                   (cell.W_hz, W_h[z]), (cell.b_z, b_x[z] + b_h[z]),
                   (cell.W_xh, W_x[n]), (cell.W_hh, W_h[n]), (cell.b_h, b_x[n]),
                   (cell.b_hn, b_h[n])]
    else:
        i, f, g, o = 0, 1, 2, 3  # torch's gate order; g is the candidate memory
        targets = [(cell.W_xi, W_x[i]), (cell.W_hi, W_h[i]),
                   (cell.b_i, b_x[i] + b_h[i]), (cell.W_xf, W_x[f]),
                   (cell.W_hf, W_h[f]), (cell.b_f, b_x[f] + b_h[f]),
                   (cell.W_xc, W_x[g]), (cell.W_hc, W_h[g]),
                   (cell.b_c, b_x[g] + b_h[g]), (cell.W_xo, W_x[o]),
                   (cell.W_ho, W_h[o]), (cell.b_o, b_x[o] + b_h[o])]
    with torch.no_grad():
        for param, value in targets:
            param.copy_(value)


def copy_from_torch(scratch: nn.Module, torch_module: nn.Module, layer: int = 0,
                    direction: int = 0) -> None:
    """Copy weights from torch.nn into a scratch module, in place, so both compute the
    same function.

    * a cell (``RNNScratch``, ``GRUScratch(reset_after=True)``, ``LSTMScratch``) from
      the cell ``layer``, ``direction`` of an ``nn.RNN`` (tanh) / ``nn.GRU`` /
      ``nn.LSTM``;
    * a ``RecurrentStack`` from a torch layer with the same cell, sizes, layers and
      directions;
    * an ``RNNModelScratch`` from an ``RNNModel`` (recurrent layers and output layer).

    torch keeps two biases per gate (``b_ih + b_hh``); the scratch cells one (their
    sum), except the GRU's candidate, whose hidden bias ``b_hn`` sits inside the reset
    gate.
    """
    if isinstance(scratch, RNNModelScratch):
        if not isinstance(torch_module, RNNModel):
            raise TypeError(f"an RNNModelScratch takes weights from an RNNModel, "
                            f"got {type(torch_module).__name__}")
        copy_from_torch(scratch.rnn, torch_module.rnn)
        with torch.no_grad():
            scratch.W_hq.copy_(torch_module.linear.weight.T)
            scratch.b_q.copy_(torch_module.linear.bias)
    elif isinstance(scratch, RecurrentStack):
        if not isinstance(torch_module, (nn.RNN, nn.GRU, nn.LSTM)):
            raise TypeError("a RecurrentStack takes weights from an nn.RNN, nn.GRU or "
                            f"nn.LSTM, got {type(torch_module).__name__}")
        torch_dirs = 2 if torch_module.bidirectional else 1
        if ((scratch.num_layers, scratch.num_directions)
                != (torch_module.num_layers, torch_dirs)):
            raise ValueError(f"the scratch stack has num_layers={scratch.num_layers}, "
                             f"num_directions={scratch.num_directions}; the torch "
                             f"layer {torch_module.num_layers} and {torch_dirs}")
        for i, cell in enumerate(scratch.cells):
            _copy_cell(cell, torch_module, i // scratch.num_directions,
                       i % scratch.num_directions)
    elif isinstance(scratch, tuple(CELLS.values())):
        _copy_cell(scratch, torch_module, layer, direction)
    else:
        raise TypeError("copy_from_torch copies into a scratch cell, RecurrentStack or "
                        f"RNNModelScratch, got {type(scratch).__name__}")
