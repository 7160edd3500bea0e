"""N-gram models on the real Time Machine: the smoothing formulas, their limits, the split."""
import collections
import math
import re

import numpy as np
import pytest
import torch

from rnncourse.ngram import (LaplaceLM, laplace_table, ngram_counts, ngram_freqs, train_valid_test_split,
                             zipf_exponent)
from rnncourse.text import load_corpus_time_machine, read_time_machine, tokenize


@pytest.fixture(scope="module")
def chars():
    """The Time Machine as one string of characters (the char-level corpus, as text)."""
    return "".join(read_time_machine())


@pytest.fixture(scope="module")
def words():
    return [w for line in tokenize(read_time_machine(), "word") for w in line]


def sliding_count(seq, gram):
    """Overlapping occurrences of ``gram`` in ``seq``, by brute force (independent of Counter)."""
    if isinstance(seq, str):  # a regular-expression look-ahead finds overlapping matches too
        return len(re.findall(f"(?={re.escape(''.join(gram))})", seq))
    k = len(gram)
    return sum(1 for i in range(len(seq) - k + 1) if tuple(seq[i:i + k]) == tuple(gram))


# ---- distributions sum to 1


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_char_distributions_sum_to_one(chars, n):
    model = LaplaceLM(chars, n, eps=0.7)
    contexts = [(), tuple(chars[-(n - 1):]) if n > 1 else (),  # the corpus's last tokens
                tuple("the"[: n - 1]), tuple("qqqq"[: n - 1])]  # a frequent and an unseen context
    for context in contexts:
        assert sum(model.distribution(context).values()) == pytest.approx(1.0, abs=1e-12)


def test_word_distributions_sum_to_one_after_the_last_tokens(words):
    # "man" ends the book: as a context it is followed by a token once less than it occurs.
    model = LaplaceLM(words, 3, eps=(0.5, 0.5, 0.5))
    assert words[-1] == "man"
    assert model.context_count(("man",)) == words.count("man") - 1
    for context in [(), (words[-1],), tuple(words[-2:]), ("zzz", "qqq"), ("the",)]:
        assert sum(model.distribution(context).values()) == pytest.approx(1.0, abs=1e-12)


def test_context_count_is_the_number_of_followers(chars):
    model = LaplaceLM(chars, 3, eps=1.0)
    for context in [tuple(chars[-2:]), tuple(chars[-1:]), ("t", "h"), ("q", "q")]:
        followers = sum(sliding_count(chars, context + (c,)) for c in set(chars))
        assert model.context_count(context) == followers
    assert model.context_count(()) == len(chars)


# ---- the formulas and their limits


def test_formulas_of_the_notes(chars):
    m, n = len(set(chars)), len(chars)
    e1, e2, e3 = 0.3, 2.0, 5.0
    model = LaplaceLM(chars, 3, eps=(e1, e2, e3))
    p_e = (chars.count("e") + e1 / m) / (n + e1)
    assert model.prob("e") == pytest.approx(p_e, rel=1e-12)
    n_h_as_context = sliding_count(chars, "h") - (chars[-1] == "h")
    p_e_h = (sliding_count(chars, "he") + e2 * p_e) / (n_h_as_context + e2)
    assert model.prob("e", ("h",)) == pytest.approx(p_e_h, rel=1e-12)
    n_th_as_context = sliding_count(chars[:-1], "th")
    p_e_th = (sliding_count(chars, "the") + e3 * p_e) / (n_th_as_context + e3)  # back-off to P̂(e)
    assert model.prob("e", ("t", "h")) == pytest.approx(p_e_th, rel=1e-12)
    assert model.prob("e", ("x", "t", "h")) == model.prob("e", ("t", "h"))  # only the last n-1 count


