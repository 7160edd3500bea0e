"""BLEU: the course notes' sentence score and standard corpus BLEU.

Both compare whitespace-separated tokens, so the text must be tokenized the same way on
both sides (``preprocess_nmt`` output joined with spaces).

* ``bleu(pred, label, k)``: the notes' (d2l's) score of one prediction against one
  label, exp(min(0, 1 - len_label/len_pred)) * prod_{n=1..k} p_n^(1/2^n), in [0, 1]. The
  weights 1/2^n give long n-grams *less* weight, unlike standard BLEU.
* ``corpus_bleu(hypotheses, references)``: Papineni et al.'s corpus BLEU on the 0-100
  scale: clipped n-gram counts summed over the corpus, the geometric mean of the n-gram
  precisions for n = 1..max_n with uniform weights, and a brevity penalty against the
  sum of the closest reference lengths. It equals ``sacrebleu.corpus_bleu(hypotheses,
  sacrebleu_streams(references), tokenize="none", smooth_method="none").score``.
"""
from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .checks import check_positive_int, check_type

__all__ = ["bleu", "ngram_counts", "corpus_bleu", "corpus_bleu_details", "BLEUDetails",
           "sacrebleu_streams"]


def _check_bleu_args(pred_seq: str, label_seq: str, k: int) -> None:
    check_type("pred_seq", pred_seq, str)
    check_type("label_seq", label_seq, str)
    check_positive_int("k", k)
    if not label_seq.split():
        raise ValueError("label_seq is empty: the notes' BLEU needs a label of at "
                         "least one token")


def ngram_counts(tokens: Sequence[str], n: int) -> collections.Counter:
    """How often each n-gram (a tuple of n tokens) occurs in ``tokens``."""
    return collections.Counter(tuple(tokens[i:i + n])
                               for i in range(len(tokens) - n + 1))


def bleu(pred_seq: str, label_seq: str, k: int = 2) -> float:
    """The notes' BLEU of one prediction against one label (both space-separated
    tokens), in [0, 1].

    exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n), where p_n
    is the clipped n-gram precision: matches (each label n-gram used at most as often as
    it occurs in the label) over the n-grams of the prediction.

    Where d2l divides by zero, this is defined:

    * an empty prediction scores 0 (the brevity factor tends to 0 as len_pred -> 0);
    * a prediction shorter than n has no n-grams, so p_n is undefined: that factor is
      left out (as sacrebleu's ``effective_order``), and the brevity factor still
      punishes it;
    * a prediction longer than the label has brevity factor 1 and p_n = 0 where the
      label has no n-grams at all, which gives 0.

    The label must not be empty.
    """
    _check_bleu_args(pred_seq, label_seq, k)
    pred_tokens, label_tokens = pred_seq.split(), label_seq.split()
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred == 0:  # the brevity factor tends to 0 as len_pred -> 0
        return 0.0
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        pred_ngrams, label_ngrams = (ngram_counts(pred_tokens, n),
                                     ngram_counts(label_tokens, n))
        matches = sum(min(count, label_ngrams[gram])
                      for gram, count in pred_ngrams.items())
        score *= (matches / (len_pred - n + 1)) ** (0.5 ** n)
    return score


@dataclass(frozen=True)
class BLEUDetails:
    """Corpus BLEU and its parts: ``score`` (0-100), ``precisions`` p_1..p_max_n
    (0-100), ``brevity_penalty``, ``hyp_len`` (hypothesis tokens) and ``ref_len`` (the
    summed closest reference lengths); ``matches`` and ``totals`` the clipped and total
    n-gram counts."""

    score: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    hyp_len: int
    ref_len: int
    matches: tuple[int, ...]
    totals: tuple[int, ...]


def _closest_length(hyp_len: int, ref_lens: list[int]) -> int:
    """The reference length closest to ``hyp_len``; on a tie the shorter (as
    sacrebleu)."""
    return min(ref_lens, key=lambda ref_len: (abs(ref_len - hyp_len), ref_len))


