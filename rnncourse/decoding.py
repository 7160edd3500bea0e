"""Decoding a trained encoder–decoder: greedy search, beam search, exhaustive search.

Every search takes the source as a list of token ids (normally ending in ``<eos>``),
encodes it once, and extends candidate outputs y_1 ... y_L one token at a time, starting
from ``<bos>``. A candidate ends at its ``<eos>`` (which is counted in L) or after
``num_steps`` tokens, and is scored as in the notes::

    score(y) = (1 / L**alpha) * sum_t log p(y_t | y_<t, c)

``alpha = 0`` ranks by the total log-probability, which favours short outputs (every
token adds a negative term); dividing by L**alpha with ``alpha > 0`` compensates for
that. Returned tokens are strings without the leading ``<bos>`` and without the final
``<eos>``.

The net is any ``rnncourse.seq2seq.EncoderDecoder``: ``net.encoder(X, valid_len)``,
``net.decoder.init_state(enc_outputs, valid_len)``, ``net.decoder(X, state)`` returning
logits (B, T, V), and ``net.decoder.select_state(state, index)``. Beam search decodes
all its hypotheses in one decoder call per step (they are the rows of one minibatch).
Searches run in eval mode (no dropout) without gradients; the net's mode is restored.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .checks import check_int, check_number, check_positive_int, check_type
from .text import Vocab
from .utils import evaluating, place

__all__ = [
    "candidate_score",
    "greedy_search",
    "beam_candidates",
    "beam_search",
    "count_candidates",
    "exhaustive_search",
    "source_ids",
    "predict_seq2seq",
    "greedy_batch",
    "translate_corpus",
    "translate_corpus_alphas",
    "evaluate_bleu",
    "greedy_alignment",
    "MAX_EXHAUSTIVE_CANDIDATES",
]

MAX_EXHAUSTIVE_CANDIDATES = 1_000_000


# ------------------------------------------------------------------- checks and helpers

def candidate_score(log_prob_sum: float, length: int, alpha: float = 0.75) -> float:
    """The notes' score of a candidate of ``length`` tokens (its ``<eos>`` included)
    whose log-probabilities sum to ``log_prob_sum``:
    ``log_prob_sum / length**alpha``."""
    if length < 1:
        raise ValueError("a candidate has at least one token (its <eos>), got length "
                         f"{length}")
    return log_prob_sum / length ** alpha


def _check_net(net: nn.Module, tgt_vocab: Vocab, num_steps: int) -> None:
    """What every search needs of the net, the target vocabulary and ``num_steps``."""
    check_type("tgt_vocab", tgt_vocab, Vocab)
    for token in ("<bos>", "<eos>"):
        if token not in tgt_vocab:
            raise ValueError(f"the target vocabulary has no {token!r} token: decoding "
                             "starts at <bos> and ends at <eos>")
    if not all(hasattr(net, part) for part in ("encoder", "decoder")):
        raise TypeError("net must be an encoder–decoder "
                        f"(rnncourse.seq2seq.EncoderDecoder), got {type(net).__name__}")
    check_positive_int("num_steps (the longest output, in tokens)", num_steps)
    decoder_vocab = getattr(net.decoder, "vocab_size", None)
    if decoder_vocab is not None and decoder_vocab != len(tgt_vocab):
        raise ValueError(f"the decoder predicts {decoder_vocab} tokens but tgt_vocab "
                         f"has {len(tgt_vocab)}")


def _check_source_ids(net: nn.Module, src_tokens: Sequence[int]) -> list[int]:
    """The source ids as a list, checked on the host before any tensor is built (the
    encoder checks its input once more, once per search; the decoder's per-step calls
    check nothing)."""
    if isinstance(src_tokens, torch.Tensor):
        src_tokens = src_tokens.tolist()
    if isinstance(src_tokens, str) or not isinstance(src_tokens, Sequence):
        raise TypeError("src_tokens must be a list of source token ids (ending in "
                        "<eos>); for a sentence, use predict_seq2seq or source_ids")
    src = list(src_tokens)
    if not src:
        raise ValueError("the source is empty: pass at least one token id (a "
                         "sentence's ids end in <eos>)")
    for token_id in src:
        check_int("a source token id", token_id, minimum=0)
    encoder_vocab = getattr(net.encoder, "vocab_size", None)
    if encoder_vocab is not None and max(src) >= encoder_vocab:
        raise ValueError(f"source token id {max(src)} is outside the encoder's "
                         f"vocabulary of {encoder_vocab}")
    return src


_NOT_TAKEN = object()  # the search has no such argument


def _check_search_args(net: nn.Module, src_tokens: Sequence[int], tgt_vocab: Vocab,
                       num_steps: int, *, alpha: float = _NOT_TAKEN,
                       beam_size: int = _NOT_TAKEN) -> list[int]:
    """One search's arguments (``alpha`` and ``beam_size`` where it takes them), checked
    at its entry, once; the source ids as a list."""
    _check_net(net, tgt_vocab, num_steps)
    if alpha is not _NOT_TAKEN:
        check_number("alpha", alpha, minimum=0)  # 0: rank by the total log p
    if beam_size is not _NOT_TAKEN:
        check_positive_int("beam_size", beam_size)  # 1 is greedy search
    return _check_source_ids(net, src_tokens)


def _check_corpus_args(beam_size: int, alphas: Sequence[float]) -> None:
    """The choice between greedy and beam search, checked before anything is
    translated (the searches check the rest)."""
    check_positive_int("beam_size", beam_size)
    for alpha in alphas:
        check_number("alpha", alpha, minimum=0)


def _encode(net: nn.Module, src: list[int], device: torch.device):
    """The decoder's first state for one source sentence (a batch of one)."""
    X = torch.tensor([src], dtype=torch.long, device=device)  # (1, S)
    valid_len = torch.tensor([len(src)], device=device)
    return net.decoder.init_state(net.encoder(X, valid_len), valid_len)


