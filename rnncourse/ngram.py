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
import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence, Set

import numpy as np

from .checks import check_int, check_number, check_positive_int, check_probability
from .text import as_token_list

__all__ = [
    "ngram_counts",
    "ngram_freqs",
    "zipf_exponent",
    "LaplaceLM",
    "train_valid_test_split",
    "laplace_table",
    "DEFAULT_EPS_GRID",
    "InterpolatedLM",
    "KneserNeyLM",
    "fit_lambdas",
    "interpolated_table",
    "kneser_ney_table",
    "DEFAULT_DISCOUNT_GRID",
    "bigram_count_matrix",
    "train_softmax_bigram",
    "softmax_bigram_perplexity",
]


# ------------------------------------------------------------------------- counts, Zipf


# Argument checks, kept out of the listings: each public entry point calls one of them
# in its first lines, so that the code the book shows reads as the algorithm.

def _check_zipf_args(f: np.ndarray, min_rank: int, max_rank: int | None) -> None:
    """The checks of ``zipf_exponent``; ``f`` holds the frequencies as an array."""
    if f.ndim != 1:
        raise ValueError("freqs must be a flat sequence of frequencies, got shape "
                         f"{f.shape}")
    check_int("min_rank", min_rank)
    max_rank = len(f) if max_rank is None else check_int("max_rank", max_rank)
    if not 1 <= min_rank <= max_rank <= len(f):
        raise ValueError(f"need 1 <= min_rank <= max_rank <= len(freqs) = {len(f)}, "
                         f"got min_rank={min_rank}, max_rank={max_rank}")
    if max_rank - min_rank < 1:
        raise ValueError("a line needs at least two ranks: widen [min_rank, max_rank]")
    fitted = f[min_rank - 1:max_rank]
    if np.any(fitted <= 0) or np.any(np.diff(fitted) > 0):
        raise ValueError("freqs must be positive and sorted from most to least "
                         "frequent (see ngram_freqs)")


def _check_orders(orders: Iterable[int]) -> list[int]:
    """The model orders of a table, each an integer >= 1, as a list."""
    return [check_positive_int("n", n) for n in orders]


def _eps_per_order(eps: float | Sequence[float], n: int) -> tuple[float, ...]:
    """(ε₁, ..., εₙ) from one ε for every order or a sequence of ``n``; each ε >= 0
    (math.inf allowed)."""
    if isinstance(eps, numbers.Real):
        eps = (eps,) * n
    try:
        values = tuple(eps)
    except TypeError:
        raise TypeError(f"eps must be a number or a sequence of {n} numbers (ε₁, "
                        f"..., ε{n}), got {eps!r}") from None
    if len(values) != n:
        raise ValueError(f"a model of order n={n} needs {n} smoothing constants "
                         f"(ε₁, ..., ε{n}), got {len(values)}: {eps!r}")
    # 0: the counting estimate, math.inf: uniform
    return tuple(float(check_number(f"ε{k}", e, minimum=0, finite=False))
                 for k, e in enumerate(values, start=1))


def _discount_value(discount: float) -> float:
    """A Kneser–Ney discount: a number in (0, 1), as a float."""
    return float(check_number("discount", discount, minimum=0, maximum=1, strict=True))


def _ngrams(tokens: Sequence, k: int) -> Iterable[tuple]:
    """The k-grams of ``tokens`` as tuples, left to right (``len(tokens) - k + 1`` of
    them)."""
    return zip(*(tokens[i:] for i in range(k)))


def ngram_counts(tokens: Sequence[Hashable], n: int) -> collections.Counter:
    """How often each n-gram (a tuple of ``n`` consecutive tokens) occurs in
    ``tokens``."""
    check_positive_int("n", n)
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
    _check_zipf_args(f, min_rank, max_rank)
    max_rank = len(f) if max_rank is None else max_rank
    f = f[min_rank - 1:max_rank]  # the ranks fitted
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


