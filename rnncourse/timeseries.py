"""Sequence models on a toy time series: a noisy sine, lag features, an MLP, and
predictions.

The pipeline of the sequence-models chapter::

    time, x = noisy_sine(T=1000, seed=0)        # (T,), (T,)
    features, labels = lag_features(x, tau=4)   # (T - tau, tau), (T - tau,)
    net = make_mlp(tau=4)
    losses = train_regressor(net, features[:n], labels[:n], epochs=5, lr=0.01)
    one_step_predictions(net, x, tau)           # (T - tau,)   predicts x[tau:]
    multistep_predictions(net, x, tau, n_train) # (T - n_train,) predicts x[n_train:]
    k_step_predictions(net, x, tau, k)          # (T - tau - k + 1, k)

An autoregressive model predicts x_t from the ``tau`` values before it. "One-step"
predictions always see observed values; "multi-step" predictions are fed their own
earlier predictions, so their errors compound.
"""
from __future__ import annotations

import torch
from torch import nn

from .loop import fit

__all__ = [
    "noisy_sine",
    "lag_features",
    "make_mlp",
    "train_regressor",
    "one_step_predictions",
    "multistep_predictions",
    "k_step_predictions",
    "k_step_targets",
]


def _check_series(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 1:
        raise ValueError("x must be a 1-D series of shape (T,), got shape "
                         f"{tuple(x.shape)}")


def _check_tau(x: torch.Tensor, tau: int) -> None:
    _check_series(x)
    if not 1 <= tau < len(x):
        raise ValueError(f"tau must satisfy 1 <= tau < len(x) = {len(x)}, got "
                         f"tau={tau}")


def noisy_sine(T: int = 1000, noise: float = 0.2,
               seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The series x_t = sin(0.01 t) + eps_t, eps_t ~ N(0, noise^2), for t = 1, ..., T.

    With ``seed`` the noise comes from a private ``torch.Generator`` (the same seed
    gives the same series, whatever else used the global RNG); without it, from torch's
    global RNG. Returns ``(time, x)``, both float32 of shape (T,); ``time`` is 1,
    2, ..., T.
    """
    if T < 1:
        raise ValueError(f"T must be at least 1, got {T}")
    if noise < 0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise}")
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    time = torch.arange(1, T + 1, dtype=torch.float32)                  # (T,)
    x = torch.sin(0.01 * time) + noise * torch.randn(T, generator=generator)  # (T,)
    return time, x


def lag_features(x: torch.Tensor, tau: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The last ``tau`` values as features for predicting the next one.

    x: (T,). Returns ``(features, labels)`` of shapes (T - tau, tau) and (T - tau,):
    ``features[i] == x[i : i + tau]`` and ``labels[i] == x[i + tau]``.
    """
    _check_tau(x, tau)
    # windows x[i:i+tau]; the last has no label
    features = x.unfold(0, tau, 1)[:-1].clone()
    labels = x[tau:].clone()
    return features, labels


def make_mlp(tau: int, num_hiddens: int = 10) -> nn.Sequential:
    """Linear(tau, num_hiddens) -> ReLU -> Linear(num_hiddens, 1), Xavier-uniform
    weights.

    Maps (batch, tau) lag windows to (batch, 1) predictions of the next value.
    """
    if tau < 1 or num_hiddens < 1:
        raise ValueError(f"tau and num_hiddens must be at least 1, got tau={tau}, "
                         f"num_hiddens={num_hiddens}")
    net = nn.Sequential(nn.Linear(tau, num_hiddens), nn.ReLU(),
                        nn.Linear(num_hiddens, 1))
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
    return net


class _ShuffledMinibatches:
    """Index minibatches of ``batch_size`` (the last may be smaller) covering 0..n-1 in
    a new random order each time it is iterated (torch's global RNG), on ``device``."""

    def __init__(self, n: int, batch_size: int, device: torch.device) -> None:
        self.n, self.batch_size, self.device = n, batch_size, device

    def __iter__(self):
        return iter(torch.randperm(self.n).to(self.device).split(self.batch_size))


def train_regressor(net: nn.Module, features: torch.Tensor, labels: torch.Tensor,
                    epochs: int, lr: float, batch_size: int = 16) -> list[float]:
    """Fit ``net`` to (features, labels) with Adam on the mean squared error.

    features: (n, tau), labels: (n,), on the device of ``net``. Minibatches are drawn in
    a random order from torch's global RNG (seed it, e.g. ``set_seed``, for a repeatable
    run). Returns the MSE over all of (features, labels) after each epoch: a list of
    ``epochs`` floats.
    """
    if features.dim() != 2 or labels.dim() != 1 or len(features) != len(labels):
        raise ValueError(f"need features (n, tau) and labels (n,), got shapes "
                         f"{tuple(features.shape)} and {tuple(labels.shape)}")
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1 and lr > 0, "
                         f"got epochs={epochs}, batch_size={batch_size}, lr={lr}")
    loss_fn = nn.MSELoss()

    def batch_loss(rows: torch.Tensor) -> tuple[torch.Tensor, int]:
        predictions = net(features[rows]).reshape(-1)  # (b, 1) -> (b,)
        return loss_fn(predictions, labels[rows]), len(rows)

    @torch.no_grad()
    def mse_on_all_rows() -> float:
        net.eval()
        return loss_fn(net(features).reshape(-1), labels).item()

    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    minibatches = _ShuffledMinibatches(len(features), batch_size, features.device)
    history = fit(net, minibatches, batch_loss, epochs, optimizer, theta=None,
                  evaluate=mse_on_all_rows, desc="regression")
    return history["valid"]  # one per epoch


@torch.no_grad()
def one_step_predictions(net: nn.Module, x: torch.Tensor, tau: int) -> torch.Tensor:
    """Predict each x[t], t >= tau, from the observed x[t - tau : t].

    x: (T,). Returns (T - tau,): entry i predicts x[i + tau].
    """
    features, _ = lag_features(x, tau)
    net.eval()
    return net(features).reshape(-1)


@torch.no_grad()
def multistep_predictions(net: nn.Module, x: torch.Tensor, tau: int,
                          n_train: int) -> torch.Tensor:
    """Observe x[:n_train], then predict x[n_train:] feeding the model its own
    predictions.

    Each new value is predicted from the ``tau`` values before it, which after the first
    ``tau`` steps are all predictions. x: (T,). Returns (T - n_train,): entry i predicts
    x[n_train + i].
    """
    _check_tau(x, tau)
    if not tau <= n_train < len(x):
        raise ValueError(f"n_train must satisfy tau <= n_train < len(x), "
                         f"got n_train={n_train}, tau={tau}, len(x)={len(x)}")
    net.eval()
    sequence = x.clone()  # sequence[:n_train] stays observed, the rest is overwritten
    for t in range(n_train, len(x)):
        sequence[t] = net(sequence[t - tau:t].reshape(1, tau)).reshape(())
    return sequence[n_train:]


@torch.no_grad()
def k_step_predictions(net: nn.Module, x: torch.Tensor, tau: int,
                       k: int) -> torch.Tensor:
    """From every observed window x[i : i + tau], predict the next ``k`` values, each
    one from the ``tau`` values before it (observed or predicted).

    x: (T,). Returns (T - tau - k + 1, k): entry [i, j] is the (j + 1)-step-ahead
    prediction of x[i + tau + j]; column 0 holds the one-step predictions.
    """
    _check_tau(x, tau)
    num_windows = len(x) - tau - k + 1
    if k < 1 or num_windows < 1:
        raise ValueError(f"k must satisfy 1 <= k <= len(x) - tau = {len(x) - tau}, got "
                         f"k={k}")
    net.eval()
    # columns[c][i] is the value at time i + c seen by window i: observed for c < tau,
    # predicted (c - tau + 1 steps ahead) for c >= tau.
    columns = [x[c:c + num_windows] for c in range(tau)]
    for _ in range(k):
        window = torch.stack(columns[-tau:], dim=1)  # (num_windows, tau)
        columns.append(net(window).reshape(-1))      # (num_windows,)
    return torch.stack(columns[tau:], dim=1)         # (num_windows, k)


def k_step_targets(x: torch.Tensor, tau: int, k: int) -> torch.Tensor:
    """The true values that ``k_step_predictions(net, x, tau, k)`` predicts.

    x: (T,). Returns (T - tau - k + 1, k) with entry [i, j] == x[i + tau + j].
    """
    _check_tau(x, tau)
    if not 1 <= k <= len(x) - tau:
        raise ValueError(f"k must satisfy 1 <= k <= len(x) - tau = {len(x) - tau}, got "
                         f"k={k}")
    return x.unfold(0, k, 1)[tau:].clone()