def _step(net: nn.Module, last: torch.Tensor, state) -> tuple[torch.Tensor, object]:
    """One decoder step for a batch of hypotheses: last tokens (n,) -> log p (n, V),
    state."""
    logits, state = net.decoder(last.unsqueeze(1), state)  # (n, 1, V)
    return torch.log_softmax(logits[:, 0].double(), dim=-1), state


def _tokens(ids: list[int], tgt_vocab: Vocab) -> list[str]:
    """Token strings without the final <eos>."""
    if ids and ids[-1] == tgt_vocab["<eos>"]:
        ids = ids[:-1]
    return tgt_vocab.to_tokens(ids)


# ------------------------------------------------------------------------ greedy search

def greedy_search(net: nn.Module, src_tokens: Sequence[int], tgt_vocab: Vocab,
                  num_steps: int, device: str | torch.device | None = None,
                  alpha: float = 0.75) -> tuple[list[str], float]:
    """At every step the most likely next token, until ``<eos>`` or ``num_steps``
    tokens.

    Returns ``(tokens, score)``: the output tokens (without ``<eos>``) and the notes'
    score ``(1 / L**alpha) * sum log p`` of the output, L counting the ``<eos>``.
    """
    src = _check_search_args(net, src_tokens, tgt_vocab, num_steps, alpha=alpha)
    device = place(net, device)
    eos = tgt_vocab["<eos>"]
    ids: list[int] = []
    log_prob_sum = 0.0
    with evaluating(net):  # no dropout, no gradients
        state = _encode(net, src, device)
        last = torch.tensor([tgt_vocab["<bos>"]], device=device)
        for _ in range(num_steps):
            log_probs, state = _step(net, last, state)  # (1, V)
            y = int(log_probs[0].argmax())
            log_prob_sum += float(log_probs[0, y])
            ids.append(y)
            if y == eos:
                break
            last = torch.tensor([y], device=device)
    return _tokens(ids, tgt_vocab), candidate_score(log_prob_sum, len(ids), alpha)