def _ngram_count(counts: list, n: int, ngram: Sequence[Hashable]) -> int:
    """n(x₁, ..., x_k) from a model's ``counts`` (``counts[k]``: the k-gram Counter),
    for a model of order ``n`` (k <= n)."""
    ngram = tuple(as_token_list(ngram, "ngram"))
    if not 1 <= len(ngram) <= n:
        raise ValueError(f"ngram: a model of order {n} counts 1- to {n}-grams, "
                         f"got a {len(ngram)}-gram")
    return counts[len(ngram)][ngram]


def _check_in_support(tokens: Iterable[Hashable], index: dict, m: int) -> None:
    """ValueError unless every token is in the support (``index``: token -> i)."""
    outside = [t for t in dict.fromkeys(tokens) if t not in index]
    if outside:
        shown = ", ".join(map(repr, outside[:5]))
        raise ValueError(f"tokens: {len(outside)} token(s) outside the model's "
                         f"vocabulary of m={m} tokens (e.g. {shown}): pass vocab=... "
                         "with every token, or map unknown tokens to '<unk>' before "
                         "training")


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
        check_positive_int("n", n)  # 1 = unigram, 2 = bigram, ...
        self.eps = _eps_per_order(eps, n)
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
        other.eps = _eps_per_order(eps, self.n)
        return other

    # ---- counts

    def count(self, ngram: Sequence[Hashable]) -> int:
        """n(x₁, ..., x_k): how often the tokens ``ngram`` occur in a row in training
        (k <= n)."""
        return _ngram_count(self.counts, self.n, ngram)

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
        _check_in_support(tokens, self._index, self.m)

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


def _check_split_args(corpus: list, valid_frac: float, test_frac: float) -> None:
    check_probability("valid_frac", valid_frac)
    check_probability("test_frac", test_frac)
    if not corpus:
        raise ValueError("cannot split an empty corpus")


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
    corpus = as_token_list(corpus, "corpus")
    _check_split_args(corpus, valid_frac, test_frac)
    n_test = math.floor(test_frac * len(corpus))
    n_trainvalid = len(corpus) - n_test
    n_valid = math.floor(valid_frac * n_trainvalid)
    n_train = n_trainvalid - n_valid  # >= 1, as both fractions are < 1
    return corpus[:n_train], corpus[n_train:n_trainvalid], corpus[n_trainvalid:]


# ------------------------------------------------------------------- the baseline table

#: ε values tried by ``laplace_table``: 0.001 to 1000, four per decade.
DEFAULT_EPS_GRID: tuple[float, ...] = tuple(float(f"{e:.3g}")
                                            for e in np.logspace(-3, 3, 25))


def _check_eps_grid(eps_grid: Sequence[float]) -> list[float]:
    """The ε values ``laplace_table`` tries, each >= 0, as a list."""
    eps_grid = list(eps_grid)
    if not eps_grid:
        raise ValueError("eps_grid is empty: give at least one ε to try")
    _eps_per_order(eps_grid, len(eps_grid))  # each ε >= 0
    return eps_grid


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
    orders, eps_grid = _check_orders(orders), _check_eps_grid(eps_grid)
    # the support defaults to the tokens of train + valid, in first-seen order
    train, valid, test, trainvalid, vocab = _split_parts(train, valid, test, vocab)
    rows = []
    for n in orders:
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


# --------------------------------------------- interpolation and Kneser–Ney smoothing


