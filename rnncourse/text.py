"""Text preprocessing: read a corpus, split it into tokens, map tokens to indices.

The pipeline of the text-preprocessing chapter::

    lines  = read_time_machine()            # list[str]
    tokens = tokenize(lines, token="char")  # list[list[str]]
    vocab  = Vocab(tokens)                  # token <-> index
    corpus = [vocab[t] for line in tokens for t in line]

Tokens are any hashable values (strings, integers, tuples such as bigrams); a token
sequence may be a list, a tuple, a string (its characters) or a 1-d integer tensor or
NumPy array of token ids (``as_token_list`` turns it into a list of Python ints).
"""
from __future__ import annotations

import collections
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence, Set

from .checks import check_number
from .data import extract, fetch

__all__ = [
    "as_token_list",
    "read_time_machine",
    "read_jay_lyrics",
    "tokenize",
    "count_corpus",
    "Vocab",
    "SPECIAL_TOKENS",
    "load_corpus_time_machine",
    "load_corpus_jay_lyrics",
]

#: Tokens that mark structure rather than text (padding, sequence boundaries, unknown
#words).
SPECIAL_TOKENS: tuple[str, ...] = ("<unk>", "<pad>", "<bos>", "<eos>")

_NON_LETTERS = re.compile("[^A-Za-z]+")


def read_time_machine() -> list[str]:
    """The lines of *The Time Machine*: every run of non-letters replaced by one space,
    stripped and lower-cased. Empty lines are kept, so line numbers match the file."""
    with open(fetch("time_machine"), encoding="utf-8") as f:
        lines = f.readlines()
    return [_NON_LETTERS.sub(" ", line).strip().lower() for line in lines]


def read_jay_lyrics() -> str:
    """The Jay Chou lyrics as one string, with newlines and carriage returns read as
    spaces."""
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


def _is_array(value) -> bool:
    """A torch tensor or a NumPy array (or NumPy scalar): something with a dtype and a
    shape."""
    return (hasattr(value, "tolist") and hasattr(value, "dtype")
            and hasattr(value, "shape"))


def _is_float_dtype(dtype) -> bool:
    # NumPy dtypes have a kind letter; torch dtypes do not
    kind = getattr(dtype, "kind", None)
    if kind is not None:
        return kind in "fc"
    return bool(dtype.is_floating_point or dtype.is_complex)


def _array_as_list(array, what: str) -> list:
    """A 1-d tensor/array of token ids as a list of Python values (ints, or str for
    NumPy strings)."""
    shape = tuple(array.shape)
    if len(shape) != 1:
        hint = (": pass one row, or flatten it first" if len(shape) > 1
                else ": that is one token, not a sequence")
        raise ValueError(f"{what} must be one flat sequence of tokens (a 1-d tensor or "
                         f"array of token ids), got a {len(shape)}-d "
                         f"{type(array).__name__} of shape {shape}{hint}")
    if _is_float_dtype(array.dtype):
        raise TypeError(f"{what} must hold token ids, integers, got a "
                        f"{type(array).__name__} of dtype {array.dtype}: convert it "
                        "with .long() (torch) or .astype(int) (NumPy) if the values "
                        "are whole numbers")
    return array.tolist()


def as_token_list(tokens: Iterable[Hashable], what: str = "tokens") -> list:
    """``tokens`` as a plain list of hashable tokens, for counting and lookups.

    Accepts a list, tuple, string (its characters) or any iterable of hashable tokens,
    and a 1-d integer tensor or NumPy array of token ids (converted with ``.tolist()``,
    so that each id is a Python int: a 0-d tensor is hashed by identity, so
    ``torch.tensor(1)`` twice would count as two different tokens). 0-d integer tensors
    inside a list become ints too.

    Raises ``TypeError`` for a non-iterable, a dict or set (no order: pass a list), a
    float tensor or array, and unhashable tokens; ``ValueError`` for a 0-d or 2-d tensor
    or array. ``what`` names the argument in the messages.
    """
    if _is_array(tokens):
        return _array_as_list(tokens, what)
    if isinstance(tokens, (Mapping, Set)):
        raise TypeError(f"{what} must be a sequence of tokens in text order (a list, a "
                        f"string, a 1-d tensor), got a {type(tokens).__name__}, which "
                        "has no order of its own")
    if not isinstance(tokens, Iterable):
        raise TypeError(f"{what} must be a sequence of tokens (a list, a string, a 1-d "
                        f"tensor of ids), got {type(tokens).__name__} {tokens!r}")
    result = list(tokens)
    for i, tok in enumerate(result):
        if isinstance(tok, (str, int)):
            continue
        if _is_array(tok):
            if tuple(tok.shape) != () or _is_float_dtype(tok.dtype):
                raise TypeError(f"{what}[{i}] is a {type(tok).__name__} of shape "
                                f"{tuple(tok.shape)} and dtype {tok.dtype}: a token "
                                "must be one hashable value (a string, an int, a 0-d "
                                "integer tensor)")
            # a 0-d tensor hashes by identity; its int hashes by value
            result[i] = tok.item()
        elif isinstance(tok, list):
            raise TypeError(f"{what}[{i}] is a list: {what} must be one flat sequence "
                            "of tokens; flatten per-line token lists first")
        elif not isinstance(tok, Hashable):
            raise TypeError(f"{what}[{i}] is an unhashable {type(tok).__name__} "
                            f"({tok!r}): tokens must be hashable (strings, ints, "
                            "tuples)")
    return result


