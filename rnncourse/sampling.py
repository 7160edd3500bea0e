"""Minibatches of (input, target) subsequences from one long token sequence.

Both samplers cut the corpus, after a random offset, into subsequences of length
``num_steps``; the target ``Y`` is the input ``X`` shifted one token to the right.
They yield ``LongTensor``s of shape (batch_size, num_steps). The corpus is a list of
token indices, or a 1-d integer tensor or NumPy array of them.

* **random sampling**: the subsequences come in random order, so neighbouring
  minibatches are unrelated and the hidden state must start afresh for each one;
* **sequential sampling**: row i of a minibatch continues row i of the previous
  minibatch, so the hidden state can be carried over (and detached) between them.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch

from .checks import check_positive_int
from .text import Vocab, as_token_list, load_corpus_time_machine

__all__ = ["seq_data_iter_random", "seq_data_iter_sequential", "SeqDataLoader",
           "load_data_time_machine"]


def _token_ids(corpus: Sequence[int]) -> list[int]:
    """The corpus as a list of Python ints: a list, or a 1-d integer tensor or array of
    ids."""
    ids = as_token_list(corpus, "corpus")
    # the types in one pass in C, however long the corpus; a bool is no index either
    if set(map(type, ids)) - {int}:
        i, token = next((i, t) for i, t in enumerate(ids) if type(t) is not int)
        raise TypeError(f"corpus must hold token indices (ints), got {token!r} at "
                        f"position {i}: map the tokens to indices first, corpus = "
                        "vocab[tokens]")
    return ids


def _check_args(corpus: list[int], batch_size: int, num_steps: int) -> None:
    check_positive_int("batch_size", batch_size)
    check_positive_int("num_steps", num_steps)
    # Worst case the offset is num_steps - 1; then we still need batch_size
    # subsequences of num_steps tokens, plus one token for the last target.
    needed = (num_steps - 1) + batch_size * num_steps + 1
    if len(corpus) < needed:
        raise ValueError(
            f"corpus of {len(corpus)} tokens is too short for one minibatch of "
            f"batch_size={batch_size} and num_steps={num_steps}: need at least "
            f"{needed} tokens (num_steps - 1 for the random offset + batch_size * "
            "num_steps + 1 for the targets)"
        )


def seq_data_iter_random(corpus: Sequence[int], batch_size: int,
                         num_steps: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Random sampling: non-overlapping subsequences, in random order.

    Draws its randomness from Python's ``random`` module (seed it for reproducibility).
    Yields ``(X, Y)``, both (batch_size, num_steps);
    ``Y[:, t] == corpus[start + t + 1]``.
    """
    corpus = _token_ids(corpus)
    _check_args(corpus, batch_size, num_steps)
    # a random offset in [0, num_steps - 1]
    corpus = corpus[random.randint(0, num_steps - 1):]
    # -1: the last target needs one more token
    num_subseqs = (len(corpus) - 1) // num_steps
    starts = list(range(0, num_subseqs * num_steps, num_steps))
    random.shuffle(starts)
    num_batches = num_subseqs // batch_size
    for i in range(0, num_batches * batch_size, batch_size):
        batch_starts = starts[i:i + batch_size]
        X = [corpus[j:j + num_steps] for j in batch_starts]
        Y = [corpus[j + 1:j + 1 + num_steps] for j in batch_starts]
        yield torch.tensor(X, dtype=torch.long), torch.tensor(Y, dtype=torch.long)


def seq_data_iter_sequential(corpus: Sequence[int], batch_size: int,
                             num_steps: int
                             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Sequential partitioning: row i of each minibatch continues row i of the previous
    one.

    After a random offset the corpus is split into ``batch_size`` equal streams, one per
    row, read ``num_steps`` tokens at a time. Yields ``(X, Y)``, both (batch_size,
    num_steps).
    """
    corpus = _token_ids(corpus)
    _check_args(corpus, batch_size, num_steps)
    offset = random.randint(0, num_steps - 1)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = torch.tensor(corpus[offset:offset + num_tokens],
                      dtype=torch.long).reshape(batch_size, -1)
    Ys = torch.tensor(corpus[offset + 1:offset + 1 + num_tokens],
                      dtype=torch.long).reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_batches * num_steps, num_steps):
        yield Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]


class SeqDataLoader:
    """An iterable over minibatches of a token corpus; each ``iter()`` is a new epoch
    (a new random offset, and for random sampling a new order)."""

    def __init__(self, corpus: Sequence[int], batch_size: int, num_steps: int,
                 use_random_iter: bool = False) -> None:
        self.corpus = _token_ids(corpus)
        _check_args(self.corpus, batch_size, num_steps)
        self.batch_size, self.num_steps = batch_size, num_steps
        self.use_random_iter = use_random_iter
        self.data_iter_fn = (seq_data_iter_random if use_random_iter
                             else seq_data_iter_sequential)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.data_iter_fn(self.corpus, self.batch_size, self.num_steps)

    def __len__(self) -> int:
        """Number of minibatches in the shortest epoch (the offset varies by at most
        num_steps - 1)."""
        usable = len(self.corpus) - (self.num_steps - 1) - 1
        return usable // (self.batch_size * self.num_steps)


def load_data_time_machine(batch_size: int, num_steps: int,
                           use_random_iter: bool = False, max_tokens: int = 10000,
                           token: str = "char") -> tuple[SeqDataLoader, Vocab]:
    """A minibatch loader over the first ``max_tokens`` tokens of the Time Machine, and
    its vocabulary."""
    corpus, vocab = load_corpus_time_machine(max_tokens, token=token)
    return SeqDataLoader(corpus, batch_size, num_steps, use_random_iter), vocab
