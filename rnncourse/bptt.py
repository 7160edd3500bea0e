"""Backpropagation through time, by hand, for the linear RNN of the notes.

The model has no biases and no nonlinearity, column-vector convention::

    h_t = W_hx x_t + W_hh h_{t-1}      h_0 = 0, h_t of size h, x_t of size d
    o_t = W_qh h_t                     o_t of size q
    L   = (1/T) Σ_t ℓ(o_t, y_t)        ℓ = cross-entropy, y_t an integer label

with ``W_hx`` (h, d), ``W_hh`` (h, h), ``W_qh`` (q, h). ``X`` (T, d) holds x_1..x_T as
rows and ``Y`` (T,) the labels; in code, row ``t - 1`` is time step ``t``.

``bptt_linear`` computes the gradients with the recursions of the notes (the tests check
them against autograd); ``hidden_grad_norms`` and ``scale_spectral_radius`` show why
long products of ``W_hh`` make gradients vanish or explode.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_number, check_positive_int, check_type

__all__ = [
    "linear_rnn_forward",
    "linear_rnn_hidden_grads",
    "bptt_linear",
    "hidden_grad_norms",
    "spectral_radius",
    "scale_spectral_radius",
]


def _check_matrix(name: str, W) -> None:
    """A 2-D float tensor: a weight matrix, or the inputs X."""
    if not isinstance(W, torch.Tensor) or not W.is_floating_point():
        got = f"dtype {W.dtype}" if isinstance(W, torch.Tensor) else type(W).__name__
        raise TypeError(f"{name} must be a 2-D float tensor, got {got}")
    if W.dim() != 2:
        raise ValueError(f"{name} must be a 2-D float tensor, got shape "
                         f"{tuple(W.shape)}")


def _check_weights(W_hx: torch.Tensor, W_hh: torch.Tensor, W_qh: torch.Tensor,
                   X: torch.Tensor) -> None:
    """W_hx (h, d), W_hh (h, h), W_qh (q, h) and X (T, d), T >= 1, all float."""
    for name, W in (("W_hx", W_hx), ("W_hh", W_hh), ("W_qh", W_qh), ("X", X)):
        _check_matrix(name, W)
    h, d = W_hx.shape
    if W_hh.shape != (h, h):
        raise ValueError(f"W_hh must be (h, h) = ({h}, {h}) to match W_hx (h, d) = "
                         f"{tuple(W_hx.shape)}, got {tuple(W_hh.shape)}")
    if W_qh.shape[1] != h:
        raise ValueError(f"W_qh must be (q, h) with h = {h}, got {tuple(W_qh.shape)}")
    if X.shape[1] != d or X.shape[0] < 1:
        raise ValueError(f"X must be (T, d) with T >= 1 and d = {d}, got "
                         f"{tuple(X.shape)}")


def _check_labels(Y, O: torch.Tensor) -> None:
    """Y: a LongTensor of T labels in [0, q), for the outputs O (T, q)."""
    (T, q), dtype = O.shape, getattr(Y, "dtype", type(Y).__name__)
    if not isinstance(Y, torch.Tensor) or Y.dtype != torch.long:
        raise TypeError(f"Y must be a LongTensor of T = {T} labels, got {dtype}")
    if tuple(Y.shape) != (T,):
        raise ValueError(f"Y must be a LongTensor of T = {T} labels, got shape "
                         f"{tuple(Y.shape)}")
    if bool(((Y < 0) | (Y >= q)).any()):
        raise ValueError(f"labels must lie in [0, q = {q}), got labels from "
                         f"{int(Y.min())} to {int(Y.max())}")


def _check_square(name: str, W) -> None:
    if not isinstance(W, torch.Tensor):
        raise TypeError(f"{name} must be a square matrix (tensor), got "
                        f"{type(W).__name__}")
    if W.dim() != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"{name} must be a square matrix (h, h), got "
                         f"{tuple(W.shape)}")


def _check_norm_args(W_hh, num_steps: int, grad_last) -> None:
    _check_square("W_hh", W_hh)
    check_positive_int("num_steps", num_steps)
    h = W_hh.shape[0]
    check_type("grad_last", grad_last, torch.Tensor, allow_none=True)
    if grad_last is not None and tuple(grad_last.shape) != (h,):
        raise ValueError(f"grad_last must have shape (h,) = ({h},), got "
                         f"{tuple(grad_last.shape)}")


def linear_rnn_forward(W_hx: torch.Tensor, W_hh: torch.Tensor, W_qh: torch.Tensor,
                       X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states H (T, h), row t-1 = h_t, and outputs O (T, q), row t-1 = o_t."""
    _check_weights(W_hx, W_hh, W_qh, X)
    T, h = X.shape[0], W_hh.shape[0]
    H = X.new_zeros(T, h)
    h_prev = X.new_zeros(h)  # h_0 = 0
    for t in range(T):
        H[t] = W_hx @ X[t] + W_hh @ h_prev  # h_t = W_hx x_t + W_hh h_{t-1}
        h_prev = H[t]
    O = H @ W_qh.T  # o_t = W_qh h_t, for every t at once
    return H, O