def test_eps_to_zero_is_the_counting_estimate(chars):
    counting = sliding_count(chars, "the") / sliding_count(chars[:-1], "th")
    for eps in (0.0, 1e-9):
        assert LaplaceLM(chars, 3, eps).prob("e", "th") == pytest.approx(counting, rel=1e-6)
    assert LaplaceLM(chars, 1, 0.0).prob("e") == chars.count("e") / len(chars)


def test_eps_to_infinity_is_uniform(chars):
    m = len(set(chars))
    for eps in (1e12, math.inf):
        model = LaplaceLM(chars, 3, eps)
        for token, context in [("e", ()), ("e", "th"), ("q", "qq"), (" ", chars[-2:])]:
            assert model.prob(token, context) == pytest.approx(1 / m, rel=1e-6)


def test_unseen_context_backs_off_to_unigram_without_dividing_by_zero(chars):
    for eps in (0.0, 2.0, (1.0, 0.0, 3.0)):
        model = LaplaceLM(chars, 3, eps)
        assert model.context_count(("q", "z")) == 0
        assert model.prob("e", ("q", "z")) == model.prob("e")


def test_float_eps_equals_repeated_sequence(chars):
    a, b = LaplaceLM(chars, 3, 1.5), LaplaceLM(chars, 3, [1.5, 1.5, 1.5])
    assert a.eps == b.eps == (1.5, 1.5, 1.5)
    assert a.prob("e", "th") == b.prob("e", "th")
    c = LaplaceLM(chars, 3, (1.5, 1.5, 100.0))
    assert c.prob("e", "th") != a.prob("e", "th")
    d = a.with_eps((1.5, 1.5, 100.0))  # the same counts, other constants
    assert d.prob("e", "th") == c.prob("e", "th") and a.eps == (1.5, 1.5, 1.5)
    with pytest.raises(ValueError, match="needs 3"):
        a.with_eps((1.0, 2.0))


# ---- perplexity


def test_perplexity_of_the_uniform_model_is_m(chars):
    m = len(set(chars))
    model = LaplaceLM(chars, 4, math.inf)
    assert model.perplexity(chars[:5000]) == pytest.approx(m, rel=1e-12)


def test_perplexity_matches_prob_with_shorter_contexts_at_the_start(chars):
    model = LaplaceLM(chars, 3, (0.5, 1.0, 2.0))
    text = "the time traveller qz" + chars[-12:] + "e"  # the corpus's last tokens as a context, too
    logp = [math.log(model.prob(tok, text[:t])) for t, tok in enumerate(text)]
    assert logp[0] == math.log(model.prob("t"))  # the first token: unigram
    assert model.perplexity(text) == pytest.approx(math.exp(-sum(logp) / len(text)), rel=1e-12)


def test_held_out_perplexity_is_finite_and_better_than_uniform():
    corpus, vocab = load_corpus_time_machine(-1, "char")
    train, valid, test = train_valid_test_split(corpus)
    model = LaplaceLM(train, 3, 1.0)
    ppl = model.perplexity(test)
    assert math.isfinite(ppl) and 1 < ppl < model.m
    # over the whole Vocab (one more token: <unk>, never seen) the perplexity barely moves
    wide = LaplaceLM(train, 3, 1.0, vocab=range(len(vocab)))
    assert wide.m == len(vocab) == model.m + 1
    assert wide.prob(vocab.unk) > 0
    assert wide.perplexity(test) == pytest.approx(ppl, rel=1e-3)


def test_tokens_outside_the_vocabulary(words):
    train, _, test = train_valid_test_split(words)
    unseen = next(w for w in test if w not in set(train))
    model = LaplaceLM(train, 2, 1.0)
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        model.perplexity(test)
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        model.prob(unseen)
    wide = LaplaceLM(train, 2, 1.0, vocab=set(words))
    assert wide.prob(unseen) > 0 and math.isfinite(wide.perplexity(test))
    assert LaplaceLM(train, 2, 0.0, vocab=set(words)).perplexity(test) == math.inf