_EXPECTED_CORPUS = ("expected a flat sequence of hashable tokens (e.g. ['a', 'b'] or "
                    "[3, 1, 2]) or a list of token lists, one per line (e.g. [['the', "
                    "'time'], ['machine']])")


def _flatten(tokens: Iterable | None) -> list:
    """A flat list of tokens from a flat token sequence or a list of token lists (one
    per line).

    A line is a list (or a 1-d tensor/array); any other hashable value (a string, an
    int, a tuple such as a bigram) is a token. Mixing lines and tokens is an error.
    """
    if tokens is None:
        return []
    if isinstance(tokens, str):
        return list(tokens)  # a string is the sequence of its characters
    if _is_array(tokens):
        return _array_as_list(tokens, "tokens")
    if isinstance(tokens, (Mapping, Set)) or not isinstance(tokens, Iterable):
        raise TypeError(f"tokens: {_EXPECTED_CORPUS}; got {type(tokens).__name__} "
                        f"{tokens!r:.60}")
    items = list(tokens)
    is_line = [isinstance(item, list) or (_is_array(item) and len(item.shape) >= 1)
               for item in items]
    if not any(is_line):
        return as_token_list(items, "tokens")
    if not all(is_line):
        i = is_line.index(False)
        raise TypeError("tokens mixes token lists (lines) and single tokens "
                        f"(tokens[{i}] = {items[i]!r}): {_EXPECTED_CORPUS}")
    flat: list = []
    for i, line in enumerate(items):
        if not isinstance(line, list):
            line = _array_as_list(line, f"tokens[{i}]")
        for j, tok in enumerate(line):
            if isinstance(tok, list):
                raise TypeError(f"tokens[{i}][{j}] is a list: a line holds tokens, not "
                                f"lists; {_EXPECTED_CORPUS}")
        flat.extend(as_token_list(line, f"tokens[{i}]"))
    return flat


def count_corpus(tokens: Iterable) -> collections.Counter:
    """Token frequencies of a flat or nested (per-line) token list."""
    return collections.Counter(_flatten(tokens))


def _check_vocab_args(reserved: list, min_freq: int) -> None:
    check_number("min_freq", min_freq)
    if "<unk>" in reserved:
        raise ValueError("'<unk>' is always index 0; do not list it in "
                         "reserved_tokens")
    if len(set(reserved)) != len(reserved):
        raise ValueError(f"reserved_tokens has duplicates: {reserved}")


def _one_or_many(tokens, token_to_idx: dict) -> tuple[bool, object]:
    """What ``vocab[tokens]`` looks up: ``(True, token)`` for one token (a 0-d tensor or
    array as its value), ``(False, tokens)`` for a sequence of tokens. A tuple is one
    token when the vocabulary holds it (e.g. a bigram), else a sequence."""
    if isinstance(tokens, str):
        return True, tokens
    if _is_array(tokens):
        if tuple(tokens.shape) == ():
            return True, tokens.item()
        return False, _array_as_list(tokens, "tokens")
    if isinstance(tokens, tuple) and tokens in token_to_idx:
        return True, tokens
    if isinstance(tokens, Hashable) and not isinstance(tokens, (tuple, range)):
        return True, tokens  # one non-string token, e.g. an int
    if isinstance(tokens, Iterable) and not isinstance(tokens, (Mapping, Set)):
        return False, tokens
    raise TypeError("vocab[...] takes a token or a list of tokens, got a "
                    f"{type(tokens).__name__}")