def _output_grads(O: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """∂L/∂o_t = (softmax(o_t) - onehot(y_t)) / T for every t: (T, q)."""
    T, q = O.shape
    return (torch.softmax(O, dim=1) - F.one_hot(Y, q).to(O.dtype)) / T


def _hidden_grads(W_hh: torch.Tensor, W_qh: torch.Tensor,
                  dO: torch.Tensor) -> torch.Tensor:
    """∂L/∂h_t for t = T..1, backwards, from the output gradients dO (T, q): (T, h)."""
    T, h = dO.shape[0], W_hh.shape[0]
    dH = dO.new_zeros(T, h)
    # ∂L/∂h_T = W_qhᵀ ∂L/∂o_T: h_T reaches L only through o_T
    dH[T - 1] = W_qh.T @ dO[T - 1]
    for t in range(T - 2, -1, -1):
        # ∂L/∂h_t = W_hhᵀ ∂L/∂h_{t+1} + W_qhᵀ ∂L/∂o_t: through h_{t+1} and through o_t
        dH[t] = W_hh.T @ dH[t + 1] + W_qh.T @ dO[t]
    return dH


def linear_rnn_hidden_grads(W_hx: torch.Tensor, W_hh: torch.Tensor, W_qh: torch.Tensor,
                            X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """∂L/∂h_t for t = 1..T as the rows of a (T, h) tensor (row t-1 is step t)."""
    _, O = linear_rnn_forward(W_hx, W_hh, W_qh, X)  # (T, q); checks W_* and X
    _check_labels(Y, O)
    return _hidden_grads(W_hh, W_qh, _output_grads(O, Y))


def bptt_linear(W_hx: torch.Tensor, W_hh: torch.Tensor, W_qh: torch.Tensor,
                X: torch.Tensor, Y: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients (∂L/∂W_hx, ∂L/∂W_hh, ∂L/∂W_qh) of the linear RNN, by
    backpropagation through time.

    W_hx (h, d), W_hh (h, h), W_qh (q, h), X (T, d) float, Y (T,) long labels in [0, q).
    Returns tensors of the shapes of W_hx, W_hh and W_qh.
    """
    # forward pass: (T, h), (T, q); linear_rnn_forward checks W_* and X
    H, O = linear_rnn_forward(W_hx, W_hh, W_qh, X)
    _check_labels(Y, O)
    dO = _output_grads(O, Y)  # ∂L/∂o_t, (T, q)
    dH = _hidden_grads(W_hh, W_qh, dO)  # ∂L/∂h_t, (T, h), computed backwards from t = T
    dW_hx, dW_hh, dW_qh = (torch.zeros_like(W_hx), torch.zeros_like(W_hh),
                           torch.zeros_like(W_qh))
    h_prev = X.new_zeros(W_hh.shape[0])  # h_0 = 0
    for t in range(X.shape[0]):
        dW_hx += torch.outer(dH[t], X[t])    # ∂L/∂W_hx = Σ_t ∂L/∂h_t x_tᵀ
        dW_hh += torch.outer(dH[t], h_prev)  # ∂L/∂W_hh = Σ_t ∂L/∂h_t h_{t-1}ᵀ
        dW_qh += torch.outer(dO[t], H[t])    # ∂L/∂W_qh = Σ_t ∂L/∂o_t h_tᵀ
        h_prev = H[t]
    return dW_hx, dW_hh, dW_qh


def hidden_grad_norms(W_hh: torch.Tensor, num_steps: int,
                      grad_last: torch.Tensor | None = None) -> torch.Tensor:
    """‖∂L/∂h_t‖ for t = 1..num_steps when the loss depends on the last state h_T alone.

    Then ∂L/∂h_t = (W_hhᵀ)^(T-t) ∂L/∂h_T: the gradient reaching step t is multiplied by
    W_hhᵀ once per step back, so its norm shrinks or grows roughly like ρ(W_hh)^(T-t).
    ``grad_last`` is ∂L/∂h_T, (h,); by default the unit vector (1, ..., 1)/√h.
    Returns a (num_steps,) tensor; entry t-1 belongs to step t (the last entry is
    ‖∂L/∂h_T‖).
    """
    _check_norm_args(W_hh, num_steps, grad_last)
    h = W_hh.shape[0]
    if grad_last is None:
        grad_last = W_hh.new_ones(h) / h ** 0.5  # (h,), unit norm
    norms = W_hh.new_zeros(num_steps)
    g = grad_last
    for t in range(num_steps - 1, -1, -1):
        norms[t] = torch.linalg.vector_norm(g)
        g = W_hh.T @ g  # ∂L/∂h_{t-1} = W_hhᵀ ∂L/∂h_t
    return norms


def spectral_radius(W: torch.Tensor) -> float:
    """ρ(W): the largest absolute value of the eigenvalues of a square matrix."""
    _check_square("W", W)
    return float(torch.linalg.eigvals(W).abs().max())


def scale_spectral_radius(W: torch.Tensor, radius: float) -> torch.Tensor:
    """``W`` times a scalar, so that its spectral radius is ``radius`` (eigenvalues
    scale with W)."""
    check_number("radius", radius, minimum=0)
    rho = spectral_radius(W)
    if rho == 0.0:
        raise ValueError("W has spectral radius 0 (all eigenvalues are 0): no scaling "
                         "can change that")
    return W * (radius / rho)
