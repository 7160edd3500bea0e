"""Attention pooling: queries, keys and values (Bahdanau et al. 2015; Luong et al.
2015).

A query q attends to K key–value pairs (k_1, v_1), ..., (k_K, v_K): each key gets a
score a(q, k_i), the scores become weights by a softmax, and the output is the weighted
average of the values::

    alpha(q, k_i) = exp(a(q, k_i)) / sum_j exp(a(q, k_j))
    attention(q) = sum_i alpha(q, k_i) v_i

Shapes (``B`` examples, ``Q`` queries and ``K`` key–value pairs per example)::

    queries (B, Q, d_q), keys (B, K, d_k), values (B, K, d_v) -> output (B, Q, d_v)
    valid_lens None, (B,) or (B, Q): only the first valid_lens keys count

* ``masked_softmax(scores, valid_lens)``: the softmax over the last axis of ``scores``
  (B, Q, K) in which the keys at or past a valid length (padding) get weight exactly 0.
* ``DotProductAttention``: the scaled dot-product score a(q, k) = qᵀk / √d (Luong et al.
  2015 without the scale; Vaswani et al. 2017 with it).
* ``AdditiveAttention``: Bahdanau's score a(q, k) = w_vᵀ tanh(W_q q + W_k k).

Both keep the weights of their last call in ``.attention_weights`` (B, Q, K).
"""
from __future__ import annotations

import math
import weakref

import torch
from torch import nn

from .checks import check_positive_int, check_probability, check_type

__all__ = ["masked_softmax", "select_lengths", "DotProductAttention", "AdditiveAttention"]


def _check_qkv(queries: torch.Tensor, keys: torch.Tensor,
               values: torch.Tensor) -> None:
    for name, x in (("queries", queries), ("keys", keys), ("values", values)):
        check_type(name, x, torch.Tensor)
        if x.dim() != 3:
            raise ValueError(f"{name} must be a 3-d tensor (batch, n, d), got "
                             f"{tuple(x.shape)}")
    if not queries.shape[0] == keys.shape[0] == values.shape[0]:
        raise ValueError("queries, keys and values must have the same batch size, got "
                         f"{queries.shape[0]}, {keys.shape[0]}, {values.shape[0]}")
    if keys.shape[1] != values.shape[1]:
        raise ValueError("keys and values must come in pairs: "
                         f"{keys.shape[1]} keys but {values.shape[1]} values")


def _check_dot_product_args(queries: torch.Tensor, keys: torch.Tensor,
                            values: torch.Tensor) -> None:
    _check_qkv(queries, keys, values)
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError("queries and keys must have the same size d, got "
                         f"{queries.shape[-1]} and {keys.shape[-1]}")


def _check_additive_args(queries: torch.Tensor, keys: torch.Tensor,
                         values: torch.Tensor, key_size: int) -> None:
    _check_qkv(queries, keys, values)
    if keys.shape[-1] != key_size:
        raise ValueError(f"keys must have size key_size={key_size}, got "
                         f"{keys.shape[-1]}")


def _check_queries(queries: torch.Tensor, query_size: int) -> None:
    if queries.dim() != 3 or queries.shape[-1] != query_size:
        raise ValueError(f"queries must have shape (batch, queries, query_size="
                         f"{query_size}), got {tuple(queries.shape)}")


def _check_sizes(key_size: int, query_size: int, num_hiddens: int,
                 dropout: float) -> None:
    check_positive_int("key_size", key_size)
    check_positive_int("query_size", query_size)
    check_positive_int("num_hiddens", num_hiddens)
    check_probability("dropout", dropout)


def _check_valid_lens(scores: torch.Tensor,
                      valid_lens: torch.Tensor | None) -> torch.Tensor | None:
    check_type("scores", scores, torch.Tensor)
    if scores.dim() != 3:
        raise ValueError("scores must be a 3-d tensor (batch, queries, keys), "
                         f"got {tuple(scores.shape)}")
    if not scores.is_floating_point():
        raise ValueError(f"scores must be floating point, got {scores.dtype}")
    if valid_lens is None:
        return None
    valid_lens = torch.as_tensor(valid_lens, device=scores.device)
    if valid_lens.is_floating_point() or valid_lens.dtype == torch.bool:
        raise ValueError(f"valid_lens must hold integers, got {valid_lens.dtype}")
    B, Q, K = scores.shape
    if valid_lens.shape not in ((B,), (B, Q)):
        raise ValueError(f"valid_lens must have shape (batch,) = ({B},) or (batch, "
                         f"queries) = ({B}, {Q}), got {tuple(valid_lens.shape)}")
    if not _range_checked(valid_lens, K):
        _check_range(valid_lens, K)
    return valid_lens


# The range check reads the lengths back from the device. The attention decoder passes
# the same lengths tensor at every decoding step, so the last tensor checked (with its
# in-place version counter and the number of keys) is remembered: one read-back per
# sentence or minibatch, not one per step.
_last_checked: list = [None]  # [(weakref to valid_lens, its _version, K)]