class Vocab:
    """A vocabulary: index 0 is ``<unk>``, then the reserved tokens, then every token
    seen at least ``min_freq`` times, most frequent first (ties keep first-seen order).

    ``tokens`` is a flat sequence of hashable tokens (strings, ints, tuples such as
    bigrams; a string counts as its characters; a 1-d integer tensor or array as its
    ids) or a list of token lists, one per line: ``Vocab([3, 1, 3, 2])`` is
    ``['<unk>', 3, 1, 2]``.

    ``vocab[token]`` and ``vocab[list_of_tokens]`` give indices (unknown tokens -> 0);
    ``vocab.to_tokens(index_or_indices)`` goes back. A tuple is looked up as one token
    when the vocabulary holds it, else as a sequence of tokens.
    """

    def __init__(self, tokens: Iterable | None = None, min_freq: int = 0,
                 reserved_tokens: Sequence[str] | None = None) -> None:
        reserved = as_token_list(reserved_tokens or [], "reserved_tokens")
        _check_vocab_args(reserved, min_freq)
        counter = count_corpus(tokens if tokens is not None else [])
        # most frequent first; sorted() is stable, so ties keep their first-seen order
        self.token_freqs: list[tuple] = sorted(counter.items(), key=lambda kv: kv[1],
                                               reverse=True)
        self.reserved_tokens: list = reserved
        frequent = [tok for tok, freq in self.token_freqs if freq >= min_freq]
        # a token listed twice (e.g. a reserved token that also occurs in the text)
        # keeps its first index
        self.idx_to_token: list = list(dict.fromkeys(["<unk>", *reserved, *frequent]))
        self.token_to_idx: dict = {tok: idx
                                   for idx, tok in enumerate(self.idx_to_token)}

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        is_one_token, tokens = _one_or_many(tokens, self.token_to_idx)
        if is_one_token:
            return self.token_to_idx.get(tokens, self.unk)  # unknown -> <unk> = 0
        return [self[tok] for tok in tokens]

    def __contains__(self, token) -> bool:
        return token in self.token_to_idx

    @property
    def special_indices(self) -> list[int]:
        """The indices of ``<unk>`` (0), the reserved tokens, and ``<pad>``, ``<bos>``,
        ``<eos>`` where present (a vocabulary rebuilt from a checkpoint no longer knows
        which were reserved): tokens that mark structure, not text."""
        special = ["<unk>", *getattr(self, "reserved_tokens", []), *SPECIAL_TOKENS]
        return sorted({self.token_to_idx[tok] for tok in special
                       if tok in self.token_to_idx})

    def to_tokens(self, indices):
        """The token of an index, or the list of tokens of a list (or tensor) of
        indices."""
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
        return (f"Vocab(size={len(self)}, "
                f"tokens=[{head}{', ...' if len(self) > 10 else ''}])")


def _truncate(corpus: list[int], max_tokens: int) -> list[int]:
    if max_tokens is None or max_tokens < 0:
        return corpus
    if max_tokens == 0:
        raise ValueError("max_tokens=0 leaves an empty corpus; use -1 for all tokens")
    return corpus[:max_tokens]


def load_corpus_time_machine(max_tokens: int = -1,
                             token: str = "char") -> tuple[list[int], Vocab]:
    """Token indices of the whole Time Machine and its vocabulary.

    At the character level, consecutive non-empty lines are joined with one space (a
    line break is white space; joining without one, as d2l does, glues the last word of
    each line to the first word of the next: "heartof man").

    ``max_tokens=-1`` keeps every token; otherwise only the first ``max_tokens``.
    The vocabulary is built on the full text, so it does not depend on ``max_tokens``.
    """
    stream: list[str] = []
    for line in tokenize(read_time_machine(), token):
        if not line:
            continue  # blank lines carry no tokens
        if stream and token == "char":
            # a line break is white space: keep the words on either side apart
            stream.append(" ")
        stream.extend(line)
    vocab = Vocab(stream)
    return _truncate(vocab[stream], max_tokens), vocab


def load_corpus_jay_lyrics(max_tokens: int = -1) -> tuple[list[int], Vocab]:
    """Character indices of the Jay Chou lyrics and their vocabulary."""
    chars = list(read_jay_lyrics())
    vocab = Vocab(chars)
    corpus = vocab[chars]
    return _truncate(corpus, max_tokens), vocab
