"""Greedy, beam and exhaustive search on tiny models (where every candidate can be scored
by brute force) and on the real vocabularies."""
import itertools
import math

import pytest
import torch

from rnncourse.decoding import (beam_candidates, beam_search, candidate_score, count_candidates,
                                exhaustive_search, greedy_search, predict_seq2seq, source_ids)
from rnncourse.seq2seq import build_translator
from rnncourse.text import Vocab
from rnncourse.translation import RESERVED_TOKENS, load_data_nmt

TINY = Vocab([["a", "b"]], reserved_tokens=list(RESERVED_TOKENS))  # <unk> <pad> <bos> <eos> a b
NUM_STEPS = 4


def tiny_net(seed: int, attention: bool = False):
    torch.manual_seed(seed)
    net = build_translator(len(TINY), len(TINY), 4, 8, 2, attention=attention).double()
    for p in net.parameters():  # large weights: peaked, varied distributions
        torch.nn.init.normal_(p, std=1.5)
    return net.eval()


def brute_force(net, src):
    """The oracle: every candidate and its log-probability, from teacher-forced forward passes
    over whole candidates (not step by step as the searches do), one batch per length."""
    eos, bos = TINY["<eos>"], TINY["<bos>"]
    scored = []  # (ids, total log p)
    with torch.no_grad():
        for length in range(1, NUM_STEPS + 1):
            bodies = [list(body) for body in itertools.product(range(len(TINY)), repeat=length)
                      if eos not in body[:-1]  # a candidate ends at its first <eos>
                      and (length == NUM_STEPS or body[-1] == eos)]  # shorter only when it ended
            Y = torch.tensor(bodies)  # (n, length)
            X = torch.tensor([src] * len(bodies))
            dec_X = torch.cat((torch.full((len(bodies), 1), bos), Y[:, :-1]), dim=1)
            logits, _ = net(X, dec_X, torch.tensor([len(src)] * len(bodies)))
            log_p = torch.log_softmax(logits, dim=-1).gather(2, Y[:, :, None]).sum(dim=(1, 2))
            scored += list(zip(bodies, log_p.tolist()))
    return scored


def best_of(scored, alpha):
    return max(((ids, total / len(ids) ** alpha) for ids, total in scored), key=lambda c: c[1])


CASES = [(seed, src, attention) for seed in range(4) for src in ([4, 5, 3], [5, 4, 4, 3])
         for attention in (False, True)]


def _strip(ids):
    return TINY.to_tokens(ids[:-1] if ids[-1] == TINY["<eos>"] else ids)


def test_searches_against_brute_force():
    greedy_suboptimal = 0
    for seed, src, attention in CASES:
        net = tiny_net(seed, attention)
        candidates = brute_force(net, src)
        assert len(candidates) == count_candidates(len(TINY), NUM_STEPS)
        for alpha in (0.0, 0.75, 1.0):
            best_ids, best_score = best_of(candidates, alpha)
            tokens, score = exhaustive_search(net, src, TINY, NUM_STEPS, alpha=alpha)
            assert score == pytest.approx(best_score, abs=1e-9) and tokens == _strip(best_ids)
            # a beam wide enough to keep every candidate is exhaustive search
            wide = beam_search(net, src, TINY, NUM_STEPS, beam_size=len(candidates), alpha=alpha)
            assert len(wide) == len(candidates)
            assert wide[0][1] == pytest.approx(best_score, abs=1e-9) and wide[0][0] == tokens
            # beam size 1 is greedy search
            g_tokens, g_score = greedy_search(net, src, TINY, NUM_STEPS, alpha=alpha)
            b_tokens, b_score = beam_search(net, src, TINY, NUM_STEPS, beam_size=1, alpha=alpha)[0]
            assert g_tokens == b_tokens and g_score == pytest.approx(b_score, abs=1e-12)
            # a narrower beam never beats exhaustive search; results come best first
            for beam_size in (2, 3, 5):
                results = beam_search(net, src, TINY, NUM_STEPS, beam_size, alpha=alpha)
                assert results[0][1] <= best_score + 1e-9
                assert [s for _, s in results] == sorted((s for _, s in results), reverse=True)
            greedy_suboptimal += g_score < best_score - 1e-9
    assert greedy_suboptimal > 0  # the cases do exercise a greedy choice that is not optimal