def test_bad_input_raises(chars):
    with pytest.raises(ValueError, match="at least 1"):
        LaplaceLM(chars, 0)
    with pytest.raises(TypeError, match="must be an int"):
        LaplaceLM(chars, 2.0)
    with pytest.raises(ValueError, match="ε1 must be at least 0"):
        LaplaceLM(chars, 2, -0.1)
    with pytest.raises(ValueError, match="ε2 must be a finite number"):  # NaN
        LaplaceLM(chars, 2, (1.0, float("nan")))
    with pytest.raises(ValueError, match="needs 3 smoothing constants"):
        LaplaceLM(chars, 3, (1.0, 1.0))
    with pytest.raises(ValueError, match="empty"):
        LaplaceLM([], 2)
    with pytest.raises(TypeError, match="flat sequence"):
        LaplaceLM(tokenize(["a b", "c"], "word"), 2)
    with pytest.raises(ValueError, match="every training token"):
        LaplaceLM("abc", 2, vocab="ab")
    model = LaplaceLM(chars, 2)
    with pytest.raises(ValueError, match="empty"):
        model.perplexity([])
    with pytest.raises(ValueError, match="at most 1"):
        model.context_count("th")


# ---- the split and the table


def test_split_sizes_and_order():
    corpus, _ = load_corpus_time_machine(-1, "char")
    train, valid, test = train_valid_test_split(corpus)
    N = len(corpus)
    assert len(test) == N // 10
    assert len(valid) == (N - N // 10) // 10
    assert train + valid + test == corpus
    assert abs(len(train) / N - 0.81) < 1e-3 and abs(len(valid) / N - 0.09) < 1e-3


def test_split_edge_cases():
    data = list(range(100))
    assert train_valid_test_split(data, 0.2, 0.5) == (data[:40], data[40:50], data[50:])
    assert train_valid_test_split(data, 0.0, 0.0) == (data, [], [])
    for fracs in [(1.0, 0.1), (0.1, -0.1), (0.1, 1.0)]:
        with pytest.raises(ValueError, match=r"_frac must be (in \[0, 1\)|at least 0)"):
            train_valid_test_split(data, *fracs)
    assert train_valid_test_split([7], 0.5, 0.5) == ([7], [], [])  # training data always remains
    with pytest.raises(ValueError, match="empty corpus"):
        train_valid_test_split([], 0.1, 0.1)


def test_laplace_table_picks_the_best_eps_on_valid(chars):
    train, valid, test = train_valid_test_split(chars[:40000])
    grid = [0.1, 1.0, 10.0]
    rows = laplace_table(train, valid, test, orders=[1, 3], eps_grid=grid)
    assert [r["order"] for r in rows] == [1, 3]
    for row in rows:
        n = row["order"]
        # the vectorised tuning agrees with fitting one model per ε
        valid_ppls = [LaplaceLM(train, n, eps, vocab=set(train + valid)).perplexity(valid) for eps in grid]
        assert row["eps"] == grid[int(np.argmin(valid_ppls))]
        assert row["valid_ppls"] == pytest.approx(valid_ppls, rel=1e-12)
        assert row["valid_ppl"] == min(row["valid_ppls"])
        assert row["test_ppl"] == pytest.approx(
            LaplaceLM(train + valid, n, row["eps"], vocab=set(train + valid)).perplexity(test), rel=1e-12)
    assert rows[1]["test_ppl"] < rows[0]["test_ppl"]


# ---- counts for Zipf plots


def test_ngram_counts_and_freqs(words):
    bigrams = ngram_counts(words, 2)
    assert sum(bigrams.values()) == len(words) - 1
    assert bigrams[("of", "the")] == sliding_count(words, ("of", "the"))
    freqs = ngram_freqs(words, 2)
    assert freqs == sorted(bigrams.values(), reverse=True)


def test_zipf_exponent_recovers_a_power_law():
    ranks = np.arange(1, 1001)
    assert zipf_exponent(1e6 * ranks ** -1.3) == pytest.approx(1.3, rel=1e-9)
    assert zipf_exponent(1e6 * ranks ** -0.8, min_rank=10, max_rank=500) == pytest.approx(0.8, rel=1e-9)
    with pytest.raises(ValueError, match="sorted"):
        zipf_exponent([1, 2, 3])
    with pytest.raises(ValueError, match="min_rank"):
        zipf_exponent([3, 2, 1], min_rank=0)


# ---- token sequences given as tensors and arrays (ids are counted by value)


@pytest.fixture(scope="module")
def char_ids():
    return load_corpus_time_machine(-1, "char")[0]


@pytest.mark.parametrize("as_array", [torch.tensor, np.array], ids=["tensor", "numpy"])
def test_tensors_and_arrays_count_like_lists(as_array, char_ids):
    """A 0-d tensor is hashed by identity: counted one element at a time, every id of a
    tensor would be a new token. The list of the same ids is the oracle."""
    assert LaplaceLM(as_array([1, 2, 1, 2, 3]), 2).m == 3
    assert ngram_counts(as_array([1, 2, 1, 2]), 1) == collections.Counter({(1,): 2, (2,): 2})
    train, valid, _ = train_valid_test_split(char_ids)
    train_t, valid_t, _ = train_valid_test_split(as_array(char_ids))
    assert train_t == train and valid_t == valid and all(type(i) is int for i in valid_t[:100])
    from_list = LaplaceLM(train, 3, 0.1)
    from_array = LaplaceLM(as_array(train), 3, 0.1)
    assert from_array.m == from_list.m and from_array.counts == from_list.counts
    # the perplexity of a tensor is the perplexity of its list (no "outside the vocabulary" error)
    assert from_array.perplexity(as_array(valid)) == from_list.perplexity(valid)
    assert from_list.perplexity(as_array(valid)) == from_list.perplexity(valid)
    np.testing.assert_array_equal(from_list.log_probs(as_array(valid[:50])), from_list.log_probs(valid[:50]))
    a, b = valid[:2]
    assert from_list.prob(as_array(b)[()], as_array([a])) == from_list.prob(b, [a])
    assert from_list.count(as_array([a, b])) == from_list.count((a, b))
    rows_t = laplace_table(as_array(train), as_array(valid), as_array(valid), orders=[2])
    rows = laplace_table(train, valid, valid, orders=[2])
    assert rows_t == rows


def test_tensors_of_the_wrong_shape_or_dtype_are_refused():
    with pytest.raises(ValueError, match="1-d"):
        LaplaceLM(torch.tensor([[1, 2], [3, 4]]), 2)
    with pytest.raises(ValueError, match="1-d"):
        ngram_counts(np.zeros((2, 3), dtype=int), 1)
    with pytest.raises(ValueError, match="one token, not a sequence"):
        LaplaceLM(torch.tensor(3), 1)
    with pytest.raises(TypeError, match="integers"):
        LaplaceLM(torch.tensor([1.0, 2.0]), 2)
    with pytest.raises(TypeError, match="integers"):
        LaplaceLM(np.array([1.0, 2.0]), 2)
    model = LaplaceLM([1, 2, 1, 2, 3], 2)
    with pytest.raises(ValueError, match="1-d"):
        model.perplexity(torch.tensor([[1, 2, 3]]))
    with pytest.raises(TypeError, match="integers"):
        train_valid_test_split(torch.rand(10))
    with pytest.raises(TypeError, match="no order"):
        LaplaceLM({1, 2, 3}, 1)


# ---- interpolation (Jelinek–Mercer) and interpolated Kneser–Ney

from nltk.lm import KneserNeyInterpolated  # noqa: E402  (an implementation we did not write)
from nltk.util import everygrams  # noqa: E402

from rnncourse.ngram import (InterpolatedLM, KneserNeyLM, fit_lambdas,  # noqa: E402
                             interpolated_table, kneser_ney_table)


def _contexts(model, text, n, extra=("qqqqq", "zzzzz")):
    """Every (n − 1)-gram context of ``text``, its last n − 1 tokens, shorter ones and
    contexts never seen."""
    seen = {tuple(text[i:i + n - 1]) for i in range(len(text) - n + 2)} if n > 1 else set()
    out = [(), tuple(text[-(n - 1):]) if n > 1 else ()] + sorted(seen)
    out += [tuple(e[:n - 1]) for e in extra] + [tuple(text[:k]) for k in range(1, n)]
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("kind", ["interpolated", "kneser_ney"])
def test_new_models_distributions_sum_to_one(chars, n, kind):
    text = chars[:3000]
    support = sorted(set(chars))  # wider than the slice's characters
    if kind == "interpolated":
        lambdas = np.linspace(1, 2, n + 1) / np.linspace(1, 2, n + 1).sum()
        model = InterpolatedLM(text, n, lambdas, vocab=support)
    else:
        model = KneserNeyLM(text, n, 0.7, vocab=support)
    for context in _contexts(model, text, n)[:150]:
        total = sum(model.distribution(context).values())
        assert total == pytest.approx(1.0, abs=1e-12), context
        assert min(model.distribution(context).values()) > 0 or kind == "interpolated"


def test_interpolated_lm_is_the_mixture_of_counting_estimates(chars):
    text = chars[:20000]
    lambdas = (0.1, 0.2, 0.3, 0.4)
    model = InterpolatedLM(text, 3, lambdas)
    m = len(set(text))
    for context, token in [(("t", "h"), "e"), (("q",), "u"), (("e", " "), "t")]:
        counting = [1 / m, sliding_count(text, (token,)) / len(text)]
        for k in (1, 2):
            h = context[-k:]
            followers = sum(sliding_count(text, h + (c,)) for c in set(text))
            counting.append(sliding_count(text, h + (token,)) / followers)
        counting += [counting[-1]] * (4 - len(counting))  # (q,) has one order less
        expected = sum(lam * p for lam, p in zip(lambdas, counting))
        assert model.prob(token, context) == pytest.approx(expected, rel=1e-12)
    # an unseen context hands its weight to the longest shorter context that was seen
    assert sliding_count(text, ("q", "q")) == 0 and sliding_count(text, ("z", "z")) > 0
    followers = sum(sliding_count(text, ("z", c)) for c in set(text))
    p_bigram = sliding_count(text, ("z", "e")) / followers
    assert model.prob("e", ("q", "z")) == pytest.approx(
        0.1 / m + 0.2 * sliding_count(text, ("e",)) / len(text) + 0.7 * p_bigram,
        rel=1e-12)


def test_fit_lambdas_maximises_held_out_likelihood(chars):
    train, valid, _ = train_valid_test_split(chars)
    model = InterpolatedLM(train, 4, (1, 0, 0, 0, 0), vocab=sorted(set(chars)))
    lambdas = fit_lambdas(model, valid)
    assert sum(lambdas) == pytest.approx(1.0, abs=1e-12) and min(lambdas) >= 0
    best = model.with_lambdas(lambdas).perplexity(valid)
    rng = np.random.default_rng(0)
    for _ in range(10):  # no random mixture nor any single order does better
        other = rng.dirichlet(np.ones(5))
        assert best < model.with_lambdas(other).perplexity(valid)
    for k in range(5):
        if k > 0:  # every order k alone, topped up with 1 % of uniform
            single = np.eye(5)[k] * 0.99 + np.eye(5)[0] * 0.01
            assert best < model.with_lambdas(single).perplexity(valid)


def test_kneser_ney_formula_by_hand(chars):
    """The formula of the class docstring, with counts found by brute force."""
    text = chars[:20000]
    D = 0.6
    model = KneserNeyLM(text, 2, D)
    V = sorted(set(text))
    m = len(V)
    # continuation counts N₁₊(• x) and N₁₊(• •)
    cont = {x: sum(sliding_count(text, (a, x)) > 0 for a in V) for x in V}
    total = sum(cont.values())
    p1 = {x: (max(cont[x] - D, 0) + D * sum(c > 0 for c in cont.values()) / m) / total
          for x in V}
    for h, x in [("q", "u"), ("t", "h"), ("h", "e"), ("x", "z")]:
        follow = {y: sliding_count(text, (h, y)) for y in V}
        den = sum(follow.values())
        types = sum(c > 0 for c in follow.values())
        expected = (max(follow[x] - D, 0) + D * types * p1[x]) / den
        assert model.prob(x, (h,)) == pytest.approx(expected, rel=1e-12)
        assert model.continuation_count((x,)) == cont[x]


def _nltk_kn(text, n, discount):
    lm = KneserNeyInterpolated(n, discount=discount)
    lm.fit([list(everygrams(list(text), max_len=n))], vocabulary_text=list(text))
    return lm


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("first", [" the ", "x"])
def test_kneser_ney_agrees_with_nltk(chars, n, first):
    """NLTK's KneserNeyInterpolated as the oracle, on a real passage (not padded).

    They agree to 1e-9 wherever NLTK's result is defined and sums to 1. NLTK has two
    defects, both caused by the corpus start, whose tokens have no left neighbour: (1) a
    lower-order context seen only at the very start has no continuation counts, and NLTK
    divides by their total, 0 (ZeroDivisionError, nltk/nltk#2332); (2) NLTK's weight for
    the lower order counts the distinct followers of a lower-order context by raw
    counts, including the one that follows it only at the start, which has no
    continuation count: its distribution then sums to more than 1. Our sums are 1."""
    # a passage that starts with "the ...", and one that starts with its only "x"
    start = chars.index(first, 5000) + (first == " the ")
    text = chars[start:start + 700]
    D = 0.75
    ours, theirs = KneserNeyLM(text, n, D), _nltk_kn(text, n, D)
    V = sorted(set(text))
    outcome = collections.Counter()
    for h in _contexts(ours, text, n):
        dist = ours.distribution(h)
        assert sum(dist.values()) == pytest.approx(1.0, abs=1e-12)
        starts_corpus = any(h[len(h) - j:] == tuple(text[:j]) for j in range(1, len(h) + 1))
        try:
            nltk_dist = {x: theirs.score(x, list(h)) for x in V}
        except ZeroDivisionError:  # defect (1)
            assert starts_corpus, h
            outcome["undefined"] += 1
            continue
        if abs(sum(nltk_dist.values()) - 1) > 1e-9:  # defect (2)
            assert starts_corpus and sum(nltk_dist.values()) > 1, h
            outcome["unnormalised"] += 1
            continue
        for x in V:
            assert dist[x] == pytest.approx(nltk_dist[x], abs=1e-9), (h, x)
        outcome["agree"] += 1
    assert outcome["agree"] >= 0.9 * sum(outcome.values()), outcome
    if first == "x" and n > 2:  # a context ("x",) seen only at the start
        assert outcome["undefined"] + outcome["unnormalised"] > 0, outcome


def test_kneser_ney_gives_every_token_probability_where_nltk_gives_zero(chars):
    """A token seen only at the corpus start has no continuation count: NLTK's unigram
    level gives it 0; ours interpolates the unigram level with the uniform 1/m (Chen &
    Goodman) and gives it a share of the discounted mass."""
    start = chars.index("x")  # 'x' is rare: a passage from one to just before the next
    text = chars[start:chars.index("x", start + 1)]
    assert text.count("x") == 1 and len(text) > 100
    ours, theirs = KneserNeyLM(text, 2, 0.75), _nltk_kn(text, 2, 0.75)
    assert theirs.score("x", []) == 0 and ours.prob("x") > 0
    assert sum(ours.distribution(()).values()) == pytest.approx(1.0, abs=1e-12)
    # every other token: NLTK's N₁₊(• c) / N₁₊(• •), ours that less D, plus the share
    # D · (types / m) / N₁₊(• •) that NLTK does not give out
    types, m = len(set(text)) - 1, len(set(text))
    total = sum(ours.continuation_count((c,)) for c in set(text))
    for c in set(text) - {"x"}:
        assert ours.prob(c) == pytest.approx(
            theirs.score(c, []) + 0.75 * (types / m - 1) / total, abs=1e-12)


def test_kneser_ney_beats_laplace_and_interpolation_held_out(chars):
    train, valid, test = train_valid_test_split(chars)
    orders = (4, 5)
    laplace = laplace_table(train, valid, test, orders=orders)
    interp = interpolated_table(train, valid, test, orders=orders)
    kn = kneser_ney_table(train, valid, test, orders=orders)
    best = {name: min(rows, key=lambda r: r["valid_ppl"])
            for name, rows in [("laplace", laplace), ("interp", interp), ("kn", kn)]}
    assert best["kn"]["test_ppl"] < best["interp"]["test_ppl"] < best["laplace"]["test_ppl"]
    for row in kn:  # the chosen discount is the grid's best on validation
        assert row["valid_ppl"] == min(row["valid_ppls"])
        refit = KneserNeyLM(train + valid, row["order"], row["discount"])
        assert refit.perplexity(test) == pytest.approx(row["test_ppl"], rel=1e-12)


def test_new_models_bad_input_raises(chars):
    for bad in (0, -1):
        with pytest.raises(ValueError, match="at least 1"):
            KneserNeyLM(chars[:100], bad)
        with pytest.raises(ValueError, match="at least 1"):
            InterpolatedLM(chars[:100], bad, (1.0,))
    for bad in (0, 1, 1.5, -0.2):
        with pytest.raises(ValueError, match="discount"):
            KneserNeyLM(chars[:100], 2, bad)
    with pytest.raises(ValueError, match="empty"):
        KneserNeyLM("", 2)
    with pytest.raises(ValueError, match="empty"):
        InterpolatedLM([], 2, (0.5, 0.5))
    with pytest.raises(ValueError, match="sum to 1"):
        InterpolatedLM(chars[:100], 2, (0.5, 0.6))
    with pytest.raises(ValueError, match="sum to 1"):
        InterpolatedLM(chars[:100], 2, (1.5, -0.5, 0.0))
    with pytest.raises(ValueError, match="lambdas"):
        InterpolatedLM(chars[:100], 2, (0.25, 0.25, 0.25, 0.25))
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        KneserNeyLM(chars[:100], 2).perplexity("§")
    with pytest.raises(TypeError, match="discount must be a number"):
        KneserNeyLM(chars[:100], 2, "0.5")
    with pytest.raises(TypeError, match="n must be an integer"):
        KneserNeyLM(chars[:100], True)  # a bool is no order


def test_tables_check_their_arguments_first(chars):
    train, valid, test = chars[:300], chars[300:400], chars[400:500]
    with pytest.raises(ValueError, match="eps_grid is empty"):
        laplace_table(train, valid, test, eps_grid=[])
    with pytest.raises(ValueError, match="ε2 must be at least 0"):
        laplace_table(train, valid, test, eps_grid=[1.0, -1.0])
    with pytest.raises(ValueError, match="n must be at least 1"):
        laplace_table(train, valid, test, orders=[1, 0])
    with pytest.raises(ValueError, match="discounts is empty"):
        kneser_ney_table(train, valid, test, discounts=[])
    with pytest.raises(ValueError, match="n must be at least 1"):
        interpolated_table(train, valid, test, orders=[0])
    with pytest.raises(ValueError, match="non-empty validation and test"):
        laplace_table(train, [], test)
    with pytest.raises(TypeError, match="min_rank must be an integer"):
        zipf_exponent([3, 2, 1], min_rank=1.0)
