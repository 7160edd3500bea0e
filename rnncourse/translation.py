"""The English–French translation data: reading, preprocessing, arrays, minibatches and
a held-out split grouped by English sentence.

The d2l pipeline (kept compatible, names and return shapes included)::

    text = preprocess_nmt(read_data_nmt())          # str
    source, target = tokenize_nmt(text)             # list[list[str]] each, one per pair
    array, valid_len = build_array_nmt(source, src_vocab, num_steps)
                                                    # (n, num_steps), (n,)
    data_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size=64, num_steps=10)

and the held-out split the chapters and the benchmark use::

    split = load_split_nmt()                        # NMTSplit(train, valid, test)
    src_vocab, tgt_vocab = nmt_vocabs(split.train)
    train_iter = nmt_loader(split.train, src_vocab, tgt_vocab, num_steps=12,
                            batch_size=64)

Tatoeba lists many English sentences several times, each with another French
translation ("Run!" -> "Cours !", "Courez !"). A split by pairs would put the same
English sentence in training and in test; ``split_nmt`` splits by English sentence
instead, and gives each test (and validation) sentence *all* its French translations as
references.
"""
from __future__ import annotations

import contextlib
import gc
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from .checks import check_int, check_positive_int, check_probability, check_type
from .data import extract
from .text import Vocab

__all__ = [
    "RESERVED_TOKENS",
    "read_data_nmt",
    "preprocess_nmt",
    "tokenize_nmt",
    "truncate_pad",
    "build_array_nmt",
    "load_data_nmt",
    "NMTSplit",
    "split_nmt",
    "load_split_nmt",
    "nmt_vocabs",
    "expand_references",
    "NMTLoader",
    "nmt_loader",
]

RESERVED_TOKENS = ("<pad>", "<bos>", "<eos>")

# A punctuation mark that follows a character other than a space gets a space before it.
# The lookbehind needs a preceding character, so a mark at the very start stays as it
# is.
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=[^ ])([,.!?])")


def read_data_nmt() -> str:
    """The raw Tatoeba English–French file ``fra.txt``: one pair a line,
    tab-separated."""
    with open(extract("fra_eng"), encoding="utf-8") as f:
        return f.read()


def preprocess_nmt(text: str) -> str:
    """Normalise ``text`` the way d2l does, so that words and punctuation split on
    spaces.

    The non-breaking spaces U+202F and U+00A0 (French typography puts them before ``!``
    and ``?``) become ordinary spaces, everything is lower-cased, and a space is
    inserted before ``,`` ``.`` ``!`` ``?`` when none precedes them (``"Go."`` ->
    ``"go ."``).
    """
    check_type("text", text, str)
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    return _SPACE_BEFORE_PUNCT.sub(r" \1", text)


def _check_tokenize_args(text: str, num_examples: int | None) -> None:
    check_type("text", text, str)
    check_positive_int("num_examples", num_examples, allow_none=True)


def _pair_tokens(line: str, line_number: int) -> tuple[list[str], list[str]]:
    """The source and target tokens of one line of ``fra.txt``: its first two
    tab-separated fields split on white space; an error that names the line when
    there is no tab or a side is empty."""
    fields = line.split("\t")
    if len(fields) < 2:
        raise ValueError(f"line {line_number} has no tab between source and "
                         f"target: {line[:60]!r}")
    src, tgt = fields[0].split(), fields[1].split()
    if not src or not tgt:
        raise ValueError(f"line {line_number} has an empty source or target: "
                         f"{line[:60]!r}")
    return src, tgt


def tokenize_nmt(text: str, num_examples: int | None = None
                 ) -> tuple[list[list[str]], list[list[str]]]:
    """Split preprocessed text into (source, target): one list of word tokens per pair.

    Each non-blank line holds an English sentence and its French translation separated
    by a tab; only these first two fields are read (newer releases of the file append an
    attribution as a third field). Tokens are split on white space. Blank lines (the
    file's final newline) are skipped; a non-blank line without a tab, or with an empty
    side, is an error that names the line.

    ``num_examples`` keeps the first ``num_examples`` pairs (``None``: all). d2l's loop
    (``if i > num_examples: break``) keeps one pair more; here 600 means 600.
    """
    _check_tokenize_args(text, num_examples)
    source: list[list[str]] = []
    target: list[list[str]] = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if num_examples is not None and len(source) == num_examples:
            break
        if not line.strip():  # a blank line, e.g. after the file's final newline
            continue
        src, tgt = _pair_tokens(line, line_number)  # a line without a tab is an error
        source.append(src)
        target.append(tgt)
    return source, target


