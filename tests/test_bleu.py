"""BLEU: the notes' sentence score against its worked example and d2l, corpus BLEU against sacrebleu."""
import collections
import math
import random

import pytest
import sacrebleu

from rnncourse.bleu import bleu, corpus_bleu, corpus_bleu_details, ngram_counts, sacrebleu_streams
from rnncourse.translation import load_split_nmt


def d2l_bleu(pred_seq, label_seq, k):
    """d2l's bleu, the oracle where it is defined (a prediction of at least k tokens)."""
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, k + 1):
        num_matches, label_subs = 0, collections.defaultdict(int)
        for i in range(len_label - n + 1):
            label_subs[" ".join(label_tokens[i: i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[" ".join(pred_tokens[i: i + n])] > 0:
                num_matches += 1
                label_subs[" ".join(pred_tokens[i: i + n])] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def sacre(hypotheses, references, max_n=4):
    metric = sacrebleu.metrics.BLEU(tokenize="none", smooth_method="none", max_ngram_order=max_n)
    return metric.corpus_score(hypotheses, sacrebleu_streams(references)).score


@pytest.fixture(scope="module")
def split():
    return load_split_nmt()


def test_notes_example():
    label, pred = "A B C D E F", "A B B C D"
    p = [4 / 5, 3 / 4, 1 / 3, 0.0]
    brevity = math.exp(1 - 6 / 5)
    for k in (1, 2, 3):
        expected = brevity * math.prod(p[n - 1] ** (0.5 ** n) for n in range(1, k + 1))
        assert bleu(pred, label, k) == pytest.approx(expected, rel=1e-12)
    assert bleu(pred, label, k=4) == 0.0  # p4 = 0
    assert bleu(label, label, k=4) == 1.0


def test_bleu_equals_d2l_where_d2l_is_defined():
    rng = random.Random(0)
    tokens = "a b c d e".split()
    for _ in range(500):
        k = rng.randint(1, 4)
        pred = " ".join(rng.choices(tokens, k=rng.randint(k, 9)))
        label = " ".join(rng.choices(tokens, k=rng.randint(1, 9)))
        assert bleu(pred, label, k) == pytest.approx(d2l_bleu(pred, label, k), rel=1e-12, abs=1e-15)


def test_bleu_edge_cases():
    assert bleu("", "le chat .", k=2) == 0.0  # empty prediction: no division by zero
    # a prediction shorter than k: the orders it has no n-grams for are left out
    assert bleu("chat", "chat", k=4) == 1.0
    assert bleu("chat", "le chat .", k=4) == pytest.approx(math.exp(1 - 3 / 1))
    assert bleu("le chat", "le chat dort .", k=3) == pytest.approx(math.exp(1 - 4 / 2))
    # a prediction longer than the label: brevity factor 1, and no label bigram to match
    assert bleu("le chat dort", "chat", k=1) == pytest.approx(1 / 3 ** 0.5)
    assert bleu("le chat dort", "chat", k=2) == 0.0


def test_bleu_bad_input():
    for bad_k in (0, -1):
        with pytest.raises(ValueError, match="k must be at least 1"):
            bleu("a", "a", k=bad_k)
    with pytest.raises(TypeError, match="k must be an int"):
        bleu("a", "a", k=2.0)
    with pytest.raises(TypeError, match="pred_seq must be a str"):
        bleu(["a"], "a")
    with pytest.raises(TypeError, match="label_seq must be a str"):
        bleu("a", None)
    with pytest.raises(ValueError, match="label_seq is empty"):
        bleu("a", "  ")


def test_ngram_counts():
    assert ngram_counts("a b a b".split(), 2) == {("a", "b"): 2, ("b", "a"): 1}
    assert ngram_counts(["a"], 2) == {}


def test_corpus_bleu_by_hand():
    # one hypothesis, two references: clipping by the largest count in one reference,
    # brevity against the closest reference length (3 vs 5 and 2: 2 is closer)
    details = corpus_bleu_details(["the the cat"], [["the cat sat on mats", "the cat"]], max_n=2)
    assert details.matches == (2, 1) and details.totals == (3, 2)  # 'the' clipped to 1
    assert details.ref_len == 2 and details.brevity_penalty == 1.0
    assert details.score == pytest.approx(100 * math.sqrt(2 / 3 * 1 / 2))
    assert corpus_bleu(["the the cat"], [["the cat sat on mats", "the cat"]], max_n=2) == details.score


def random_corpus(rng, vocab_size):
    tokens = [f"w{i}" for i in range(vocab_size)]
    hyps, refs = [], []
    for _ in range(rng.randint(1, 12)):
        hyps.append(" ".join(rng.choices(tokens, k=rng.randint(0, 12))))
        # 1 to 4 references per hypothesis: sacrebleu gets None where one has fewer
        refs.append([" ".join(rng.choices(tokens, k=rng.randint(1, 12))) for _ in range(rng.randint(1, 4))])
    return hyps, refs


def test_corpus_bleu_equals_sacrebleu_on_random_corpora():
    rng = random.Random(0)
    nonzero = 0
    for trial in range(600):
        hyps, refs = random_corpus(rng, vocab_size=3 + trial % 5)
        max_n = 1 + trial % 4
        ours = corpus_bleu(hyps, refs, max_n=max_n)
        assert ours == pytest.approx(sacre(hyps, refs, max_n), abs=1e-6)
        nonzero += ours > 0
    assert nonzero > 300  # the comparison is not only between zeros


def test_variable_references_are_not_padded_with_empty_strings():
    hyps = ["a b c d", "a b"]
    refs = [["a b c d e f g h"], ["a b", "a b x y z"]]
    streams = sacrebleu_streams(refs)
    assert streams == [["a b c d e f g h", "a b"], [None, "a b x y z"]]
    assert corpus_bleu(hyps, refs) == pytest.approx(sacre(hyps, refs), abs=1e-6)
    # padding with "" instead would add an empty reference: a different (shorter) closest
    # length and a different score, which is why a missing reference is None, not ""
    padded = [["a b c d e f g h", ""], ["a b", "a b x y z"]]
    assert corpus_bleu(hyps, padded) == pytest.approx(sacre(hyps, padded), abs=1e-6)
    assert corpus_bleu(hyps, padded) != pytest.approx(corpus_bleu(hyps, refs))


def test_corpus_bleu_equals_sacrebleu_on_french(split):
    rng = random.Random(1)
    hyps, refs = [], []
    for _, translations in split.test:
        words = list(translations[0])
        for _ in range(rng.randint(0, 3)):  # perturb one reference into a hypothesis
            i = rng.randrange(len(words))
            if rng.random() < 0.5:
                del words[i]
            else:
                words[i] = rng.choice(split.train[rng.randrange(len(split.train))][1])
            if not words:
                break
        hyps.append(" ".join(words))
        others = translations[1:] if len(translations) > 1 else translations
        refs.append([" ".join(t) for t in others])
    ours = corpus_bleu(hyps, refs)
    assert 10 < ours < 90
    assert ours == pytest.approx(sacre(hyps, refs), abs=1e-6)
    for start in range(0, 1000, 50):  # and on many small corpora
        assert corpus_bleu(hyps[start:start + 50], refs[start:start + 50]) == pytest.approx(
            sacre(hyps[start:start + 50], refs[start:start + 50]), abs=1e-6)
    perfect = [" ".join(t[0]) for _, t in split.test]
    assert corpus_bleu(perfect, [[" ".join(r) for r in t] for _, t in split.test]) == pytest.approx(100.0)


def test_corpus_bleu_edge_cases():
    assert corpus_bleu([""], [["le chat ."]]) == 0.0
    assert corpus_bleu(["chat"], [["chat"]]) == 0.0  # no bigram at all: unsmoothed BLEU is 0
    assert corpus_bleu(["chat"], [["chat"]], max_n=1) == pytest.approx(100.0)
    assert corpus_bleu(["le chat"], [["le chat"]], max_n=2) == pytest.approx(100.0)
    assert corpus_bleu(["le chat"], [["", "le"]], max_n=1) == pytest.approx(50.0)  # "" has length 0
    for hyps, refs in [([""], [["le chat ."]]), (["chat"], [["chat"]]), (["le chat"], [["", "le"]])]:
        assert corpus_bleu(hyps, refs, max_n=1) == pytest.approx(sacre(hyps, refs, max_n=1), abs=1e-6)


def test_corpus_bleu_bad_input():
    with pytest.raises(ValueError, match="at least one hypothesis"):
        corpus_bleu([], [])
    with pytest.raises(ValueError, match="2 hypotheses but 1 reference lists.*transpose"):
        corpus_bleu(["a", "b"], [["a", "b"]])
    with pytest.raises(ValueError, match=r"references\[0\] is empty"):
        corpus_bleu(["a"], [[]])
    with pytest.raises(TypeError, match=r"references\[0\]\[1\] is None: leave a missing reference out"):
        corpus_bleu(["a"], [["a", None]])
    with pytest.raises(TypeError, match=r"hypotheses\[1\] must be a str"):
        corpus_bleu(["a", ["b"]], [["a"], ["b"]])
    with pytest.raises(TypeError, match=r"references\[0\] must be a list"):
        corpus_bleu(["a"], ["a"])
    with pytest.raises(TypeError, match="hypotheses must be a list"):
        corpus_bleu("a b", [["a b"]])
    with pytest.raises(ValueError, match="max_n must be at least 1"):
        corpus_bleu(["a"], [["a"]], max_n=0)
