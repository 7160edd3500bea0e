"""Reading, tokenizing and indexing the corpora."""
import collections
import re

import pytest

from rnncourse import data
from rnncourse.text import (Vocab, count_corpus, load_corpus_jay_lyrics, load_corpus_time_machine,
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