class _CountingLM:
    """What ``InterpolatedLM`` and ``KneserNeyLM`` share: the counts, the support, the
    argument checks, and ``prob``/``distribution``/``log_probs``/``perplexity`` computed
    from per-position count arrays (subclasses define ``_level_arrays`` and
    ``_combine``)."""

    def _fit(self, tokens: Sequence[Hashable], n: int,
             vocab: Iterable[Hashable] | None) -> list:
        # n is checked by the public constructor
        tokens = as_token_list(tokens)
        if not tokens:
            raise ValueError("tokens: cannot fit a language model to an empty token "
                             "sequence")
        self.n = n
        self.num_tokens = len(tokens)
        self.counts: list[collections.Counter] = [collections.Counter()]
        self.counts += [collections.Counter(_ngrams(tokens, k))
                        for k in range(1, n + 1)]
        seen = [g[0] for g in self.counts[1]]
        support = (list(dict.fromkeys(_support_list(vocab))) if vocab is not None
                   else seen)
        if not set(seen) <= set(support):
            missing = sorted(map(repr, set(seen) - set(support)))[:5]
            raise ValueError("vocab must contain every training token; missing e.g. "
                             f"{', '.join(missing)}")
        self.vocab: list[Hashable] = support
        self._index = {tok: i for i, tok in enumerate(support)}
        self.m = len(support)
        return tokens

    def _check_tokens(self, tokens: Iterable[Hashable]) -> None:
        _check_in_support(tokens, self._index, self.m)

    def count(self, ngram: Sequence[Hashable]) -> int:
        """n(x₁, ..., x_k): how often the tokens ``ngram`` occur in a row in training
        (k <= n)."""
        return _ngram_count(self.counts, self.n, ngram)

    def _context(self, context: Sequence[Hashable]) -> tuple:
        context = tuple(as_token_list(context, "context"))
        return context[max(0, len(context) - (self.n - 1)):] if self.n > 1 else ()

    def prob(self, token: Hashable, context: Sequence[Hashable] = ()) -> float:
        """P̂(token | context); only the last n − 1 tokens of ``context`` matter."""
        token = _as_token(token)
        self._check_tokens([token])
        context = self._context(context)
        return float(np.exp(self._log_probs_at(list(context) + [token],
                                               len(context))[0]))

    def distribution(self, context: Sequence[Hashable] = ()) -> dict[Hashable, float]:
        """P̂(x | context) for every token x of the vocabulary (the values sum to 1)."""
        return {tok: self.prob(tok, context) for tok in self.vocab}

    def _log_probs_at(self, tokens: list, start: int = 0) -> np.ndarray:
        """log P̂ of ``tokens[start:]``, the tokens before ``start`` being context only
        (they may lie outside the support: an unseen context)."""
        self._check_tokens(tokens[start:])
        arrays = [self._level_arrays(tokens, k)[:, start:]
                  for k in range(1, self.n + 1)]
        level = np.minimum(np.arange(1, len(tokens) + 1), self.n)[start:]
        with np.errstate(divide="ignore"):
            return np.log(self._combine(arrays, level))

    def log_probs(self, tokens: Sequence[Hashable]) -> np.ndarray:
        """log P̂(x_t | previous n − 1 tokens) for each token of ``tokens``, shape
        (T,); the first tokens use the shorter context that exists."""
        return self._log_probs_at(as_token_list(tokens))

    def perplexity(self, tokens: Sequence[Hashable]) -> float:
        """exp(−mean log P̂(x_t | previous n − 1 tokens)) over ``tokens``."""
        tokens = as_token_list(tokens)
        if not tokens:
            raise ValueError("tokens: perplexity of an empty token sequence is "
                             "undefined")
        return float(np.exp(-self.log_probs(tokens).mean()))