# -------------------------------------------------------------------------- beam search

def beam_candidates(net: nn.Module, src_tokens: Sequence[int], tgt_vocab: Vocab,
                    num_steps: int, beam_size: int,
                    device: str | torch.device | None = None
                    ) -> list[tuple[list[int], float, int]]:
    """Every finished candidate of a beam search: ``(ids, log_prob_sum, length)`` each,
    ``ids`` the output token ids (ending in ``<eos>`` unless cut at ``num_steps``).

    At every step the live hypotheses (at most ``beam_size``) are extended by every
    token in one decoder call, and the ``beam_size`` extensions of highest total
    log-probability are kept; those that end in ``<eos>`` (or reach ``num_steps``
    tokens) become candidates, the others stay live. The search does not depend on
    alpha: only the final choice among the candidates does (``beam_search``), so one
    search serves every alpha.
    """
    src = _check_search_args(net, src_tokens, tgt_vocab, num_steps, beam_size=beam_size)
    device = place(net, device)
    eos = tgt_vocab["<eos>"]
    finished: list[tuple[list[int], float, int]] = []
    with evaluating(net):  # no dropout, no gradients
        state = _encode(net, src, device)
        live_ids: list[list[int]] = [[]]
        # (n,) total log p of each hypothesis
        live_sums = torch.zeros(1, dtype=torch.float64, device=device)
        last = torch.tensor([tgt_vocab["<bos>"]], device=device)
        for step in range(num_steps):
            log_probs, state = _step(net, last, state)  # (n, V)
            totals = (live_sums[:, None] + log_probs).reshape(-1)  # (n * V,)
            best = torch.topk(totals, min(beam_size, totals.numel()))
            vocab_size = log_probs.shape[1]
            keep_rows, keep_ids, keep_sums = [], [], []
            for total, flat in zip(best.values.tolist(), best.indices.tolist()):
                row, y = divmod(flat, vocab_size)
                ids = live_ids[row] + [y]
                if y == eos or step == num_steps - 1:
                    finished.append((ids, total, len(ids)))
                else:
                    keep_rows.append(row)
                    keep_ids.append(ids)
                    keep_sums.append(total)
            if not keep_rows:
                break
            index = torch.tensor(keep_rows, device=device)
            state = net.decoder.select_state(state, index)
            live_ids = keep_ids
            live_sums = torch.tensor(keep_sums, dtype=torch.float64, device=device)
            last = torch.tensor([ids[-1] for ids in keep_ids], device=device)
    return finished


def beam_search(net: nn.Module, src_tokens: Sequence[int], tgt_vocab: Vocab,
                num_steps: int, beam_size: int, alpha: float = 0.75,
                device: str | torch.device | None = None
                ) -> list[tuple[list[str], float]]:
    """Beam search (``beam_candidates``) with the candidates ranked by the notes' score
    ``(1 / L**alpha) * sum log p``: a list of ``(tokens, score)``, best first (at most
    ``beam_size * num_steps`` of them). ``beam_size=1`` is greedy search."""
    check_number("alpha", alpha, minimum=0)  # beam_candidates checks the others
    candidates = beam_candidates(net, src_tokens, tgt_vocab, num_steps, beam_size,
                                 device)
    scored = [(_tokens(ids, tgt_vocab), candidate_score(total, length, alpha))
              for ids, total, length in candidates]
    # sorted() is stable: equal scores keep the search's order (higher total log p
    # first)
    return sorted(scored, key=lambda pair: pair[1], reverse=True)


# -------------------------------------------------------------------- exhaustive search

def count_candidates(vocab_size: int, num_steps: int) -> int:
    """How many outputs exhaustive search scores: every sequence that ends at its first
    ``<eos>`` (after 1 ... num_steps - 1 other tokens... ) or runs to ``num_steps``
    tokens: Σ_{l=1}^{T-1} (V-1)^(l-1) + V (V-1)^(T-1), with V = ``vocab_size`` and T =
    ``num_steps``."""
    ended_early = sum((vocab_size - 1) ** (length - 1)
                      for length in range(1, num_steps))
    return ended_early + vocab_size * (vocab_size - 1) ** (num_steps - 1)


