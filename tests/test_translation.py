"""The English–French data: preprocessing, tokenization, arrays, minibatches, the grouped split."""
import collections

import pytest
import torch

from rnncourse.text import Vocab
from rnncourse.translation import (
    NMTSplit,
    build_array_nmt,
    expand_references,
    load_data_nmt,
    load_split_nmt,
    nmt_loader,
    nmt_vocabs,
    preprocess_nmt,
    read_data_nmt,
    split_nmt,
    tokenize_nmt,
    truncate_pad,
)


@pytest.fixture(scope="module")
def raw_text():
    return read_data_nmt()


@pytest.fixture(scope="module")
def corpus(raw_text):
    return tokenize_nmt(preprocess_nmt(raw_text))


@pytest.fixture(scope="module")
def split():
    return load_split_nmt()


def d2l_preprocess(text):
    """d2l's character loop, the independent oracle for preprocess_nmt."""
    def no_space(char, prev_char):
        return char in set(",.!?") and prev_char != " "
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    out = [" " + char if i > 0 and no_space(char, text[i - 1]) else char for i, char in enumerate(text)]
    return "".join(out)


def test_raw_file_is_tab_separated_pairs(raw_text):
    lines = raw_text.split("\n")
    assert lines[0] == "Go.\tVa !"
    assert all(line.count("\t") == 1 for line in lines if line)


def test_preprocess_matches_d2l_loop_on_the_corpus(raw_text):
    chunk = raw_text[:400_000] + raw_text[-100_000:]
    assert preprocess_nmt(chunk) == d2l_preprocess(chunk)


def test_preprocess_examples():
    assert preprocess_nmt("Run!\tCours\u202f!") == "run !\tcours !"
    assert preprocess_nmt("Hi.\u00a0Salut.") == "hi . salut ."
    assert preprocess_nmt("Well, ok ?") == "well , ok ?"
    assert preprocess_nmt(".Start") == ".start"  # nothing precedes the first mark
    with pytest.raises(TypeError, match="text must be a str"):
        preprocess_nmt(["Go."])


def test_tokenize_reads_pairs(corpus):
    source, target = corpus
    assert len(source) == len(target) == 167_130  # every line of fra.txt holds one pair
    assert source[0] == ["go", "."] and target[0] == ["va", "!"]
    assert source[2] == ["run", "!"] and target[2] == ["cours", "!"]  # U+202F became a space
    assert all(src and tgt for src, tgt in zip(source, target))


def test_tokenize_num_examples_is_exact(raw_text):
    source, target = tokenize_nmt(preprocess_nmt(raw_text), num_examples=600)
    assert len(source) == len(target) == 600


def test_tokenize_only_first_two_fields_and_blank_lines():
    text = "go .\tva !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n\n  \nhi .\tsalut !\n"
    source, target = tokenize_nmt(text)
    assert source == [["go", "."], ["hi", "."]]
    assert target == [["va", "!"], ["salut", "!"]]


def test_tokenize_bad_input():
    with pytest.raises(ValueError, match="line 2 has no tab"):
        tokenize_nmt("go .\tva !\njust english\n")
    with pytest.raises(ValueError, match="line 1 has an empty source or target"):
        tokenize_nmt("go .\t  \n")
    for bad in (0, -3):
        with pytest.raises(ValueError, match="num_examples must be at least 1"):
            tokenize_nmt("go .\tva !", num_examples=bad)
    with pytest.raises(TypeError, match="num_examples must be an int"):
        tokenize_nmt("go .\tva !", num_examples=2.5)
    with pytest.raises(TypeError, match="text must be a str"):
        tokenize_nmt(b"go .\tva !")


def test_truncate_pad():
    assert truncate_pad([5, 6, 7], 5, 1) == [5, 6, 7, 1, 1]
    assert truncate_pad([5, 6, 7], 2, 1) == [5, 6]
    assert truncate_pad([5, 6], 2, 1) == [5, 6]
    for bad in (0, -1):
        with pytest.raises(ValueError, match="num_steps must be at least 1"):
            truncate_pad([5], bad, 1)
    with pytest.raises(TypeError, match="num_steps must be an int"):
        truncate_pad([5], 2.0, 1)