class InterpolatedLM(_CountingLM):
    """Jelinek–Mercer interpolation: a fixed mixture of counting estimates.

    ``P̂(x | h) = λ₀/m + λ₁ P_ML(x) + λ₂ P_ML(x | h₁) + ... + λₙ P_ML(x | h_{n−1})``,
    where ``P_ML(x | h_k) = n(h_k, x) / n(h_k)`` is the counting estimate with the
    last k tokens of the context (``n(h_k)`` counted as a context, as in ``LaplaceLM``).

    * ``lambdas``: the weights ``(λ₀, λ₁, ..., λₙ)`` (n + 1 numbers, λ₀ for the uniform
      1/m), or ``(λ₁, ..., λₙ)`` (n numbers, λ₀ = 0); each >= 0, summing to 1.
    * A context never seen in training has no counting estimate: its weight goes to the
      longest shorter context that was seen. So every conditional sums to 1.
    """

    def __init__(self, tokens: Sequence[Hashable], n: int,
                 lambdas: Sequence[float],
                 vocab: Iterable[Hashable] | None = None) -> None:
        check_positive_int("n", n)  # 1 = unigram, 2 = bigram, ...
        self.lambdas = self._check_lambdas(lambdas, n)
        tokens = self._fit(tokens, n, vocab)
        self._tails = [tuple(tokens[len(tokens) - k:]) if k <= len(tokens) else None
                       for k in range(n)]

    @staticmethod
    def _check_lambdas(lambdas: Sequence[float], n: int) -> tuple[float, ...]:
        try:
            values = tuple(float(v) for v in lambdas)
        except TypeError:
            raise ValueError(f"lambdas must be a sequence of {n + 1} weights (λ₀, ..., "
                             f"λ{n}), got {lambdas!r}") from None
        if len(values) == n:
            values = (0.0,) + values
        if len(values) != n + 1:
            raise ValueError(f"lambdas: a model of order n={n} needs n + 1 = {n + 1} "
                             f"weights (λ₀, ..., λ{n}) or n, got {len(values)}")
        if any(not v >= 0 for v in values) or abs(sum(values) - 1) > 1e-9:
            raise ValueError(f"lambdas must be >= 0 and sum to 1, got {values}")
        return values

    def with_lambdas(self, lambdas: Sequence[float]) -> "InterpolatedLM":
        """The same counts with other weights."""
        other = copy.copy(self)
        other.lambdas = self._check_lambdas(lambdas, self.n)
        return other

    def _level_arrays(self, tokens: list, k: int) -> np.ndarray:
        """(2, T): n(h_{k−1}, x_t) and n(h_{k−1}) as a context, at every position."""
        T = len(tokens)
        out = np.zeros((2, T))
        if k == 1:
            out[0] = [self.counts[1].get((t,), 0) for t in tokens]
            out[1] = self.num_tokens
            return out
        grams = list(_ngrams(tokens, k))  # grams[i] ends at position i + k − 1
        out[0, k - 1:] = [self.counts[k].get(g, 0) for g in grams]
        out[1, k - 1:] = [self.counts[k - 1].get(g[:-1], 0)
                          - (g[:-1] == self._tails[k - 1]) for g in grams]
        return out

    def components(self, tokens: Sequence[Hashable]) -> np.ndarray:
        """(n + 1, T): the uniform 1/m and the counting estimates of orders 1..n at
        every position of ``tokens`` (an unseen context takes the next shorter one's
        estimate)."""
        tokens = as_token_list(tokens)
        self._check_tokens(tokens)
        arrays = [self._level_arrays(tokens, k) for k in range(1, self.n + 1)]
        level = np.minimum(np.arange(1, len(tokens) + 1), self.n)
        return self._components(arrays, level)

    def _components(self, arrays: list, level: np.ndarray) -> np.ndarray:
        T = len(level)
        comp = np.empty((self.n + 1, T))
        comp[0] = 1.0 / self.m
        prev = comp[0]
        for k, (num, den) in enumerate(arrays, start=1):
            usable = (den > 0) & (k <= level)
            cur = np.where(usable, num / np.where(usable, den, 1.0), prev)
            comp[k] = prev = cur
        return comp

    def _combine(self, arrays: list, level: np.ndarray) -> np.ndarray:
        return np.asarray(self.lambdas) @ self._components(arrays, level)

    def __repr__(self) -> str:
        lams = ", ".join(f"{v:.3g}" for v in self.lambdas)
        return (f"InterpolatedLM(n={self.n}, lambdas=({lams}), "
                f"num_tokens={self.num_tokens}, m={self.m})")