def exhaustive_search(net: nn.Module, src_tokens: Sequence[int], tgt_vocab: Vocab,
                      num_steps: int, alpha: float = 0.75,
                      device: str | torch.device | None = None,
                      max_candidates: int = MAX_EXHAUSTIVE_CANDIDATES
                      ) -> tuple[list[str], float]:
    """Score every possible output (``count_candidates(len(tgt_vocab), num_steps)`` of
    them) and return the best ``(tokens, score)``. Refuses with ``ValueError`` when
    there are more than ``max_candidates`` (a million by default): the count grows as
    V**num_steps."""
    src = _check_search_args(net, src_tokens, tgt_vocab, num_steps, alpha=alpha)
    vocab_size = len(tgt_vocab)
    count = count_candidates(vocab_size, num_steps)
    if count > max_candidates:
        raise ValueError(f"exhaustive search would score {count:.3g} candidates "
                         f"({vocab_size} tokens, num_steps={num_steps}), more than "
                         f"max_candidates={max_candidates}: use beam_search")
    device = place(net, device)
    eos = tgt_vocab["<eos>"]
    best_ids, best_score = None, -math.inf
    with evaluating(net):
        state = _encode(net, src, device)
        # every live prefix (none has ended): rows of one batch, with their total log p
        prefixes = torch.empty((1, 0), dtype=torch.long, device=device)  # (n, t)
        sums = torch.zeros(1, dtype=torch.float64, device=device)
        last = torch.tensor([tgt_vocab["<bos>"]], device=device)
        for step in range(num_steps):
            log_probs, state = _step(net, last, state)  # (n, V)
            # (n, V): every prefix extended by every token
            totals = sums[:, None] + log_probs
            length = step + 1
            # the candidates that end here: those extended by <eos>, and all of them at
            # the last step
            ending = totals if step == num_steps - 1 else totals[:, eos:eos + 1]
            if ending.numel():
                flat = int(ending.reshape(-1).argmax())
                score = candidate_score(float(ending.reshape(-1)[flat]), length, alpha)
                if score > best_score:
                    row, column = divmod(flat, ending.shape[1])
                    token = column if step == num_steps - 1 else eos
                    best_ids, best_score = prefixes[row].tolist() + [token], score
            if step == num_steps - 1:
                break
            # the live prefixes of the next step: every row extended by every token but
            # <eos>
            tokens = torch.tensor([y for y in range(vocab_size) if y != eos],
                                  device=device)
            rows = torch.arange(prefixes.shape[0],
                                device=device).repeat_interleave(len(tokens))
            columns = tokens.repeat(prefixes.shape[0])
            sums = totals[rows, columns]
            prefixes = torch.cat((prefixes[rows], columns[:, None]), dim=1)
            state = net.decoder.select_state(state, rows)
            last = columns
    return _tokens(best_ids, tgt_vocab), best_score


# --------------------------------------------------------------------------- sentences

def source_ids(src_sentence: str | Sequence[str], src_vocab: Vocab,
               num_steps: int) -> list[int]:
    """The source ids the encoder reads for a sentence: ``preprocess_nmt`` (lower case,
    spaces before punctuation), split on spaces, each word's id (a word missing from
    ``src_vocab`` becomes ``<unk>``), then ``<eos>``, cut to ``num_steps`` as in
    training (``build_array_nmt``). A token list is taken as already tokenized."""
    from .translation import preprocess_nmt

    check_type("src_vocab", src_vocab, Vocab)
    if "<eos>" not in src_vocab:
        raise ValueError("the source vocabulary has no '<eos>' token")
    check_positive_int("num_steps", num_steps)
    if isinstance(src_sentence, str):
        words = preprocess_nmt(src_sentence).split()
    elif (isinstance(src_sentence, Sequence)
          and all(isinstance(w, str) for w in src_sentence)):
        words = list(src_sentence)
    else:
        raise TypeError("the source must be a sentence (str) or a list of words, got "
                        f"{type(src_sentence).__name__}")
    if not words:
        raise ValueError(f"the source sentence {src_sentence!r} has no words: there is "
                         "nothing to translate")
    return (src_vocab[words] + [src_vocab["<eos>"]])[:num_steps]