def test_candidate_lengths_count_the_eos():
    net = tiny_net(1)
    for ids, total, length in beam_candidates(net, [4, 3], TINY, NUM_STEPS, beam_size=50):
        assert length == len(ids) and 1 <= length <= NUM_STEPS
        assert ids[-1] == TINY["<eos>"] or length == NUM_STEPS
        assert TINY["<eos>"] not in ids[:-1]
    assert candidate_score(-2.0, 4, alpha=0.5) == pytest.approx(-1.0)
    assert candidate_score(-2.0, 4, alpha=0.0) == -2.0
    with pytest.raises(ValueError, match="at least one token"):
        candidate_score(-1.0, 0)


def test_bad_arguments_raise_clear_errors():
    net = tiny_net(0)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="beam_size"):
            beam_search(net, [4, 3], TINY, NUM_STEPS, beam_size=bad)
    # a wrong type is a TypeError (rnncourse.checks' convention; a ValueError before
    # issue 15)
    for bad in (1.5, True):
        with pytest.raises(TypeError, match="beam_size"):
            beam_search(net, [4, 3], TINY, NUM_STEPS, beam_size=bad)
    with pytest.raises(ValueError, match="empty"):
        greedy_search(net, [], TINY, NUM_STEPS)
    with pytest.raises(ValueError, match="empty"):
        beam_search(net, [], TINY, NUM_STEPS, beam_size=2)
    with pytest.raises(TypeError, match="list of source token ids"):
        greedy_search(net, "a b", TINY, NUM_STEPS)
    with pytest.raises(ValueError, match="outside the encoder's vocabulary"):
        greedy_search(net, [4, 99], TINY, NUM_STEPS)
    with pytest.raises(ValueError, match="num_steps"):
        exhaustive_search(net, [4, 3], TINY, 0)
    for alpha in (-0.5, math.nan):
        with pytest.raises(ValueError, match="alpha"):
            beam_search(net, [4, 3], TINY, NUM_STEPS, beam_size=2, alpha=alpha)
    with pytest.raises(TypeError, match="alpha"):  # a ValueError before issue 15
        beam_search(net, [4, 3], TINY, NUM_STEPS, beam_size=2, alpha="1")
    with pytest.raises(ValueError, match="tokens but tgt_vocab"):
        greedy_search(net, [4, 3], Vocab([["a", "b", "c"]], reserved_tokens=list(RESERVED_TOKENS)), NUM_STEPS)


def test_exhaustive_search_refuses_a_real_vocabulary():
    _, src_vocab, tgt_vocab = load_data_nmt(batch_size=8, num_steps=10, num_examples=600)
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 8, 1)
    assert count_candidates(len(tgt_vocab), 3) > 1_000_000
    with pytest.raises(ValueError, match="candidates.*beam_search"):
        exhaustive_search(net, source_ids("go .", src_vocab, 10), tgt_vocab, num_steps=3)
    assert count_candidates(len(tgt_vocab), 1) == len(tgt_vocab)  # one step: every token once
    exhaustive_search(net, source_ids("go .", src_vocab, 10), tgt_vocab, num_steps=1)  # small enough