def fit_lambdas(model: InterpolatedLM, heldout: Sequence[Hashable],
                num_iters: int = 200, tol: float = 1e-10) -> tuple[float, ...]:
    """The weights (λ₀, ..., λₙ) that maximise the likelihood of ``heldout`` under
    ``model``'s counts: the EM algorithm for the weights of a mixture (Jelinek & Mercer
    1980), from equal weights. Returns the weights; ``model`` is unchanged."""
    comp = model.components(heldout)  # (n + 1, T)
    lam = np.full(model.n + 1, 1.0 / (model.n + 1))
    for _ in range(num_iters):
        mix = lam @ comp  # (T,)
        new = (lam[:, None] * comp / mix).mean(axis=1)  # (n + 1,): responsibilities
        new /= new.sum()
        done = np.abs(new - lam).max() < tol
        lam = new
        if done:
            break
    return tuple(float(v) for v in lam)


class KneserNeyLM(_CountingLM):
    """Interpolated Kneser–Ney smoothing (Kneser & Ney 1995; Chen & Goodman 1999).

    With one discount D in (0, 1), for the longest context h (n − 1 tokens)::

        P̂(x | h) = max(n(h, x) − D, 0) / n(h)  +  D · N₁₊(h •) / n(h) · P̂ₖₙ(x | h′)

    where h′ drops the first token of h, ``n(h)`` counts h as a context and
    ``N₁₊(h •)`` is the number of distinct tokens seen after h. The lower orders
    P̂ₖₙ(x | h′) have the same form with **continuation counts** in place of counts:
    ``N₁₊(• h′ x)``, the number of distinct tokens seen before h′ x, which measures in
    how many contexts x appears rather than how often. The unigram level interpolates
    with the uniform 1/m, so every token of the support has a nonzero probability. An
    unseen context (zero denominator) takes its lower order's distribution unchanged.
    Contexts shorter than n − 1 tokens (a sequence's first tokens) use the lower-order
    distributions, as NLTK's ``KneserNeyInterpolated`` does.
    """

    def __init__(self, tokens: Sequence[Hashable], n: int, discount: float = 0.75,
                 vocab: Iterable[Hashable] | None = None) -> None:
        check_positive_int("n", n)  # 1 = unigram, 2 = bigram, ...
        self.discount = _discount_value(discount)
        tokens = self._fit(tokens, n, vocab)
        self._tails = [tuple(tokens[len(tokens) - k:]) if k <= len(tokens) else None
                       for k in range(n)]
        # continuation counts N₁₊(• g) for every k-gram g, k = 1..n − 1, from the
        # (k+1)-grams; then per context h: the sum over x of N₁₊(• h x) and the number
        # of x with N₁₊(• h x) > 0
        self.cont: list[collections.Counter] = [collections.Counter()]
        self.cont_den: list[collections.Counter] = [collections.Counter()]
        self.cont_types: list[collections.Counter] = [collections.Counter()]
        for k in range(1, n):
            cont = collections.Counter(g[1:] for g in self.counts[k + 1])
            den, types = collections.Counter(), collections.Counter()
            for g, c in cont.items():
                den[g[:-1]] += c
                types[g[:-1]] += 1
            self.cont.append(cont)
            self.cont_den.append(den)
            self.cont_types.append(types)
        # N₁₊(h •) for the longest contexts, from the raw n-gram counts
        self.followers = collections.Counter(g[:-1] for g in self.counts[n])

    def with_discount(self, discount: float) -> "KneserNeyLM":
        """The same counts with another discount."""
        other = copy.copy(self)
        other.discount = _discount_value(discount)
        return other

    def continuation_count(self, ngram: Sequence[Hashable]) -> int:
        """N₁₊(• ngram): how many distinct tokens precede ``ngram`` in training."""
        ngram = tuple(as_token_list(ngram, "ngram"))
        if not 1 <= len(ngram) < self.n:
            raise ValueError(f"ngram: a model of order {self.n} keeps continuation "
                             f"counts of 1- to {self.n - 1}-grams, got {len(ngram)}")
        return self.cont[len(ngram)][ngram]

    def _level_arrays(self, tokens: list, k: int) -> np.ndarray:
        """(3, T) at every position t, for the level with k − 1 tokens of context:
        numerator, denominator and number of types (see the class docstring)."""
        T = len(tokens)
        out = np.zeros((3, T))
        grams = list(_ngrams(tokens, k))  # grams[i] ends at position i + k − 1
        if k == self.n:  # raw counts, used where the whole context is available
            out[0, k - 1:] = [self.counts[k].get(g, 0) for g in grams]
            out[1, k - 1:] = [self.counts[k - 1].get(g[:-1], 0)
                              - (g[:-1] == self._tails[k - 1]) if k > 1
                              else self.num_tokens for g in grams]
            out[2, k - 1:] = [self.followers.get(g[:-1], 0) for g in grams]
        else:  # continuation counts
            out[0, k - 1:] = [self.cont[k].get(g, 0) for g in grams]
            out[1, k - 1:] = [self.cont_den[k].get(g[:-1], 0) for g in grams]
            out[2, k - 1:] = [self.cont_types[k].get(g[:-1], 0) for g in grams]
        return out

    def _combine(self, arrays: list, level: np.ndarray) -> np.ndarray:
        D = self.discount
        p = np.full(len(level), 1.0 / self.m)  # the recursion ends at uniform 1/m
        for k, (num, den, types) in enumerate(arrays, start=1):
            use = (k <= level) & (den > 0)
            if k == self.n:
                use &= level == self.n
            safe = np.where(use, den, 1.0)
            p = np.where(use, (np.maximum(num - D, 0) + D * types * p) / safe, p)
        return p

    def __repr__(self) -> str:
        return (f"KneserNeyLM(n={self.n}, discount={self.discount:g}, "
                f"num_tokens={self.num_tokens}, m={self.m})")


