"""Reading, tokenizing and indexing the corpora."""
import collections
import re

import numpy as np
import pytest
import torch

from rnncourse import data
from rnncourse.text import (Vocab, as_token_list, count_corpus, load_corpus_jay_lyrics, load_corpus_time_machine,
                            read_jay_lyrics, read_time_machine, tokenize)


@pytest.fixture(scope="module")
def lines():
    return read_time_machine()


def test_read_time_machine_keeps_every_line_and_only_letters(lines):
    raw = data.fetch("time_machine").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(raw)
    assert lines[0] == "the time machine by h g wells"
    assert all(re.fullmatch(r"[a-z ]*", line) for line in lines)
    assert all(line == line.strip() and "  " not in line for line in lines)
    assert "" in lines  # empty lines are kept, so line numbers match the file


def test_tokenize_word_and_char(lines):
    words = tokenize(lines, "word")
    chars = tokenize(lines, "char")
    assert words[0] == ["the", "time", "machine", "by", "h", "g", "wells"]
    assert chars[0][:4] == ["t", "h", "e", " "]
    assert len(words) == len(chars) == len(lines)
    assert all(len(c) == len(line) for c, line in zip(chars, lines))


def test_tokenize_rejects_unknown_token_type(lines):
    with pytest.raises(ValueError, match="unknown token type 'byte'"):
        tokenize(lines, "byte")


def test_vocab_order_and_lookup(lines):
    tokens = tokenize(lines, "word")
    vocab = Vocab(tokens, reserved_tokens=["<pad>"])
    assert vocab.idx_to_token[:2] == ["<unk>", "<pad>"]
    assert vocab.unk == 0 and vocab["definitely-not-a-word"] == 0
    freqs = collections.Counter(t for line in tokens for t in line)
    # tokens after the reserved ones come by descending frequency
    listed = [freqs[t] for t in vocab.idx_to_token[2:]]
    assert listed == sorted(listed, reverse=True)
    assert vocab.idx_to_token[2] == "the" and vocab.token_freqs[0] == ("the", freqs["the"])
    assert len(vocab) == len(freqs) + 2
    indices = vocab[tokens[0]]
    assert vocab.to_tokens(indices) == tokens[0]
    assert vocab.to_tokens(indices[0]) == "the"
    assert all(vocab.token_to_idx[t] == i for i, t in enumerate(vocab.idx_to_token))


def test_vocab_ties_keep_first_seen_order():
    vocab = Vocab(["b", "a", "c", "a", "b"])  # a and b tie at 2; b was seen first
    assert vocab.idx_to_token == ["<unk>", "b", "a", "c"]


def test_vocab_min_freq_and_nested_vs_flat(lines):
    nested = tokenize(lines, "word")
    flat = [t for line in nested for t in line]
    assert Vocab(nested).idx_to_token == Vocab(flat).idx_to_token
    rare_dropped = Vocab(nested, min_freq=5)
    counts = count_corpus(nested)
    assert all(counts[t] >= 5 for t in rare_dropped.idx_to_token[1:])
    assert len(rare_dropped) == 1 + sum(1 for c in counts.values() if c >= 5)


def test_empty_corpus_gives_only_unk():
    for empty in (None, [], [[]], [[], []]):
        vocab = Vocab(empty)
        assert len(vocab) == 1 and vocab.idx_to_token == ["<unk>"]
        assert vocab["anything"] == 0


def test_vocab_rejects_bad_reserved_tokens():
    with pytest.raises(ValueError, match="<unk>"):
        Vocab(["a"], reserved_tokens=["<unk>"])
    with pytest.raises(ValueError, match="duplicates"):
        Vocab(["a"], reserved_tokens=["<pad>", "<pad>"])


def test_load_corpus_time_machine_char_and_word(lines):
    corpus, vocab = load_corpus_time_machine()
    assert len(vocab) == 28  # <unk>, space and 26 letters
    text = " ".join(line for line in lines if line)
    assert "".join(vocab.to_tokens(corpus)) == text  # lines joined by one space: no glued words
    assert "".join(vocab.to_tokens(corpus[:29])) == "the time machine by h g wells"
    assert "  " not in text and text.endswith("the heart of man")
    short, vocab2 = load_corpus_time_machine(max_tokens=1000)
    assert short == corpus[:1000] and vocab2.idx_to_token == vocab.idx_to_token
    words, wvocab = load_corpus_time_machine(token="word")
    assert len(words) == sum(len(line.split()) for line in lines)
    assert wvocab.to_tokens(words[:3]) == ["the", "time", "machine"]
    with pytest.raises(ValueError, match="max_tokens=0"):
        load_corpus_time_machine(max_tokens=0)


