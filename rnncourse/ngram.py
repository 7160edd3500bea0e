"""N-gram language models with the Laplace smoothing of the course notes, and n-gram
counts.

With ``n`` the number of training tokens, ``m`` the number of distinct tokens and
``n(...)`` counts in the training sequence, the notes smooth the counting estimates
towards a prior::

    P̂(x)         = (n(x)        + ε₁ / m)      / (n       + ε₁)
    P̂(x′ | x)    = (n(x, x′)    + ε₂ · P̂(x′))  / (n(x)    + ε₂)
    P̂(x″ | x, x′) = (n(x, x′, x″) + ε₃ · P̂(x″)) / (n(x, x′) + ε₃)

and the same pattern for longer contexts: every order backs off to the *unigram*
estimate P̂(x″), exactly as written. In the denominators ``n(x)`` and ``n(x, x′)`` count
the context *as a context*: how often it is followed by a token. That is the unigram
count less one for the corpus's last token (and likewise for longer contexts), and it is
what makes every conditional distribution sum to 1, also after the corpus's last tokens.

``ε → 0`` gives the counting estimate, ``ε → ∞`` gives the uniform 1/m. A context never
seen in training gets the unigram estimate P̂(x″) (the value of the formula for
every ε > 0).

The module also holds the held-out split every language model of the book is compared on
(``train_valid_test_split``), the table of smoothed n-gram baselines (``laplace_table``)
and the counts behind Zipf plots (``ngram_counts``, ``ngram_freqs``, ``zipf_exponent``).
"""
from __future__ import annotations

import collections
import copy
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence, Set

import numpy as np

from .text import as_token_list

__all__ = [
    "ngram_counts",
    "ngram_freqs",
    "zipf_exponent",
    "LaplaceLM",
    "train_valid_test_split",
    "laplace_table",
    "DEFAULT_EPS_GRID",
]


# ------------------------------------------------------------------------- counts, Zipf


def _ngrams(tokens: Sequence, k: int) -> Iterable[tuple]:
    """The k-grams of ``tokens`` as tuples, left to right (``len(tokens) - k + 1`` of
    them)."""
    return zip(*(tokens[i:] for i in range(k)))


def ngram_counts(tokens: Sequence[Hashable], n: int) -> collections.Counter:
    """How often each n-gram (a tuple of ``n`` consecutive tokens) occurs in
    ``tokens``."""
    _check_order(n)
    return collections.Counter(_ngrams(as_token_list(tokens), n))


def ngram_freqs(tokens: Sequence[Hashable], n: int) -> list[int]:
    """The n-gram frequencies sorted from most to least frequent: the y values of a Zipf
    plot (the x values are the ranks 1, 2, ...)."""
    return sorted(ngram_counts(tokens, n).values(), reverse=True)


def zipf_exponent(freqs: Sequence[float], min_rank: int = 1,
                  max_rank: int | None = None) -> float:
    """The exponent α of Zipf's law ``f(rank) ∝ rank^(−α)``.

    Fits ``log f = −α · log rank + c`` by least squares over the ranks ``min_rank`` to
    ``max_rank`` (1-based, inclusive; default: all) of ``freqs``, which must be sorted
    from most to least frequent and positive. Returns α (positive for a decreasing law).
    """
    f = np.asarray(freqs, dtype=np.float64)
    if f.ndim != 1:
        raise ValueError("freqs must be a flat sequence of frequencies, got shape "
                         f"{f.shape}")
    if max_rank is None:
        max_rank = len(f)
    if not 1 <= min_rank <= max_rank <= len(f):
        raise ValueError(f"need 1 <= min_rank <= max_rank <= len(freqs) = {len(f)}, "
                         f"got min_rank={min_rank}, max_rank={max_rank}")
    if max_rank - min_rank < 1:
        raise ValueError("a line needs at least two ranks: widen [min_rank, max_rank]")
    f = f[min_rank - 1:max_rank]
    if np.any(f <= 0) or np.any(np.diff(f) > 0):
        raise ValueError("freqs must be positive and sorted from most to least "
                         "frequent (see ngram_freqs)")
    log_rank = np.log(np.arange(min_rank, max_rank + 1, dtype=np.float64))
    slope, _ = np.polyfit(log_rank, np.log(f), 1)
    return float(-slope)