# --------------------------------------------------- tables for the stronger baselines

#: discounts tried by ``kneser_ney_table``: 0.05, 0.10, ..., 0.95.
DEFAULT_DISCOUNT_GRID: tuple[float, ...] = tuple(round(0.05 * i, 2)
                                                 for i in range(1, 20))


def _split_parts(train, valid, test, vocab):
    train, valid, test = (as_token_list(part, name)
                          for part, name in ((train, "train"), (valid, "valid"),
                                             (test, "test")))
    if not valid or not test:
        raise ValueError("valid, test: the table needs a non-empty validation and test "
                         "sequence")
    trainvalid = train + valid
    vocab = _support_list(dict.fromkeys(trainvalid) if vocab is None else vocab)
    return train, valid, test, trainvalid, vocab


def _check_discounts(discounts: Sequence[float]) -> list[float]:
    """The discounts ``kneser_ney_table`` tries, each in (0, 1), as a list of floats."""
    discounts = [_discount_value(d) for d in discounts]
    if not discounts:
        raise ValueError("discounts is empty: give at least one discount to try")
    return discounts


def kneser_ney_table(train: Sequence[Hashable], valid: Sequence[Hashable],
                     test: Sequence[Hashable], orders: Iterable[int] = range(1, 7),
                     discounts: Sequence[float] = DEFAULT_DISCOUNT_GRID,
                     vocab: Iterable[Hashable] | None = None) -> list[dict]:
    """Held-out perplexity of interpolated Kneser–Ney models, one row per order, chosen
    like ``laplace_table``: the discount with the lowest validation perplexity of the
    model fitted on ``train``, then refitted on ``train + valid`` and evaluated once on
    ``test``. Rows: ``order``, ``discount``, ``valid_ppl``, ``valid_ppls`` (one per
    discount), ``test_ppl``."""
    orders, discounts = _check_orders(orders), _check_discounts(discounts)
    train, valid, test, trainvalid, vocab = _split_parts(train, valid, test, vocab)
    rows = []
    for n in orders:
        tuner = KneserNeyLM(train, n, discounts[0], vocab=vocab)
        tuner._check_tokens(valid)
        # the count arrays do not depend on the discount: compute them once
        arrays = [tuner._level_arrays(valid, k) for k in range(1, n + 1)]
        level = np.minimum(np.arange(1, len(valid) + 1), n)
        valid_ppls = [float(np.exp(-np.log(tuner.with_discount(d)._combine(
                          arrays, level)).mean())) for d in discounts]
        best = int(np.argmin(valid_ppls))
        model = KneserNeyLM(trainvalid, n, discounts[best], vocab=vocab)
        rows.append({"order": n, "discount": discounts[best],
                     "valid_ppl": valid_ppls[best], "valid_ppls": valid_ppls,
                     "test_ppl": model.perplexity(test)})
    return rows