def test_build_array_appends_eos_pads_and_counts(corpus):
    source, _ = corpus
    vocab = Vocab(source[:1000], min_freq=2, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    lines = [["go", "."], ["i", "am", "a", "very", "tall", "man", "."]]
    array, valid_len = build_array_nmt(lines, vocab, num_steps=5)
    assert array.shape == (2, 5) and array.dtype == torch.long
    pad, eos = vocab["<pad>"], vocab["<eos>"]
    assert array[0].tolist() == [vocab["go"], vocab["."], eos, pad, pad]
    assert array[1].tolist() == vocab[lines[1][:5]]  # truncated: <eos> is cut, as in d2l
    assert valid_len.tolist() == [3, 5]
    empty, empty_len = build_array_nmt([], vocab, num_steps=4)
    assert empty.shape == (0, 4) and empty_len.shape == (0,)


def test_build_array_bad_input():
    no_pad = Vocab([["go", "go"]], reserved_tokens=["<bos>", "<eos>"])
    with pytest.raises(ValueError, match=r"lacks the reserved tokens \['<pad>'\]"):
        build_array_nmt([["go"]], no_pad, 3)
    vocab = Vocab([["go"]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        build_array_nmt([["go"]], vocab, 0)
    with pytest.raises(TypeError, match="list of token lists"):
        build_array_nmt(["go ."], vocab, 3)
    with pytest.raises(TypeError, match="Vocab"):
        build_array_nmt([["go"]], {"<pad>": 1}, 3)


def test_load_data_nmt_is_d2l_compatible():
    data_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size=2, num_steps=8)
    assert data_iter.num_pairs == 600
    for vocab in (src_vocab, tgt_vocab):
        assert vocab.to_tokens([0, 1, 2, 3]) == ["<unk>", "<pad>", "<bos>", "<eos>"]
    X, X_valid_len, Y, Y_valid_len = next(iter(data_iter))
    assert X.shape == Y.shape == (2, 8) and X_valid_len.shape == Y_valid_len.shape == (2,)
    assert X_valid_len.tolist() == (X != src_vocab["<pad>"]).sum(1).tolist()
    # min_freq=2: every kept word occurs at least twice in the 600 pairs
    source, _ = tokenize_nmt(preprocess_nmt(read_data_nmt()), num_examples=600)
    counts = collections.Counter(tok for line in source for tok in line)
    assert all(counts[tok] >= 2 for tok in src_vocab.idx_to_token[4:])
    assert len(src_vocab) - 4 == sum(1 for c in counts.values() if c >= 2)


def test_split_groups_by_english_and_keeps_all_references(corpus, split):
    source, target = corpus
    kept = [(tuple(s), t) for s, t in zip(source, target) if len(s) <= 10 and len(t) <= 10]
    translations = collections.defaultdict(list)
    for s, t in kept:
        translations[s].append(t)
    train_src = {tuple(s) for s, _ in split.train}
    valid_src = [tuple(s) for s, _ in split.valid]
    test_src = [tuple(s) for s, _ in split.test]
    assert len(test_src) == len(set(test_src)) == 1000
    assert len(valid_src) == len(set(valid_src)) == round(0.05 * (len(translations) - 1000))
    assert not train_src & set(test_src) and not train_src & set(valid_src)
    assert not set(valid_src) & set(test_src)
    assert train_src | set(valid_src) | set(test_src) == set(translations)  # nothing is lost
    for src, refs in split.test + split.valid:
        expected = []
        for t in translations[tuple(src)]:
            if t not in expected:
                expected.append(t)
        assert refs == expected
    assert len(split.train) == sum(len(translations[s]) for s in train_src)
    assert all(len(s) <= 10 and len(t) <= 10 for s, t in split.train)
    # Tatoeba repeats English sentences: some test sources have several references
    assert any(len(refs) > 1 for _, refs in split.test)
    assert split.sizes()["test_references"] == sum(len(r) for _, r in split.test)


def test_split_is_seeded(corpus):
    source, target = corpus
    a = split_nmt(source[:20000], target[:20000], num_test=200, seed=1)
    b = split_nmt(source[:20000], target[:20000], num_test=200, seed=1)
    c = split_nmt(source[:20000], target[:20000], num_test=200, seed=2)
    assert a == b
    assert a.test != c.test
    everything = split_nmt(source[:20000], target[:20000], num_test=10, valid_fraction=0, max_tokens=None)
    assert everything.valid == []
    covered = {tuple(s) for s, _ in everything.train} | {tuple(s) for s, _ in everything.test}
    assert covered == {tuple(s) for s in source[:20000]}  # max_tokens=None keeps every pair


def test_split_bad_input(corpus):
    source, target = corpus
    with pytest.raises(ValueError, match="differ in length"):
        split_nmt(source[:10], target[:9])
    with pytest.raises(ValueError, match="leaves nothing to train on"):
        split_nmt(source[:100], target[:100], num_test=100)
    with pytest.raises(ValueError, match="num_test must be"):
        split_nmt(source[:100], target[:100], num_test=-1)
    with pytest.raises(ValueError, match="valid_fraction"):
        split_nmt(source[:100], target[:100], num_test=5, valid_fraction=1.0)
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        split_nmt(source[:100], target[:100], num_test=5, max_tokens=0)
    with pytest.raises(TypeError, match="token lists"):
        split_nmt(["go ."], ["va !"], num_test=0)


def test_vocabs_and_loader_on_the_split(split):
    src_vocab, tgt_vocab = nmt_vocabs(split.train)
    assert src_vocab.to_tokens([1, 2, 3]) == ["<pad>", "<bos>", "<eos>"]
    counts = collections.Counter(tok for _, tgt in split.train for tok in tgt)
    assert len(tgt_vocab) - 4 == sum(1 for c in counts.values() if c >= 2)
    loader = nmt_loader(split.train[:1000], src_vocab, tgt_vocab, num_steps=12, batch_size=64, seed=3)
    assert len(loader) == 16  # 15 full minibatches and one of 40
    epochs = [[batch for batch in loader] for _ in range(2)]  # re-iterable: one pass per epoch
    for batches in epochs:
        X = torch.cat([b[0] for b in batches])
        assert X.shape == (1000, 12)
        rows = sorted(map(tuple, X.tolist()))
        expected = sorted(map(tuple, build_array_nmt([s for s, _ in split.train[:1000]], src_vocab, 12)[0].tolist()))
        assert rows == expected  # every pair exactly once per pass
        for X, X_len, Y, Y_len in batches:
            assert X_len.tolist() == (X != 1).sum(1).tolist() and Y_len.tolist() == (Y != 1).sum(1).tolist()
    assert not torch.equal(epochs[0][0][0], epochs[1][0][0])  # a new order each pass
    again = nmt_loader(split.train[:1000], src_vocab, tgt_vocab, num_steps=12, batch_size=64, seed=3)
    assert torch.equal(next(iter(again))[0], epochs[0][0][0])  # the same seed, the same order
    fixed = nmt_loader(split.train[:10], src_vocab, tgt_vocab, num_steps=12, batch_size=4, shuffle=False)
    assert torch.equal(next(iter(fixed))[2], build_array_nmt([t for _, t in split.train[:4]], tgt_vocab, 12)[0])


def test_expand_references_and_loader_bad_input(split):
    src_vocab, tgt_vocab = nmt_vocabs(split.train)
    pairs = expand_references(split.test)
    assert len(pairs) == split.sizes()["test_references"]
    with pytest.raises(TypeError, match="expand_references"):
        nmt_loader(split.test, src_vocab, tgt_vocab, num_steps=12, batch_size=8)
    with pytest.raises(ValueError, match="non-empty"):
        nmt_loader([], src_vocab, tgt_vocab, num_steps=12, batch_size=8)
    with pytest.raises(TypeError, match="NMTSplit"):
        nmt_vocabs(split)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        nmt_loader(pairs, src_vocab, tgt_vocab, num_steps=12, batch_size=0)
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        nmt_loader(pairs, src_vocab, tgt_vocab, num_steps=0, batch_size=8)
    with pytest.raises(ValueError, match="lacks the reserved tokens"):
        nmt_loader(pairs, Vocab([["a"]]), tgt_vocab, num_steps=12, batch_size=8)
    with pytest.raises(ValueError, match="min_freq"):
        nmt_vocabs(split.train, min_freq=-1)
    assert isinstance(split, NMTSplit)