def predict_seq2seq(net: nn.Module, src_sentence: str, src_vocab: Vocab,
                    tgt_vocab: Vocab, num_steps: int,
                    device: str | torch.device | None = None, beam_size: int = 1,
                    alpha: float = 0.75) -> str:
    """Translate one sentence: ``source_ids`` (unknown words become ``<unk>``), then
    greedy search (``beam_size=1``) or the best candidate of ``beam_search``; the output
    tokens joined by spaces (``<eos>`` left out). An empty sentence raises
    ``ValueError``."""
    _check_corpus_args(beam_size, [alpha])
    src = source_ids(src_sentence, src_vocab, num_steps)
    if beam_size == 1:
        tokens, _ = greedy_search(net, src, tgt_vocab, num_steps, device, alpha=alpha)
    else:
        tokens, _ = beam_search(net, src, tgt_vocab, num_steps, beam_size, alpha,
                                device)[0]
    return " ".join(tokens)


# ----------------------------------------------------------------------- many sentences

def greedy_batch(net: nn.Module, sources: Sequence[Sequence[int]], tgt_vocab: Vocab,
                 num_steps: int,
                 device: str | torch.device | None = None) -> list[list[str]]:
    """Greedy search for many sources at once (the rows of one minibatch): the same
    outputs as ``greedy_search`` on each source, in one decoder call per step. The
    encoder reads each source up to its own length (packed), so the padding of the
    minibatch changes nothing."""
    if not sources:
        return []
    _check_net(net, tgt_vocab, num_steps)
    srcs = [_check_source_ids(net, src) for src in sources]
    device = place(net, device)
    eos = tgt_vocab["<eos>"]
    longest = max(len(src) for src in srcs)
    # (B, S), 0-padded
    X = torch.tensor([src + [0] * (longest - len(src)) for src in srcs], device=device)
    valid_len = torch.tensor([len(src) for src in srcs], device=device)
    with evaluating(net):
        state = net.decoder.init_state(net.encoder(X, valid_len), valid_len)
        last = torch.full((len(srcs),), tgt_vocab["<bos>"], device=device)
        outputs = []
        done = torch.zeros(len(srcs), dtype=torch.bool, device=device)
        for _ in range(num_steps):
            logits, state = net.decoder(last.unsqueeze(1), state)  # (B, 1, V)
            last = logits[:, 0].argmax(dim=1)  # (B,)
            outputs.append(last)
            done |= last == eos
            if bool(done.all()):
                break
    rows = torch.stack(outputs, dim=1).tolist()  # (B, steps)
    return [tgt_vocab.to_tokens(row[:row.index(eos)] if eos in row else row)
            for row in rows]


def _source_list(sources, src_vocab: Vocab, num_steps: int) -> list[list[int]]:
    if isinstance(sources, str):
        raise TypeError("sources must be a list of sentences (or of word lists), not "
                        "one string")
    return [source_ids(src, src_vocab, num_steps) for src in sources]


def translate_corpus(net: nn.Module, sources: Sequence[str | Sequence[str]],
                     src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
                     beam_size: int = 1, alpha: float = 0.75,
                     device: str | torch.device | None = None,
                     batch_size: int = 256) -> list[str]:
    """Translate every source (a sentence, or a word list such as
    ``NMTSplit.test[i][0]``): greedy search in minibatches of ``batch_size`` sentences
    for ``beam_size=1``, else the best candidate of ``beam_search`` sentence by
    sentence. Outputs are space-joined tokens."""
    _check_corpus_args(beam_size, [alpha])
    ids = _source_list(sources, src_vocab, num_steps)
    if beam_size == 1:
        out: list[str] = []
        for start in range(0, len(ids), batch_size):
            out += [" ".join(t) for t in greedy_batch(net,
                                                      ids[start:start + batch_size],
                                                      tgt_vocab, num_steps, device)]
        return out
    return [" ".join(beam_search(net, src, tgt_vocab, num_steps, beam_size, alpha,
                                 device)[0][0]) for src in ids]