def interpolated_table(train: Sequence[Hashable], valid: Sequence[Hashable],
                       test: Sequence[Hashable], orders: Iterable[int] = range(1, 7),
                       vocab: Iterable[Hashable] | None = None) -> list[dict]:
    """Held-out perplexity of Jelinek–Mercer interpolated models, one row per order:
    the weights (λ₀, ..., λₙ) fitted by EM (``fit_lambdas``) to the validation slice
    under the counts of ``train``, then the counts of ``train + valid`` with those
    weights evaluated once on ``test``. Rows: ``order``, ``lambdas``, ``valid_ppl``,
    ``test_ppl``."""
    orders = _check_orders(orders)
    train, valid, test, trainvalid, vocab = _split_parts(train, valid, test, vocab)
    rows = []
    for n in orders:
        tuner = InterpolatedLM(train, n, (1.0,) + (0.0,) * n, vocab=vocab)
        lambdas = fit_lambdas(tuner, valid)
        model = InterpolatedLM(trainvalid, n, lambdas, vocab=vocab)
        rows.append({"order": n, "lambdas": lambdas,
                     "valid_ppl": tuner.with_lambdas(lambdas).perplexity(valid),
                     "test_ppl": model.perplexity(test)})
    return rows


# ------------------------------------------------- from counts to a network: the bigram


def bigram_count_matrix(tokens: Sequence[int], m: int) -> np.ndarray:
    """(m, m) array: entry [a, b] counts the bigram (a, b) in ``tokens`` (ids < m)."""
    tokens = np.asarray(as_token_list(tokens), dtype=np.int64)
    if len(tokens) and (tokens.min() < 0 or tokens.max() >= m):
        raise ValueError(f"tokens must be indices in [0, {m}), got values from "
                         f"{tokens.min()} to {tokens.max()}")
    counts = np.zeros((m, m))
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1.0)
    return counts


def train_softmax_bigram(tokens: Sequence[int], m: int, weight_decay: float = 0.0,
                         num_steps: int = 300, lr: float = 0.1):
    """A one-layer network over one-hot inputs, ``P(b | a) = softmax(W[a])[b]``,
    trained by full-batch gradient descent (Adam) on the mean cross-entropy of every
    bigram of ``tokens`` plus ``weight_decay · ‖W‖²``. Returns the (m, m) logits ``W``.

    The loss over all T − 1 bigrams is a sum over the m² entries of the count
    matrix, so every step costs O(m²), whatever the length of the text.
    """
    import torch

    check_number("weight_decay", weight_decay, minimum=0)
    C = torch.as_tensor(bigram_count_matrix(tokens, m))  # (m, m) bigram counts
    W = torch.zeros(m, m, dtype=torch.float64, requires_grad=True)  # uniform at start
    opt = torch.optim.Adam([W], lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # an m × m problem: more threads only wait on each other
    try:
        for _ in range(num_steps):
            log_p = torch.log_softmax(W, dim=1)  # (m, m): log P(b | a)
            loss = -(C * log_p).sum() / C.sum() + weight_decay * (W ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return W.detach()


def softmax_bigram_perplexity(W, tokens: Sequence[int]) -> float:
    """Perplexity of the bigram logits ``W`` on the bigrams of ``tokens``."""
    import torch

    C = torch.as_tensor(bigram_count_matrix(tokens, W.shape[0]))  # (m, m)
    log_p = torch.log_softmax(W, dim=1)  # (m, m)
    return float(torch.exp(-(C * log_p).sum() / C.sum()))