def truncate_pad(line: Sequence, num_steps: int, padding_token) -> list:
    """``line`` cut to its first ``num_steps`` items, or padded with ``padding_token``
    to that length."""
    check_positive_int("num_steps", num_steps)
    line = list(line)
    if len(line) > num_steps:
        return line[:num_steps]
    return line + [padding_token] * (num_steps - len(line))


def _check_vocab(vocab: Vocab, name: str = "vocab") -> None:
    check_type(name, vocab, Vocab)
    missing = [tok for tok in RESERVED_TOKENS if tok not in vocab]
    if missing:
        raise ValueError(f"{name} lacks the reserved tokens {missing}; build it with "
                         f"reserved_tokens={list(RESERVED_TOKENS)} (see nmt_vocabs)")


def _check_token_lists(lines: Sequence[Sequence[str]], what: str) -> None:
    if isinstance(lines, str) or any(isinstance(line, str) for line in lines):
        raise TypeError(f"{what} expects a list of token lists, e.g. [['go', '.']] "
                        "(see tokenize_nmt), not strings")


def _check_build_args(lines: Sequence[Sequence[str]], vocab: Vocab,
                      num_steps: int) -> None:
    _check_vocab(vocab)
    check_positive_int("num_steps", num_steps)
    _check_token_lists(lines, "build_array_nmt")