def _check_corpus(hypotheses, references, max_n: int) -> None:
    check_positive_int("max_n", max_n)
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise TypeError("hypotheses must be a list of strings, one per sentence")
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError("references must be a list with one list of reference strings "
                        "per hypothesis")
    if not hypotheses:
        raise ValueError("corpus BLEU needs at least one hypothesis")
    if len(references) != len(hypotheses):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference lists: "
            "references[i] must be the list of references of hypothesis i (sacrebleu's "
            "layout, streams of references, is the transpose; see sacrebleu_streams)")
    for i, (hyp, refs) in enumerate(zip(hypotheses, references)):
        check_type(f"hypotheses[{i}]", hyp, str)
        if isinstance(refs, str) or not isinstance(refs, Sequence):
            raise TypeError(f"references[{i}] must be a list of reference strings, got "
                            f"{type(refs).__name__}")
        if not refs:
            raise ValueError(f"references[{i}] is empty: every hypothesis needs at "
                             "least one reference")
        for j, ref in enumerate(refs):
            if ref is None:
                raise TypeError(f"references[{i}][{j}] is None: leave a missing "
                                "reference out of the list (an empty string would "
                                "count as a reference of length 0)")
            check_type(f"references[{i}][{j}]", ref, str)


def corpus_bleu_details(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                        max_n: int = 4) -> BLEUDetails:
    """Corpus BLEU with its parts; see ``corpus_bleu``."""
    _check_corpus(hypotheses, references, max_n)
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        hyp_tokens = hyp.split()
        ref_tokens = [ref.split() for ref in refs]
        hyp_len += len(hyp_tokens)
        ref_len += _closest_length(len(hyp_tokens),
                                   [len(tokens) for tokens in ref_tokens])
        for n in range(1, max_n + 1):
            # clip each n-gram by its largest count in any one reference
            max_ref_counts: collections.Counter = collections.Counter()
            for tokens in ref_tokens:
                max_ref_counts |= ngram_counts(tokens, n)
            hyp_counts = ngram_counts(hyp_tokens, n)
            matches[n - 1] += sum(min(count, max_ref_counts[gram])
                                  for gram, count in hyp_counts.items())
            totals[n - 1] += sum(hyp_counts.values())
    precisions = tuple(100.0 * m / t if t else 0.0 for m, t in zip(matches, totals))
    if hyp_len == 0:
        brevity_penalty = 0.0
    else:
        brevity_penalty = 1.0 if hyp_len >= ref_len else math.exp(1 - ref_len / hyp_len)
    # a zero precision (or no n-grams at all): the geometric mean is 0
    if min(matches) == 0:
        score = 0.0
    else:
        score = brevity_penalty * math.exp(sum(math.log(p) for p in precisions) / max_n)
    return BLEUDetails(score, precisions, brevity_penalty, hyp_len, ref_len,
                       tuple(matches), tuple(totals))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                max_n: int = 4) -> float:
    """Standard (Papineni et al.) corpus BLEU on the 0-100 scale, no smoothing.

    ``hypotheses[i]`` is one translation (space-separated tokens) and ``references[i]``
    the list of its references (one or more; their number may differ from sentence to
    sentence). Clipped n-gram matches and n-gram totals are summed over the corpus for
    n = 1..max_n; BLEU = BP * exp(mean_n log p_n) with BP = exp(min(0, 1 - r / c)), c
    the hypothesis tokens and r the summed lengths of the reference closest in length to
    each hypothesis (the shorter on a tie). Any zero precision makes the score 0, as in
    sacrebleu without smoothing.
    """
    return corpus_bleu_details(hypotheses, references, max_n).score


def sacrebleu_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Our layout (one list of references per hypothesis) -> sacrebleu's reference
    streams.

    Stream j holds the j-th reference of every hypothesis, ``None`` where a hypothesis
    has fewer than j + 1 references; sacrebleu drops ``None`` (while ``""`` would be a
    reference of length 0).
    """
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise TypeError("references must be a list with one list of reference strings "
                        "per hypothesis")
    num_streams = max((len(refs) for refs in references), default=0)
    return [[refs[j] if j < len(refs) else None for refs in references]
            for j in range(num_streams)]