def test_jay_lyrics_char_level():
    text = read_jay_lyrics()
    assert "\n" not in text and "\r" not in text
    assert text.startswith("想要有直升机 想要和你飞到宇宙去")
    corpus, vocab = load_corpus_jay_lyrics()
    assert len(corpus) == len(text)
    assert "".join(vocab.to_tokens(corpus[:6])) == "想要有直升机"
    assert vocab[" "] != vocab.unk and len(vocab) == len(set(text)) + 1
    assert load_corpus_jay_lyrics(max_tokens=100)[0] == corpus[:100]


# ---- tokens that are not strings; unsupported input


def test_vocab_of_non_string_tokens_like_d2l():
    """d2l's Vocab([3, 1, 3, 2]) is ['<unk>', 3, 1, 2]: most frequent first, ties in first-seen order."""
    vocab = Vocab([3, 1, 3, 2])
    assert vocab.idx_to_token == ["<unk>", 3, 1, 2]
    assert vocab[3] == 1 and vocab[[1, 2, 7]] == [2, 3, 0] and vocab.to_tokens([1, 2]) == [3, 1]
    assert Vocab([[3, 1], [3, 2]]).idx_to_token == ["<unk>", 3, 1, 2]  # lines of ints
    assert Vocab(torch.tensor([3, 1, 3, 2])).idx_to_token == ["<unk>", 3, 1, 2]
    assert Vocab(np.array([3, 1, 3, 2])).idx_to_token == ["<unk>", 3, 1, 2]
    assert vocab[torch.tensor([3, 2])] == [1, 3] and vocab[torch.tensor(1)] == 2


def test_vocab_of_bigrams(lines):
    """Tuples are tokens (d2l builds a vocabulary of bigrams this way), not lines."""
    words = [w for line in tokenize(lines, "word") for w in line]
    bigrams = list(zip(words[:-1], words[1:]))
    vocab = Vocab(bigrams)
    expected = collections.Counter(bigrams).most_common(1)[0][0]
    assert vocab.idx_to_token[1] == expected and vocab[expected] == 1
    assert len(vocab) == 1 + len(set(bigrams))
    assert vocab[bigrams[:3]] == [vocab[b] for b in bigrams[:3]]
    # in a vocabulary of strings, a tuple is still a sequence of tokens
    word_vocab = Vocab(words)
    assert word_vocab[("the", "time")] == [word_vocab["the"], word_vocab["time"]]


@pytest.mark.parametrize("bad, error, match", [
    ({"the": 3, "time": 1}, TypeError, "flat sequence of hashable tokens"),
    (7, TypeError, "flat sequence of hashable tokens"),
    ([["the", "time"], "machine"], TypeError, "mixes token lists"),
    (["the", ["time"]], TypeError, "mixes token lists"),
    ([["the", ["time"]]], TypeError, "a line holds tokens, not lists"),
    ([{"a"}, {"b"}], TypeError, "unhashable"),
    ([["a", {"b": 1}]], TypeError, "unhashable"),
    (torch.tensor([[1, 2], [3, 4]]), ValueError, "1-d"),
    (torch.tensor([1.0, 2.0]), TypeError, "integers"),
])
def test_vocab_refuses_unsupported_input_saying_what_it_expects(bad, error, match):
    with pytest.raises(error, match=match):
        Vocab(bad)


def test_as_token_list():
    assert as_token_list(torch.tensor([1, 2])) == [1, 2] and type(as_token_list(torch.tensor([1]))[0]) is int
    assert as_token_list([torch.tensor(4), 5]) == [4, 5]  # 0-d tensors in a list: their ints
    assert as_token_list("abc") == ["a", "b", "c"] and as_token_list((1, 2)) == [1, 2]
    with pytest.raises(TypeError, match="no order"):
        as_token_list({1, 2})
    with pytest.raises(TypeError, match="sequence of tokens"):
        as_token_list(3)
    with pytest.raises(TypeError, match=r"corpus\[1\]"):
        as_token_list([1, torch.tensor([2, 3])], "corpus")
    with pytest.raises(TypeError, match="flatten"):
        as_token_list([["a"], ["b"]])


def test_special_indices():
    assert Vocab(list("abc")).special_indices == [0]
    vocab = Vocab(["<eos>", "a", "b"], reserved_tokens=["<pad>", "<bos>"])
    assert [vocab.idx_to_token[i] for i in vocab.special_indices] == ["<unk>", "<pad>", "<bos>", "<eos>"]