def build_array_nmt(lines: Sequence[Sequence[str]], vocab: Vocab,
                    num_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists -> (array (n, num_steps) LongTensor, valid_len (n,) LongTensor).

    Each line gets ``<eos>`` appended, then is truncated or padded with ``<pad>`` to
    ``num_steps``; ``valid_len`` counts the non-padding tokens of each row. As in d2l, a
    line of ``num_steps`` tokens or more loses its ``<eos>`` to the truncation.
    """
    _check_build_args(lines, vocab, num_steps)
    pad, eos, unk = vocab["<pad>"], vocab["<eos>"], vocab.unk
    # a plain dict lookup: this runs over a million tokens
    index = vocab.token_to_idx.get
    rows = [truncate_pad([index(tok, unk) for tok in line] + [eos], num_steps, pad)
            for line in lines]
    array = torch.tensor(rows, dtype=torch.long).reshape(len(rows), num_steps)
    valid_len = (array != pad).sum(dim=1)
    return array, valid_len


def load_data_nmt(batch_size: int, num_steps: int,
                  num_examples: int = 600) -> tuple["NMTLoader", Vocab, Vocab]:
    """d2l's ``load_data_nmt``: minibatches of the first ``num_examples`` pairs and the
    vocabularies.

    Returns ``(data_iter, src_vocab, tgt_vocab)``; ``data_iter`` yields shuffled
    ``(X, X_valid_len, Y, Y_valid_len)``, X and Y (batch, num_steps). The vocabularies
    keep tokens seen at least twice, with the reserved tokens ``<pad>``, ``<bos>``,
    ``<eos>``. These pairs are the *first* lines of the file: no held-out data (see
    ``load_split_nmt``).
    """
    source, target = tokenize_nmt(preprocess_nmt(read_data_nmt()), num_examples)
    pairs = list(zip(source, target))
    src_vocab, tgt_vocab = nmt_vocabs(pairs, min_freq=2)
    data_iter = nmt_loader(pairs, src_vocab, tgt_vocab, num_steps, batch_size,
                           shuffle=True)
    return data_iter, src_vocab, tgt_vocab


@dataclass
class NMTSplit:
    """A held-out split grouped by English sentence.

    ``train`` has one (English tokens, French tokens) item per pair; ``valid`` and
    ``test`` have one (English tokens, [every French translation]) item per distinct
    English sentence. No English sentence is in two parts.
    """

    train: list[tuple[list[str], list[str]]]
    valid: list[tuple[list[str], list[list[str]]]]
    test: list[tuple[list[str], list[list[str]]]]

    def sizes(self) -> dict[str, int]:
        """Pairs in train, English sentences and reference translations in valid and
        test."""
        return {
            "train_pairs": len(self.train),
            "valid_sources": len(self.valid),
            "valid_references": sum(len(refs) for _, refs in self.valid),
            "test_sources": len(self.test),
            "test_references": sum(len(refs) for _, refs in self.test),
        }


def split_nmt(source: Sequence[Sequence[str]], target: Sequence[Sequence[str]],
              num_test: int = 1000, valid_fraction: float = 0.05,
              max_tokens: int | None = 10, seed: int = 0) -> NMTSplit:
    """Split tokenized pairs into train, valid and test, grouped by the English
    sentence.

    * Only pairs with at most ``max_tokens`` tokens on each side are kept (``None``:
      all).
    * Pairs are grouped by their (tokenized) English sentence.
    * **test**: ``num_test`` distinct English sentences drawn at random (``seed``), each
      with all its French translations (duplicates removed) as references, in the drawn
      (random) order, so ``test[:n]`` is itself a random sample.
    * **valid**: ``round(valid_fraction * remaining)`` of the remaining English
      sentences, drawn the same way and kept the same way.
    * **train**: every pair of the remaining sentences, in the order of the file.
    """
    _check_split_args(source, target, num_test, valid_fraction, max_tokens)
    limit = max_tokens if max_tokens is not None else float("inf")
    # insertion order = order of the file
    groups: dict[tuple[str, ...], list[list[str]]] = {}
    for src, tgt in zip(source, target):
        if len(src) <= limit and len(tgt) <= limit:
            groups.setdefault(tuple(src), []).append(list(tgt))
    keys = list(groups)
    _check_num_test(num_test, len(keys), max_tokens)
    rng = random.Random(seed)
    # a random permutation of the groups
    order = rng.sample(range(len(keys)), len(keys))
    test_ids = order[:num_test]
    rest = order[num_test:]
    num_valid = round(valid_fraction * len(rest))
    valid_ids = rest[:num_valid]
    train_ids = set(rest[num_valid:])

    def with_references(ids: list[int]) -> list[tuple[list[str], list[list[str]]]]:
        items = []
        for i in ids:
            refs: list[list[str]] = []
            for ref in groups[keys[i]]:
                if ref not in refs:
                    refs.append(ref)
            items.append((list(keys[i]), refs))
        return items

    train = [(list(key), tgt) for i, key in enumerate(keys) if i in train_ids
             for tgt in groups[key]]
    return NMTSplit(train=train, valid=with_references(valid_ids),
                    test=with_references(test_ids))


def _check_split_args(source: Sequence[Sequence[str]], target: Sequence[Sequence[str]],
                      num_test: int, valid_fraction: float,
                      max_tokens: int | None) -> None:
    if len(source) != len(target):
        raise ValueError(f"source and target differ in length: {len(source)} vs "
                         f"{len(target)}")
    check_int("num_test", num_test, minimum=0)
    check_probability("valid_fraction", valid_fraction)
    check_positive_int("max_tokens", max_tokens, allow_none=True)
    _check_token_lists(source[:1], "split_nmt")
    _check_token_lists(target[:1], "split_nmt")


def _check_num_test(num_test: int, num_sources: int, max_tokens: int | None) -> None:
    if num_test >= num_sources:
        raise ValueError(f"num_test={num_test} leaves nothing to train on: only "
                         f"{num_sources} distinct English sentences have at most "
                         f"{max_tokens} tokens a side")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a block that builds hundreds of
    thousands of small lists (none of them in a cycle): each collection would rescan
    them all, which is most of the time of tokenizing and splitting the corpus."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_split_nmt(num_test: int = 1000, valid_fraction: float = 0.05,
                   max_tokens: int | None = 10, seed: int = 0) -> NMTSplit:
    """``split_nmt`` on the whole preprocessed and tokenized ``fra.txt``."""
    with _gc_paused():
        source, target = tokenize_nmt(preprocess_nmt(read_data_nmt()))
        return split_nmt(source, target, num_test=num_test,
                         valid_fraction=valid_fraction, max_tokens=max_tokens,
                         seed=seed)


def _check_pairs(pairs, what: str) -> list:
    """``pairs`` as a list, after checking that it holds (source tokens, target tokens)
    pairs."""
    if isinstance(pairs, (str, NMTSplit)):
        raise TypeError(f"{what} expects a list of (source tokens, target tokens) "
                        f"pairs, got {type(pairs).__name__}")
    pairs = list(pairs)
    if not pairs:
        raise ValueError(f"{what} expects a non-empty list of (source tokens, target "
                         "tokens) pairs")
    for src, tgt in pairs[:1]:
        if isinstance(src, str) or isinstance(tgt, str):
            raise TypeError(f"{what} expects token lists, e.g. (['go', '.'], ['va', "
                            "'!']), not strings")
        if tgt and not isinstance(tgt[0], str):
            raise TypeError(f"{what} got a list of references as target; one item per "
                            "pair is needed: use expand_references(pairs) for "
                            "valid/test items")
    return pairs


def _check_vocabs_args(train_pairs, min_freq: int) -> list:
    """``train_pairs`` as a list."""
    check_int("min_freq", min_freq, minimum=0)
    return _check_pairs(train_pairs, "nmt_vocabs")


def nmt_vocabs(train_pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
               min_freq: int = 2) -> tuple[Vocab, Vocab]:
    """(src_vocab, tgt_vocab) of the training pairs: tokens seen at least ``min_freq``
    times, after ``<unk>`` (index 0) and the reserved ``<pad>``, ``<bos>``,
    ``<eos>``."""
    train_pairs = _check_vocabs_args(train_pairs, min_freq)
    src_vocab = Vocab([src for src, _ in train_pairs], min_freq=min_freq,
                      reserved_tokens=RESERVED_TOKENS)
    tgt_vocab = Vocab([tgt for _, tgt in train_pairs], min_freq=min_freq,
                      reserved_tokens=RESERVED_TOKENS)
    return src_vocab, tgt_vocab


def expand_references(items: Sequence[tuple[Sequence[str], Sequence[Sequence[str]]]]
                      ) -> list[tuple[list[str], list[str]]]:
    """Valid/test items (source, [references]) -> one (source, reference) pair per
    reference, e.g. to compute a validation loss with ``nmt_loader``."""
    return [(list(src), list(ref)) for src, refs in items for ref in refs]


class NMTLoader:
    """Minibatches ``(X, X_valid_len, Y, Y_valid_len)`` of translation pairs,
    re-iterable.

    X, Y: (batch, num_steps) LongTensors; X_valid_len, Y_valid_len: (batch,). Each
    ``iter()`` is one pass (one epoch) over every pair; the last minibatch may be
    smaller. With ``shuffle=True`` every pass has a new order, drawn from a generator
    seeded once with ``seed``, so a whole training run is reproducible.
    """

    def __init__(self, src_array: torch.Tensor, src_valid_len: torch.Tensor,
                 tgt_array: torch.Tensor, tgt_valid_len: torch.Tensor, batch_size: int,
                 shuffle: bool = True, seed: int = 0) -> None:
        check_positive_int("batch_size", batch_size)
        self.src_array, self.src_valid_len = src_array, src_valid_len
        self.tgt_array, self.tgt_valid_len = tgt_array, tgt_valid_len
        self.batch_size, self.shuffle = batch_size, shuffle
        self.num_steps = src_array.shape[1]
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        """Minibatches per pass."""
        return -(-len(self.src_array) // self.batch_size)

    @property
    def num_pairs(self) -> int:
        return len(self.src_array)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                         torch.Tensor]]:
        n = len(self.src_array)
        order = (torch.randperm(n, generator=self._generator) if self.shuffle
                 else torch.arange(n))
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield (self.src_array[idx], self.src_valid_len[idx], self.tgt_array[idx],
                   self.tgt_valid_len[idx])


def _check_loader_args(pairs, src_vocab: Vocab, tgt_vocab: Vocab) -> list:
    """``pairs`` as a list; ``build_array_nmt`` checks ``num_steps`` and ``NMTLoader``
    checks ``batch_size``."""
    _check_vocab(src_vocab, "src_vocab")
    _check_vocab(tgt_vocab, "tgt_vocab")
    return _check_pairs(pairs, "nmt_loader")


def nmt_loader(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], src_vocab: Vocab,
               tgt_vocab: Vocab, num_steps: int, batch_size: int, shuffle: bool = True,
               seed: int = 0) -> NMTLoader:
    """An ``NMTLoader`` over (source tokens, target tokens) pairs, e.g.
    ``NMTSplit.train``.

    Both sides go through ``build_array_nmt`` (``<eos>`` appended, truncated or padded
    to ``num_steps``). For valid/test items (one source, several references) use
    ``expand_references`` first.
    """
    pairs = _check_loader_args(pairs, src_vocab, tgt_vocab)
    src_array, src_valid_len = build_array_nmt([src for src, _ in pairs], src_vocab,
                                               num_steps)
    tgt_array, tgt_valid_len = build_array_nmt([tgt for _, tgt in pairs], tgt_vocab,
                                               num_steps)
    return NMTLoader(src_array, src_valid_len, tgt_array, tgt_valid_len, batch_size,
                     shuffle, seed)