def test_sentences_unknown_words_and_empty_sources():
    _, src_vocab, tgt_vocab = load_data_nmt(batch_size=8, num_steps=10, num_examples=600)
    eos = src_vocab["<eos>"]
    assert source_ids("Go.", src_vocab, 10) == [src_vocab["go"], src_vocab["."], eos]
    # unknown words are read as <unk> (id 0), as documented
    assert source_ids("xyzzy plugh", src_vocab, 10) == [src_vocab.unk, src_vocab.unk, eos]
    assert source_ids(["go", "."], src_vocab, 10) == source_ids("go .", src_vocab, 10)
    assert len(source_ids("a b c d e f g h i j k l", src_vocab, 10)) == 10  # cut as in training
    torch.manual_seed(0)
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 1)
    for beam_size in (1, 3):
        out = predict_seq2seq(net, "xyzzy plugh", src_vocab, tgt_vocab, 6, beam_size=beam_size)
        assert isinstance(out, str) and len(out.split()) <= 6 and "<bos>" not in out.split()
    for empty in ("", "   "):
        with pytest.raises(ValueError, match="no words"):
            predict_seq2seq(net, empty, src_vocab, tgt_vocab, 6)
    with pytest.raises(ValueError, match="beam_size"):
        predict_seq2seq(net, "go .", src_vocab, tgt_vocab, 6, beam_size=0)
    with pytest.raises(TypeError, match="sentence"):
        source_ids(42, src_vocab, 10)


def test_greedy_output_never_contains_its_eos_and_stops_at_num_steps():
    net = tiny_net(3)
    for num_steps in (1, 2, 5):
        tokens, _ = greedy_search(net, [4, 5, 3], TINY, num_steps)
        assert len(tokens) <= num_steps and "<eos>" not in tokens


def test_corpus_translation_agrees_with_the_single_sentence_searches():
    from rnncourse.decoding import greedy_batch, translate_corpus, translate_corpus_alphas

    data_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size=8, num_steps=10, num_examples=600)
    sentences = ["go .", "i lost .", "he's calm .", "we won !", "i'm fine .", "xyzzy ."]
    for attention in (False, True):
        torch.manual_seed(7)
        net = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 2, attention=attention).double()
        for p in net.parameters():
            torch.nn.init.normal_(p, std=0.5)
        ids = [source_ids(s, src_vocab, 10) for s in sentences]
        # sentences of different lengths in one minibatch: the padding changes nothing
        batched = greedy_batch(net, ids, tgt_vocab, 7)
        assert batched == [greedy_search(net, src, tgt_vocab, 7)[0] for src in ids]
        assert translate_corpus(net, sentences, src_vocab, tgt_vocab, 7, batch_size=4) == [" ".join(t) for t in batched]
        by_alpha = translate_corpus_alphas(net, sentences, src_vocab, tgt_vocab, 7, 3, [0.0, 1.0])
        for alpha in (0.0, 1.0):
            expected = [" ".join(beam_search(net, src, tgt_vocab, 7, 3, alpha)[0][0]) for src in ids]
            assert by_alpha[alpha] == expected
            assert translate_corpus(net, sentences, src_vocab, tgt_vocab, 7, 3, alpha) == expected
    with pytest.raises(TypeError, match="list of sentences"):
        translate_corpus(net, "go .", src_vocab, tgt_vocab, 7)


def test_evaluate_bleu_is_corpus_bleu_of_the_translations():
    import sacrebleu

    from rnncourse.bleu import sacrebleu_streams
    from rnncourse.decoding import evaluate_bleu, translate_corpus

    _, src_vocab, tgt_vocab = load_data_nmt(batch_size=8, num_steps=10, num_examples=600)
    torch.manual_seed(8)
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 1)
    items = [(["go", "."], [["va", "!"], ["marche", "."]]), (["i", "lost", "."], [["j'ai", "perdu", "."]])]
    hyps = translate_corpus(net, [s for s, _ in items], src_vocab, tgt_vocab, 6)
    refs = [[" ".join(r) for r in rs] for _, rs in items]
    expected = sacrebleu.corpus_bleu(hyps, sacrebleu_streams(refs), tokenize="none", smooth_method="none").score
    assert evaluate_bleu(net, items, src_vocab, tgt_vocab, 6) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="no items"):
        evaluate_bleu(net, [], src_vocab, tgt_vocab, 6)