def _range_checked(valid_lens: torch.Tensor, K: int) -> bool:
    last = _last_checked[0]
    return (last is not None and last[0]() is valid_lens
            and last[1:] == (valid_lens._version, K))


def _check_range(valid_lens: torch.Tensor, K: int) -> None:
    low, high = (valid_lens.min().item(), valid_lens.max().item()) if valid_lens.numel() \
        else (1, K)
    if low < 1 or high > K:
        raise ValueError(f"valid_lens must lie in [1, {K}] (the number of keys; a "
                         f"query needs at least one key to attend to), got min {low}, "
                         f"max {high}")
    _last_checked[0] = (weakref.ref(valid_lens), valid_lens._version, K)


def select_lengths(valid_lens: torch.Tensor, index: torch.Tensor,
                   num_keys: int) -> torch.Tensor:
    """``valid_lens[index]`` (a beam search reordering its hypotheses), remembered as
    checked when ``valid_lens`` was: its values are a subset of checked ones, so the next
    ``masked_softmax`` need not read them back."""
    was_checked = _range_checked(valid_lens, num_keys)
    selected = valid_lens[index]
    if was_checked:
        _last_checked[0] = (weakref.ref(selected), selected._version, num_keys)
    return selected


def masked_softmax(scores: torch.Tensor,
                   valid_lens: torch.Tensor | None = None) -> torch.Tensor:
    """The softmax of ``scores`` (B, Q, K) over the keys (last axis) in which key
    positions ``>= valid_lens`` get weight exactly 0; each row sums to 1.

    ``valid_lens``: None (every key is valid), (B,) (one length per example, shared by
    its queries) or (B, Q) (one per query); integers in [1, K]. Masking with -inf (not
    a large negative number) makes the masked weights exactly 0 and leaves the others
    equal to a softmax over the valid keys only."""
    valid_lens = _check_valid_lens(scores, valid_lens)
    if valid_lens is None:
        return torch.softmax(scores, dim=-1)
    if valid_lens.dim() == 1:
        valid_lens = valid_lens[:, None]  # (B, 1): the same length for every query
    positions = torch.arange(scores.shape[-1], device=scores.device)  # (K,)
    keep = positions[None, None, :] < valid_lens[:, :, None]  # (B, Q or 1, K)
    return torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)  # (B, Q, K)


class DotProductAttention(nn.Module):
    """Scaled dot-product attention: score(q, k) = qᵀk / √d for queries and keys of
    the same size d. ``forward(queries (B, Q, d), keys (B, K, d), values (B, K, d_v),
    valid_lens=None) -> (B, Q, d_v)``; dropout acts on the weights during training."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        check_probability("dropout", dropout)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        _check_dot_product_args(queries, keys, values)
        d = queries.shape[-1]  # the size of a query and of a key
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)  # (B, Q, K)
        weights = masked_softmax(scores, valid_lens)  # (B, Q, K)
        self.attention_weights = weights.detach()  # (B, Q, K), kept for plots
        return torch.bmm(self.dropout(weights), values)  # (B, Q, d_v)


class AdditiveAttention(nn.Module):
    """Additive attention (Bahdanau et al. 2015): score(q, k) = w_vᵀ tanh(W_q q + W_k k)
    with W_q (h × d_q), W_k (h × d_k), w_v (h), h = ``num_hiddens``; queries and keys
    may have different sizes. ``forward(queries (B, Q, d_q), keys (B, K, d_k), values
    (B, K, d_v), valid_lens=None) -> (B, Q, d_v)``.

    ``forward`` is ``attend(queries, project_keys(keys), values, valid_lens)``: a
    decoder that attends to the same keys at every step projects them once."""

    def __init__(self, key_size: int, query_size: int, num_hiddens: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        _check_sizes(key_size, query_size, num_hiddens, dropout)
        self.key_size, self.query_size = key_size, query_size
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: torch.Tensor | None = None

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        _check_additive_args(queries, keys, values, self.key_size)
        return self.attend(queries, self.project_keys(keys), values, valid_lens)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """W_k k for every key: (B, K, d_k) -> (B, K, h)."""
        return self.W_k(keys)

    def attend(self, queries: torch.Tensor, projected_keys: torch.Tensor,
               values: torch.Tensor,
               valid_lens: torch.Tensor | None = None) -> torch.Tensor:
        """Attention with keys already projected by ``project_keys``."""
        _check_queries(queries, self.query_size)
        q = self.W_q(queries)  # (B, Q, h)
        features = torch.tanh(q.unsqueeze(2) + projected_keys.unsqueeze(1))  # (B,Q,K,h)
        scores = self.w_v(features).squeeze(-1)  # (B, Q, K)
        weights = masked_softmax(scores, valid_lens)  # (B, Q, K)
        self.attention_weights = weights.detach()  # (B, Q, K), kept for plots
        return torch.bmm(self.dropout(weights), values)  # (B, Q, d_v)