def translate_corpus_alphas(net: nn.Module, sources: Sequence[str | Sequence[str]],
                            src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
                            beam_size: int, alphas: Sequence[float],
                            device: str | torch.device | None = None
                            ) -> dict[float, list[str]]:
    """Beam-search translations of every source for several alphas from ONE search per
    source (the search does not depend on alpha, only the final choice does):
    ``{alpha: [translation, ...]}``, each list equal to
    ``translate_corpus(..., alpha=alpha)``."""
    _check_corpus_args(beam_size, alphas)
    out: dict[float, list[str]] = {alpha: [] for alpha in alphas}
    for src in _source_list(sources, src_vocab, num_steps):
        candidates = beam_candidates(net, src, tgt_vocab, num_steps, beam_size, device)
        for alpha in alphas:
            # max() keeps the first of equal scores: the search's order, as sorted() in
            # beam_search
            ids, _, _ = max(candidates,
                            key=lambda c: candidate_score(c[1], c[2], alpha))
            out[alpha].append(" ".join(_tokens(ids, tgt_vocab)))
    return out


def evaluate_bleu(net: nn.Module,
                  items: Sequence[tuple[Sequence[str], Sequence[Sequence[str]]]],
                  src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
                  beam_size: int = 1, alpha: float = 0.75,
                  device: str | torch.device | None = None) -> float:
    """Multi-reference corpus BLEU (0-100, ``rnncourse.bleu.corpus_bleu``) of the net's
    translations of held-out items ``(source words, [reference word lists])``, such as
    ``NMTSplit.valid`` or ``NMTSplit.test``."""
    from .bleu import corpus_bleu

    items = list(items)
    if not items:
        raise ValueError("no items to translate: pass (source words, [reference word "
                         "lists]) pairs")
    hypotheses = translate_corpus(net, [src for src, _ in items], src_vocab, tgt_vocab,
                                  num_steps, beam_size, alpha, device)
    return corpus_bleu(hypotheses,
                       [[" ".join(ref) for ref in refs] for _, refs in items])


def greedy_alignment(net: nn.Module, src_sentence: str | Sequence[str],
                     src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
                     device: str | torch.device | None = None
                     ) -> tuple[list[str], list[str], torch.Tensor]:
    """The greedy translation of one sentence by a decoder with attention, and its
    attention weights: ``(source tokens, output tokens, weights (L, S))``, one row per
    output token (its ``<eos>`` included, when it emits one) and one column per source
    token (``<eos>`` included). The weights are those of the decoder reading the greedy
    output under teacher forcing, which equal the ones of the search step by step."""
    src = source_ids(src_sentence, src_vocab, num_steps)
    tokens, _ = greedy_search(net, src, tgt_vocab, num_steps, device)
    if not hasattr(net.decoder, "attention_weights"):
        raise TypeError("greedy_alignment needs a decoder with attention "
                        "(Seq2SeqAttentionDecoder), got "
                        f"{type(net.decoder).__name__}")
    device = place(net, device)
    ids = tgt_vocab[tokens] if tokens else []
    if len(ids) < num_steps:
        ids = ids + [tgt_vocab["<eos>"]]  # greedy stopped at its <eos>
    with evaluating(net):
        state = _encode(net, src, device)
        dec_X = torch.tensor([[tgt_vocab["<bos>"]] + ids[:-1]], device=device)  # (1, L)
        net.decoder(dec_X, state)
        weights = net.decoder.attention_weights[0].cpu()  # (L, S)
    out_tokens = tgt_vocab.to_tokens(ids)
    return src_vocab.to_tokens(src), out_tokens, weights
