"""Text preprocessing: read a corpus, split it into tokens, map tokens to indices.

The pipeline of the text-preprocessing chapter::

    lines  = read_time_machine()            # list[str]
    tokens = tokenize(lines, token="char")  # list[list[str]]
    vocab  = Vocab(tokens)                  # token <-> index
    corpus = [vocab[t] for line in tokens for t in line]
"""
from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence

from .data import extract, fetch

__all__ = [
    "read_time_machine",
    "read_jay_lyrics",
    "tokenize",
    "count_corpus",
    "Vocab",
    "load_corpus_time_machine",
    "load_corpus_jay_lyrics",
]

_NON_LETTERS = re.compile("[^A-Za-z]+")


def read_time_machine() -> list[str]:
    """The lines of *The Time Machine*: every run of non-letters replaced by one space,
    stripped and lower-cased. Empty lines are kept, so line numbers match the file."""
    with open(fetch("time_machine"), encoding="utf-8") as f:
        lines = f.readlines()
    return [_NON_LETTERS.sub(" ", line).strip().lower() for line in lines]


def read_jay_lyrics() -> str:
    """The Jay Chou lyrics as one string, with newlines and carriage returns read as spaces."""
    with open(extract("jay_lyrics"), encoding="utf-8") as f:
        text = f.read()
    return text.replace("\r", " ").replace("\n", " ")


def tokenize(lines: Iterable[str], token: str = "word") -> list[list[str]]:
    """Split each line into word tokens (on white space) or character tokens.

    Returns one list of tokens per line; an empty line gives an empty list for words
    and an empty list for characters.
    """
    if token == "word":
        return [line.split() for line in lines]
    if token == "char":
        return [list(line) for line in lines]
    raise ValueError(f"unknown token type {token!r}: use 'word' or 'char'")


def _flatten(tokens: Iterable) -> list[str]:
    """Accept a flat list of tokens or a list of token lists (one per line)."""
    flat: list[str] = []
    for item in tokens:
        if isinstance(item, str):
            flat.append(item)
        else:
            flat.extend(item)
    return flat


def count_corpus(tokens: Iterable) -> collections.Counter:
    """Token frequencies of a flat or nested (per-line) token list."""
    return collections.Counter(_flatten(tokens))


class Vocab:
    """A vocabulary: index 0 is ``<unk>``, then the reserved tokens, then every token
    seen at least ``min_freq`` times, most frequent first (ties keep first-seen order).

    ``vocab[token]`` and ``vocab[list_of_tokens]`` give indices (unknown tokens -> 0);
    ``vocab.to_tokens(index_or_indices)`` goes back.
    """

    def __init__(self, tokens: Iterable | None = None, min_freq: int = 0,
                 reserved_tokens: Sequence[str] | None = None) -> None:
        counter = count_corpus(tokens if tokens is not None else [])
        # sorted() is stable, so equally frequent tokens keep the order they first appeared in
        self.token_freqs: list[tuple[str, int]] = sorted(counter.items(), key=lambda kv: kv[1], reverse=True)
        reserved = list(reserved_tokens or [])
        if "<unk>" in reserved:
            raise ValueError("'<unk>' is always index 0; do not list it in reserved_tokens")
        if len(set(reserved)) != len(reserved):
            raise ValueError(f"reserved_tokens has duplicates: {reserved}")
        self.idx_to_token: list[str] = ["<unk>"] + reserved
        self.token_to_idx: dict[str, int] = {tok: idx for idx, tok in enumerate(self.idx_to_token)}
        for tok, freq in self.token_freqs:
            if freq < min_freq:
                break  # token_freqs is sorted, so every later token is rarer still
            if tok not in self.token_to_idx:
                self.token_to_idx[tok] = len(self.idx_to_token)
                self.idx_to_token.append(tok)

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if isinstance(tokens, str):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(tok) for tok in tokens]

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_idx

    def to_tokens(self, indices):
        """The token of an index, or the list of tokens of a list (or tensor) of indices."""
        if hasattr(indices, "tolist"):  # a tensor or numpy array
            indices = indices.tolist()
        if isinstance(indices, int):
            return self.idx_to_token[indices]
        return [self.idx_to_token[int(i)] for i in indices]

    @property
    def unk(self) -> int:
        """Index of the unknown token: always 0."""
        return 0

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.idx_to_token[:10])
        return f"Vocab(size={len(self)}, tokens=[{head}{', ...' if len(self) > 10 else ''}])"


def _truncate(corpus: list[int], max_tokens: int) -> list[int]:
    if max_tokens is None or max_tokens < 0:
        return corpus
    if max_tokens == 0:
        raise ValueError("max_tokens=0 leaves an empty corpus; use -1 for all tokens")
    return corpus[:max_tokens]


def load_corpus_time_machine(max_tokens: int = -1, token: str = "char") -> tuple[list[int], Vocab]:
    """Token indices of the whole Time Machine and its vocabulary.

    At the character level, consecutive non-empty lines are joined with one space (a line
    break is white space; joining without one, as d2l does, glues the last word of each line
    to the first word of the next: "heartof man").

    ``max_tokens=-1`` keeps every token; otherwise only the first ``max_tokens``.
    The vocabulary is built on the full text, so it does not depend on ``max_tokens``.
    """
    stream: list[str] = []
    for line in tokenize(read_time_machine(), token):
        if not line:
            continue  # blank lines carry no tokens
        if stream and token == "char":
            stream.append(" ")  # a line break is white space: keep the words on either side apart
        stream.extend(line)
    vocab = Vocab(stream)
    return _truncate(vocab[stream], max_tokens), vocab


def load_corpus_jay_lyrics(max_tokens: int = -1) -> tuple[list[int], Vocab]:
    """Character indices of the Jay Chou lyrics and their vocabulary."""
    chars = list(read_jay_lyrics())
    vocab = Vocab(chars)
    corpus = vocab[chars]
    return _truncate(corpus, max_tokens), vocab