# --------------------------------------------------------------------------- the model


def _as_token(token: Hashable) -> Hashable:
    """One token; a 0-d integer tensor or array becomes its int (tensors hash by
    identity)."""
    return as_token_list([token], "token")[0]


def _support_list(vocab: Iterable[Hashable]) -> list:
    """A support as a list of tokens; a set or dict (its keys) is fine here, order
    aside."""
    return as_token_list(list(vocab) if isinstance(vocab, (Set, Mapping)) else vocab,
                         "vocab")


def _check_order(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError("the order n must be an int (1 = unigram, 2 = bigram, ...), "
                        f"got {n!r}")
    if n < 1:
        raise ValueError("the order n must be at least 1 (1 = unigram, 2 = bigram, "
                         f"...), got {n}")


def _check_eps(eps: float | Sequence[float], n: int) -> tuple[float, ...]:
    """One ε for every order, or a sequence (ε₁, ..., εₙ); each ε >= 0 (math.inf
    allowed)."""
    if (isinstance(eps, (int, float, np.integer, np.floating))
            and not isinstance(eps, bool)):
        values = (float(eps),) * n
    else:
        try:
            values = tuple(float(e) for e in eps)
        except TypeError:
            raise TypeError(f"eps must be a number or a sequence of {n} numbers (ε₁, "
                            f"..., ε{n}), got {eps!r}") from None
        if len(values) != n:
            raise ValueError(f"a model of order n={n} needs {n} smoothing constants "
                             f"(ε₁, ..., ε{n}), got {len(values)}: {eps!r}")
    for k, e in enumerate(values, start=1):
        if math.isnan(e) or e < 0:
            raise ValueError(f"ε{k} must be >= 0 (0: counting estimate, math.inf: "
                             f"uniform), got {e}")
    return values


def _smooth(count: int, context_count: int, eps: float, backoff: float) -> float:
    """``(count + ε · backoff) / (context_count + ε)``: every formula of the notes.

    At ε = ∞ and for unseen contexts (context_count = 0) this is ``backoff``: the limit
    of the formula, and its value for every ε > 0; so no division by zero ever happens.
    """
    if math.isinf(eps) or context_count == 0:
        return backoff
    return (count + eps * backoff) / (context_count + eps)


def _smooth_arrays(count, context_count, eps: float, backoff) -> np.ndarray:
    """``_smooth`` elementwise on NumPy arrays (all of one shape, or ``backoff`` a
    scalar)."""
    count = np.asarray(count, dtype=np.float64)
    context_count = np.asarray(context_count, dtype=np.float64)
    # broadcast a scalar 1/m
    backoff = np.asarray(backoff, dtype=np.float64) + np.zeros_like(count)
    if math.isinf(eps):
        return backoff
    seen = context_count > 0
    safe = np.where(seen, context_count + eps, 1.0)
    return np.where(seen, (count + eps * backoff) / safe, backoff)


class LaplaceLM:
    """An n-gram language model with the Laplace smoothing of the course notes.

    ``LaplaceLM(tokens, n, eps)`` counts the n-grams of the training sequence
    ``tokens``. Mind the clash of letters: the argument ``n`` is the **order** of the
    model (1 = unigram, 2 = bigram, ...: it conditions on the previous n − 1 tokens),
    while in the smoothing formulas (module docstring) n is the **number of training
    tokens**, ``self.num_tokens``.

    * ``eps``: one ε for every order, or a sequence (ε₁, ..., εₙ); each ε >= 0,
      ``math.inf`` allowed. ε = 0 is the counting estimate; ε = ∞ for every order is the
      uniform 1/m.
    * ``vocab``: the tokens the model spreads probability over, its support. By default
      the m distinct training tokens. Pass a wider set (e.g. every index of a ``Vocab``)
      so that tokens never seen in training get a probability (nonzero when ε₁ > 0), as
      the formulas give with m = ``len(vocab)``. A token outside the support raises
      ``ValueError``: it has no probability under the model (map such tokens to
      ``<unk>`` before training).

    Contexts shorter than n − 1 tokens (the first tokens of a sequence) use the model of
    that
    shorter order: the first token gets P̂(x₁), the second P̂(x₂ | x₁), and so on.
    """

    def __init__(self, tokens: Sequence[Hashable], n: int,
                 eps: float | Sequence[float] = 1.0,
                 vocab: Iterable[Hashable] | None = None) -> None:
        _check_order(n)
        self.eps = _check_eps(eps, n)
        tokens = as_token_list(tokens)
        if not tokens:
            raise ValueError("cannot fit a language model to an empty token sequence")
        self.n = n
        self.num_tokens = len(tokens)  # "n" of the formulas
        # counts[k] counts the k-grams, k = 1..n (counts[0] is unused)
        self.counts: list[collections.Counter] = [collections.Counter()]
        self.counts += [collections.Counter(_ngrams(tokens, k))
                        for k in range(1, n + 1)]
        # The k-gram of the corpus's last k tokens has one occurrence that no token
        # follows: as a context it counts once less than as a k-gram. _tails[k] is that
        # k-gram.
        self._tails = [tuple(tokens[len(tokens) - k:]) if k <= len(tokens) else None
                       for k in range(n)]
        support = (list(dict.fromkeys(_support_list(vocab))) if vocab is not None
                   else [g[0] for g in self.counts[1]])
        seen = {g[0] for g in self.counts[1]}
        if not seen <= set(support):
            missing = sorted(map(repr, seen - set(support)))[:5]
            raise ValueError("vocab must contain every training token; missing e.g. "
                             f"{', '.join(missing)}")
        self.vocab: list[Hashable] = support
        self._index = {tok: i for i, tok in enumerate(support)}
        self.m = len(support)  # "m" of the formulas

    def with_eps(self, eps: float | Sequence[float]) -> "LaplaceLM":
        """The same model with other smoothing constants: shares the counts, counts
        nothing again."""
        other = copy.copy(self)
        other.eps = _check_eps(eps, self.n)
        return other

    # ---- counts

    def count(self, ngram: Sequence[Hashable]) -> int:
        """n(x₁, ..., x_k): how often the tokens ``ngram`` occur in a row in training
        (k <= n)."""
        ngram = tuple(as_token_list(ngram, "ngram"))
        if not 1 <= len(ngram) <= self.n:
            raise ValueError(f"a model of order {self.n} counts 1- to {self.n}-grams, "
                             f"got a {len(ngram)}-gram")
        return self.counts[len(ngram)][ngram]

    def context_count(self, context: Sequence[Hashable]) -> int:
        """How often ``context`` is followed by a token in training: the denominator of
        P̂(· | context).

        The empty context counts every token (n of the formulas); any other context
        counts its occurrences except the one at the very end of the corpus, if it ends
        the corpus.
        """
        context = tuple(as_token_list(context, "context"))
        if len(context) >= self.n:
            raise ValueError(f"a model of order {self.n} has contexts of at most "
                             f"{self.n - 1} tokens, got {len(context)}")
        if not context:
            return self.num_tokens
        return (self.counts[len(context)][context]
                - (context == self._tails[len(context)]))

    # ---- probabilities

    def _check_tokens(self, tokens: Iterable[Hashable]) -> None:
        outside = [t for t in dict.fromkeys(tokens) if t not in self._index]
        if outside:
            shown = ", ".join(map(repr, outside[:5]))
            raise ValueError(f"{len(outside)} token(s) outside the model's vocabulary "
                             f"of m={self.m} tokens (e.g. {shown}): pass vocab=... "
                             "with every token to LaplaceLM, or map unknown tokens to "
                             "'<unk>' before training")

    def unigram(self, token: Hashable) -> float:
        """P̂(x) = (n(x) + ε₁/m) / (n + ε₁)."""
        token = _as_token(token)
        self._check_tokens([token])
        return _smooth(self.counts[1][(token,)], self.num_tokens, self.eps[0],
                       1.0 / self.m)

    def prob(self, token: Hashable, context: Sequence[Hashable] = ()) -> float:
        """P̂(token | context), the smoothed estimate of the notes.

        Only the last n − 1 tokens of ``context`` matter, so a whole history may be
        passed; a shorter context uses the model of that shorter order.
        """
        token = _as_token(token)
        self._check_tokens([token])
        context = (tuple(as_token_list(context, "context"))[
                       max(0, len(context) - (self.n - 1)):]
                   if self.n > 1 else ())
        p1 = self.unigram(token)
        if not context:
            return p1
        k = len(context) + 1
        return _smooth(self.counts[k][context + (token,)], self.context_count(context),
                       self.eps[k - 1], p1)

    def distribution(self, context: Sequence[Hashable] = ()) -> dict[Hashable, float]:
        """P̂(x | context) for every token x of the vocabulary (the values sum to 1)."""
        return {tok: self.prob(tok, context) for tok in self.vocab}

    # ---- whole sequences, vectorised

    def _count_arrays(self, tokens: Sequence[Hashable]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Everything the smoothed probabilities of ``tokens`` depend on, eps aside.

        Returns ``(num, den, level)``: ``num[k - 1, t]`` = n(x_{t−k+1}, ..., x_t) and
        ``den[k - 1, t]`` its context's count as a context, both (n, T) float arrays;
        ``level[t]`` = the order used at position t, min(n, t + 1) (shorter contexts at
        the start). Row 0 holds the unigram n(x_t) and n. Entries with k > level[t] are
        0 and unused.
        """
        self._check_tokens(tokens)
        T = len(tokens)
        num = np.zeros((self.n, T))
        den = np.zeros((self.n, T))
        den[0] = self.num_tokens
        for k in range(1, min(self.n, T) + 1):
            grams = list(_ngrams(tokens, k))  # grams[i] ends at position i + k - 1
            num[k - 1, k - 1:] = [self.counts[k].get(g, 0) for g in grams]
            if k < self.n:
                # The context of the (k+1)-gram ending at t is the k-gram ending at t -
                # 1; it is followed by a token as often as it occurs, less once if it
                # ends the corpus.
                ends_corpus = [g == self._tails[k] for g in grams]
                den[k, k:] = num[k - 1, k - 1:T - 1] - ends_corpus[:T - k]
        level = np.minimum(np.arange(1, T + 1), self.n)
        return num, den, level

    @staticmethod
    def _log_probs_from_counts(num: np.ndarray, den: np.ndarray, level: np.ndarray,
                               eps: Sequence[float], m: int) -> np.ndarray:
        """log P̂(x_t | context) for every t, shape (T,), from ``_count_arrays`` and
        (ε₁, ..., εₙ)."""
        p1 = _smooth_arrays(num[0], den[0], eps[0], 1.0 / m)
        p = p1.copy()
        for k in range(2, len(eps) + 1):
            at_k = level == k
            if at_k.any():
                p[at_k] = _smooth_arrays(num[k - 1, at_k], den[k - 1, at_k], eps[k - 1],
                                         p1[at_k])
        # P̂ = 0 (possible only at ε = 0) gives log 0 = −∞
        with np.errstate(divide="ignore"):
            return np.log(p)

    def log_probs(self, tokens: Sequence[Hashable]) -> np.ndarray:
        """log P̂(x_t | previous n − 1 tokens) for each token of ``tokens``, shape
        (T,)."""
        tokens = as_token_list(tokens)
        num, den, level = self._count_arrays(tokens)
        return self._log_probs_from_counts(num, den, level, self.eps, self.m)

    def perplexity(self, tokens: Sequence[Hashable]) -> float:
        """exp(−mean log P̂(x_t | previous n − 1 tokens)) over ``tokens`` (shorter
        contexts at the start, see the class docstring). ``math.inf`` if some token has
        probability 0, which can only happen with an ε = 0."""
        tokens = as_token_list(tokens)
        if not tokens:
            raise ValueError("perplexity of an empty token sequence is undefined")
        return float(np.exp(-self.log_probs(tokens).mean()))

    def __repr__(self) -> str:
        eps = ", ".join(f"{e:g}" for e in self.eps)
        return (f"LaplaceLM(n={self.n}, eps=({eps}), num_tokens={self.num_tokens}, "
                f"m={self.m})")


# ------------------------------------------------------------------- the held-out split


def train_valid_test_split(corpus: Sequence, valid_frac: float = 0.1,
                           test_frac: float = 0.1) -> tuple[list, list, list]:
    """The split every language model of the book is evaluated on: contiguous, in text
    order.

    With N = len(corpus): ``test`` is the last ``floor(test_frac · N)`` tokens; of the
    N_tv = N − len(test) tokens before it, ``valid`` is the last
    ``floor(valid_frac · N_tv)``; ``train`` is the rest. With the defaults: train =
    first 81 %, valid = next 9 %, test = last 10 %. Choose hyperparameters on ``valid``;
    the "training part" ``train + valid`` may then be refitted and evaluated once on
    ``test``.
    """
    for name, frac in (("valid_frac", valid_frac), ("test_frac", test_frac)):
        if not 0 <= frac < 1:
            raise ValueError(f"{name} must be in [0, 1), got {frac}")
    corpus = as_token_list(corpus, "corpus")
    if not corpus:
        raise ValueError("cannot split an empty corpus")
    n_test = math.floor(test_frac * len(corpus))
    n_trainvalid = len(corpus) - n_test
    n_valid = math.floor(valid_frac * n_trainvalid)
    n_train = n_trainvalid - n_valid  # >= 1, as both fractions are < 1
    return corpus[:n_train], corpus[n_train:n_trainvalid], corpus[n_trainvalid:]


# ------------------------------------------------------------------- the baseline table

#: ε values tried by ``laplace_table``: 0.001 to 1000, four per decade.
DEFAULT_EPS_GRID: tuple[float, ...] = tuple(float(f"{e:.3g}")
                                            for e in np.logspace(-3, 3, 25))


def laplace_table(train: Sequence[Hashable], valid: Sequence[Hashable],
                  test: Sequence[Hashable], orders: Iterable[int] = range(1, 6),
                  eps_grid: Sequence[float] = DEFAULT_EPS_GRID,
                  vocab: Iterable[Hashable] | None = None) -> list[dict]:
    """Held-out perplexity of Laplace-smoothed n-gram models, one row per order.

    For each order n: fit ``LaplaceLM(train, n, ε)`` for every ε of ``eps_grid`` (one ε
    for all orders) and keep the ε with the lowest perplexity on ``valid``; then refit
    on the whole training part ``train + valid`` with that ε and evaluate it on
    ``test``. The support is ``vocab`` if given, else the tokens of ``train + valid``.

    Returns a list of dicts, one per order, with keys ``order``; ``eps`` (the chosen ε);
    ``valid_ppl`` (the model fitted on ``train``, at that ε); ``valid_ppls`` (its
    validation perplexity at every ε of ``eps_grid``, for plots); ``train_ppl`` (the
    refitted model on its own training part ``train + valid``) and ``test_ppl`` (the
    refitted model on ``test``).
    """
    eps_grid = list(eps_grid)
    if not eps_grid:
        raise ValueError("eps_grid is empty: give at least one ε to try")
    train, valid, test = (as_token_list(part, name)
                          for part, name in ((train, "train"), (valid, "valid"),
                                             (test, "test")))
    if not valid or not test:
        raise ValueError("laplace_table needs a non-empty validation and test sequence")
    trainvalid = train + valid
    if vocab is None:
        # the training part's tokens, in first-seen order
        vocab = dict.fromkeys(trainvalid)
    vocab = _support_list(vocab)
    _check_eps(eps_grid, len(eps_grid))  # every ε >= 0
    rows = []
    for n in orders:
        _check_order(n)
        tuner = LaplaceLM(train, n, 1.0, vocab=vocab)
        # counts do not depend on ε: compute them once
        arrays = tuner._count_arrays(valid)
        valid_ppls = [float(np.exp(-LaplaceLM._log_probs_from_counts(
                          *arrays, (eps,) * n, tuner.m).mean()))
                      for eps in eps_grid]
        best = int(np.argmin(valid_ppls))
        model = LaplaceLM(trainvalid, n, eps_grid[best], vocab=vocab)
        rows.append({"order": n, "eps": eps_grid[best], "valid_ppl": valid_ppls[best],
                     "valid_ppls": valid_ppls,
                     "train_ppl": model.perplexity(trainvalid),
                     "test_ppl": model.perplexity(test)})
    return rows
