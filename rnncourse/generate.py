"""Generating text with a trained language model.

``predict`` first *warms up* the model on the prefix (it reads the prefix and keeps the
state, ignoring its predictions there), then extends it one token at a time: each new
token is fed back in as the next input. The next token is the most likely one
(``temperature=0``, greedy) or is drawn from ``softmax(logits / temperature)``,
optionally restricted to the ``top_k`` most likely tokens. Sampling uses torch's random
generator, so ``torch.manual_seed`` (or ``rnncourse.utils.set_seed``) makes it
reproducible.

Character level by default: a string prefix is split into characters and the result is
joined without separators. With ``token="word"`` a string prefix is split on white space
and the words are joined with single spaces. A prefix may also be given as a list of
tokens; it is then used as is, and joined as ``token`` says.

Generation never produces ``<unk>`` or another special token (``Vocab.special_indices``:
``<pad>``, ``<bos>``, ``<eos>``, the reserved tokens): their logits are set to −∞ before
the argmax or the draw, so a model that gives ``<unk>`` some probability (an untrained
one does) writes only text. ``allow_special=True`` lets them through.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .checks import check_bool, check_int, check_number, check_positive_int
from .text import Vocab
from .utils import evaluating, place

__all__ = ["predict"]

_JOINERS = {"char": "", "word": " "}


def _prefix_tokens(prefix: str | Sequence[str], token: str) -> list[str]:
    if token not in _JOINERS:
        raise ValueError(f"unknown token type {token!r}: use 'char' or 'word'")
    if isinstance(prefix, str):
        tokens = list(prefix) if token == "char" else prefix.split()
    elif isinstance(prefix, Sequence) and all(isinstance(t, str) for t in prefix):
        tokens = list(prefix)
    else:
        raise TypeError("prefix must be a string or a list of string tokens, got "
                        f"{type(prefix).__name__}")
    if not tokens:
        raise ValueError("the prefix is empty: the model needs at least one token to "
                         "start from")
    return tokens


def _check_args(num_preds: int, net: nn.Module, vocab: Vocab, temperature: float,
                top_k: int | None, allow_special: bool) -> None:
    """The checks of ``predict`` (the prefix is checked as it is split)."""
    check_int("num_preds", num_preds, minimum=0)  # tokens to generate
    check_number("temperature", temperature, minimum=0)  # 0 = greedy
    check_positive_int("top_k", top_k, allow_none=True)  # sample among the k likeliest
    check_bool("allow_special", allow_special)
    _check_net(net, vocab)
    if not allow_special and num_preds > 0 and len(vocab.special_indices) >= len(vocab):
        raise ValueError("every token of the vocabulary is special "
                         f"({vocab.idx_to_token}): there is no text token to generate; "
                         "pass allow_special=True to generate them anyway")


def _check_net(net: nn.Module, vocab: Vocab) -> None:
    if getattr(net, "num_directions", 1) == 2:
        raise ValueError("a bidirectional model cannot generate text: its prediction "
                         "at each position also reads the tokens to the right, the "
                         "future that generation has yet to produce. Generate with a "
                         "unidirectional model (bidirectional=False).")
    vocab_size = getattr(net, "vocab_size", None)
    if vocab_size is not None and vocab_size != len(vocab):
        raise ValueError(f"the model predicts {vocab_size} tokens but the vocabulary "
                         f"has {len(vocab)}: pass the vocabulary the model was trained "
                         "with")


def _banned_mask(special: list[int], vocab_size: int,
                 device: torch.device) -> torch.Tensor | None:
    """(vocab_size,) bool, True at the ``special`` indices; None when there are none."""
    if not special:
        return None
    banned = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    banned[special] = True
    return banned


def _next_token(logits: torch.Tensor, temperature: float, top_k: int | None,
                banned: torch.Tensor | None = None) -> torch.Tensor:
    """The next token index (a 0-d tensor, on the logits' device) from logits
    (vocab_size,); ``banned`` (vocab_size,) bool: tokens that must not be chosen (their
    logits become −∞)."""
    if banned is not None:
        logits = logits.masked_fill(banned, float("-inf"))
    if temperature == 0:
        return logits.argmax()
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.numel():
        kth_largest = torch.topk(logits, top_k).values[-1]
        # only the top k can be drawn
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1)[0]


def predict(prefix: str | Sequence[str], num_preds: int, net: nn.Module, vocab: Vocab,
            device: str | torch.device | None = None, temperature: float = 0.0,
            top_k: int | None = None, token: str = "char",
            allow_special: bool = False) -> str:
    """Continue ``prefix`` by ``num_preds`` tokens generated by ``net``.

    Tokens the vocabulary never saw become ``<unk>`` (index 0): the result starts with
    the prefix as the vocabulary spells it, ``vocab.to_tokens(vocab[prefix_tokens])``,
    followed by exactly ``num_preds`` generated tokens, joined as ``token`` says
    ("char": no separator, "word": spaces).

    ``temperature=0`` is greedy (always the most likely token); ``temperature > 0``
    samples from ``softmax(logits / temperature)``, among the ``top_k`` most likely
    tokens when ``top_k`` is given. The generated tokens are never ``<unk>`` or another
    special token of ``vocab.special_indices`` unless ``allow_special=True`` (the prefix
    is kept as given). ``device=None`` runs where the net is; a device moves the net
    there. Runs under ``torch.no_grad()`` in eval mode and restores the net's mode.
    """
    tokens = _prefix_tokens(prefix, token)  # checks the prefix and the token type
    _check_args(num_preds, net, vocab, temperature, top_k, allow_special)
    device = place(net, device)
    special = [] if allow_special else list(vocab.special_indices)

    prefix_indices = vocab[tokens]  # unseen tokens -> <unk> = 0
    generated: list[torch.Tensor] = []  # 0-d tensors, kept on the device until the end
    with evaluating(net):
        if num_preds > 0:
            state = net.begin_state(1, device)
            # (1, len(prefix))
            X = torch.tensor([prefix_indices], dtype=torch.long, device=device)
            # warm-up: read the whole prefix; the last row of logits predicts the first
            # new token
            logits, state = net(X, state)  # logits: (len(prefix), vocab_size)
            banned = _banned_mask(special, logits.shape[-1], device)  # (vocab_size,)
            for i in range(num_preds):
                generated.append(_next_token(logits[-1], temperature, top_k, banned))
                if i < num_preds - 1:
                    # feed it back in: logits (1, vocab_size)
                    logits, state = net(generated[-1].reshape(1, 1), state)
    new_indices = torch.stack(generated).tolist() if generated else []
    return _JOINERS[token].join(vocab.to_tokens(prefix_indices + new_indices))