def test_greedy_alignment_gives_one_row_per_output_token():
    from rnncourse.decoding import greedy_alignment

    data_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size=4, num_steps=8)
    torch.manual_seed(3)
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 1, attention=True).eval()
    src, out, weights = greedy_alignment(net, "i lost .", src_vocab, tgt_vocab, 8)
    assert src == ["i", "lost", ".", "<eos>"]
    tokens, _ = greedy_search(net, source_ids("i lost .", src_vocab, 8), tgt_vocab, 8)
    assert out[:len(tokens)] == tokens and weights.shape == (len(out), 4)
    torch.testing.assert_close(weights.sum(1), torch.ones(len(out)))
    plain = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 1)
    with pytest.raises(TypeError, match="attention"):
        greedy_alignment(plain, "i lost .", src_vocab, tgt_vocab, 8)


@pytest.mark.parametrize("attention", [False, True])
def test_decoding_checks_the_tokens_once_not_at_every_step(monkeypatch, attention):
    """The token-range check reads a value back from the device: the searches check their
    source on the host and the encoder its input once; the decoder's per-step calls check
    nothing."""
    import rnncourse.seq2seq as seq2seq

    calls = []
    check = seq2seq._check_tokens
    monkeypatch.setattr(seq2seq, "_check_tokens", lambda *a, **k: (calls.append(a[2]),
                                                                     check(*a, **k)))
    net = tiny_net(3, attention=attention)
    num_steps = 8
    calls.clear()
    beam = beam_candidates(net, [4, 5, 3], TINY, num_steps, beam_size=3)
    assert max(len(ids) for ids, _, _ in beam) > 2  # several decoder steps ran
    assert calls == ["the source X"]  # the encoder's, once for the whole search
    calls.clear()
    greedy_search(net, [4, 5, 3], TINY, num_steps)
    assert calls == ["the source X"]
    calls.clear()
    exhaustive_search(net, [4, 3], TINY, 3)
    assert calls == ["the source X"]
    # a bad id is still refused at the entry point, before anything is decoded
    with pytest.raises(ValueError, match="outside the encoder's vocabulary"):
        greedy_search(net, [4, len(TINY)], TINY, num_steps)
    with pytest.raises(ValueError, match="outside the encoder's vocabulary"):
        beam_search(net, [len(TINY), 3], TINY, num_steps, beam_size=2)
    with pytest.raises(TypeError, match="source token id"):
        greedy_search(net, [4, 3.0], TINY, num_steps)


def test_attention_reads_the_source_lengths_back_once_per_search(monkeypatch):
    """masked_softmax checks that the lengths lie in [1, K], which reads them back from
    the device; the attention decoder passes the same lengths at every step, so a search
    reads them once, not once per step, and a changed tensor is checked again."""
    import rnncourse.attention as attention

    reads = []
    check_range = attention._check_range
    monkeypatch.setattr(attention, "_check_range",
                        lambda *a: (reads.append(1), check_range(*a)))
    net = tiny_net(3, attention=True)
    tokens, _ = greedy_search(net, [4, 5, 3], TINY, 8)
    assert len(tokens) > 2  # several decoder steps ran
    assert len(reads) == 1
    reads.clear()
    beam_candidates(net, [4, 5, 3], TINY, 8, beam_size=3)
    assert len(reads) == 1  # a new search: its own lengths, checked once
    # the remembered tensor changed in place: checked (and refused) again
    scores = torch.zeros(1, 1, 3)
    lens = torch.tensor([2])
    attention.masked_softmax(scores, lens)
    lens[0] = 4
    with pytest.raises(ValueError, match=r"valid_lens must lie in \[1, 3\]"):
        attention.masked_softmax(scores, lens)
