"""The encoder–decoder architecture and sequence-to-sequence learning (Sutskever et al.
2014, Cho et al. 2014): a GRU encoder reads the source sentence; its final top-layer
state, the *context*, is fed to a GRU decoder together with every target token.

Shapes (``B`` sentences, ``S`` source steps, ``T`` target steps, ``V`` vocabulary size,
``H`` hidden units, ``L`` layers)::

    enc_X (B, S), enc_valid_len (B,)          source token ids and their real lengths
    enc_outputs = encoder(enc_X, enc_valid_len)   # (outputs (S, B, H), state (L, B, H))
    state = decoder.init_state(enc_outputs, enc_valid_len)
    logits, state = decoder(dec_X, state)     # dec_X (B, T) -> logits (B, T, V)

Two details that d2l's code (*Dive into Deep Learning*, the 2021 edition, d2l 0.17,
which the notes follow) gets wrong, and this one does not (d2l's 2023 edition, 1.0,
changed its decoder and its loss):

* **The encoder does not read padding.** Its final state is, for each sentence, the
  state after its last real token (the GRU runs on a packed sequence), so padding a
  sentence with more ``<pad>`` changes neither its context nor the decoder's initial
  state.
* **The context is fixed.** ``Seq2SeqDecoder`` keeps the encoder's top-layer final state
  in its state tuple and concatenates it to the input at every step; the decoder's own
  hidden state never replaces it, also not when decoding one token at a time.

``MaskedSoftmaxCELoss`` is the mean cross-entropy over the real (non-padding) target
tokens of a minibatch; ``d2l_masked_loss`` is d2l 0.17's per-sentence mean over all
positions, padding included, kept for comparison. ``train_seq2seq`` trains with teacher
forcing on the shared loop ``rnncourse.loop.fit``;
``save_translator``/``load_translator`` store a model with its two vocabularies.
``Seq2SeqAttentionDecoder`` (Bahdanau et al. 2015, chapter 14) attends to every encoder
output through ``rnncourse.attention.AdditiveAttention``. Both decoders take optional
``adaptive_cutoffs``: an adaptive softmax output layer (Grave et al. 2017).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .attention import AdditiveAttention, select_lengths
from .checkpoint import load_translator, save_translator
from .checks import check_positive, check_positive_int, check_probability, check_type
from .loop import TrainConfig, fit, plot_history, show_plot
from .text import Vocab
from .utils import evaluating, place

__all__ = [
    "Encoder",
    "Decoder",
    "EncoderDecoder",
    "Seq2SeqEncoder",
    "Seq2SeqDecoder",
    "Seq2SeqAttentionDecoder",
    "build_translator",
    "sequence_mask",
    "MaskedSoftmaxCELoss",
    "d2l_masked_loss",
    "teacher_forcing_inputs",
    "seq2seq_batch_loss",
    "evaluate_loss",
    "train_seq2seq",
    "save_translator",
    "load_translator",
]

State = Any


# --------------------------------------------------------------------------- interfaces

class Encoder(nn.Module):
    """The encoder interface: ``forward(X, *args)`` reads a source minibatch ``X`` (B,
    S)."""

    def forward(self, X: torch.Tensor, *args: Any) -> Any:
        raise NotImplementedError


class Decoder(nn.Module):
    """The decoder interface: ``init_state(enc_outputs, *args)`` turns the encoder's
    outputs into the decoder's first state; ``forward(X, state)`` reads target tokens
    ``X`` (B, T) and returns ``(logits (B, T, V), new state)``;
    ``select_state(state, index)`` keeps the sentences ``index`` (1-d LongTensor) of a
    state, in that order (beam search uses it to follow the surviving hypotheses)."""

    def init_state(self, enc_outputs: Any, *args: Any) -> State:
        raise NotImplementedError

    def forward(self, X: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        raise NotImplementedError

    def select_state(self, state: State, index: torch.Tensor) -> State:
        raise NotImplementedError


class EncoderDecoder(nn.Module):
    """An encoder and a decoder: ``forward(enc_X, dec_X, *args)`` encodes ``enc_X``,
    builds the decoder's state from the encoder's outputs (and ``args``, e.g. the source
    valid lengths) and decodes ``dec_X``: returns ``(logits (B, T, V), state)``."""

    def __init__(self, encoder: Encoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X: torch.Tensor, dec_X: torch.Tensor,
                *args: Any) -> tuple[torch.Tensor, State]:
        # e.g. (outputs (S, B, H), state (L, B, H)) for Seq2SeqEncoder
        enc_outputs = self.encoder(enc_X, *args)
        # the decoder's first state, e.g. (hidden (L, B, H), context (B, H))
        state = self.decoder.init_state(enc_outputs, *args)
        return self.decoder(dec_X, state)  # (logits (B, T, V), state)


# ---------------------------------------------------------- the GRU encoder and decoder

def _check_sizes(vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int,
                 dropout: float) -> None:
    check_positive_int("vocab_size", vocab_size)
    check_positive_int("embed_size", embed_size)
    check_positive_int("num_hiddens", num_hiddens)
    check_positive_int("num_layers", num_layers)
    check_probability("dropout", dropout)


# Token ids are checked once where a minibatch enters (the encoder's forward for the
# source, seq2seq_batch_loss for the target; the searches of rnncourse.decoding check
# their source ids on the host), never in the decoder's forward: the searches call it at
# every step, and a range check there would read a value back from the device each time.

def _check_tokens(X: torch.Tensor, vocab_size: int, what: str) -> None:
    """``X`` is a (batch, num_steps) LongTensor of ids in [0, vocab_size) (one read back
    from the device)."""
    check_type(what, X, torch.Tensor)
    if X.dim() != 2 or X.dtype != torch.long:
        raise TypeError(f"{what} must be a LongTensor of token ids (batch, num_steps), "
                        f"got {X.dtype} of shape {tuple(X.shape)}")
    if X.numel():
        low, high = torch.stack((X.min(), X.max())).tolist()
        if low < 0 or high >= vocab_size:
            raise ValueError(f"{what} holds token ids outside [0, {vocab_size}): min "
                             f"{low}, max {high}; was the model built with this "
                             "vocabulary?")


def _check_valid_len(valid_len: torch.Tensor, batch_size: int, num_steps: int,
                     minimum: int = 1, need_a_token: bool = False) -> torch.Tensor:
    """``valid_len`` as a tensor, after checking its shape (batch,) and its values: in
    [minimum, num_steps] (a source has at least its <eos>) and, with ``need_a_token``,
    not all 0 (one read back from the device)."""
    valid_len = torch.as_tensor(valid_len)
    if valid_len.shape != (batch_size,):
        raise ValueError(f"valid_len must have shape (batch,) = ({batch_size},), got "
                         f"{tuple(valid_len.shape)}")
    low, high, total = (torch.stack((valid_len.min(), valid_len.max(),
                                     valid_len.sum())).tolist()
                        if valid_len.numel() else (minimum, minimum, 0))
    if low < minimum or high > num_steps:
        why = ": every sentence has at least its <eos>" if minimum == 1 else ""
        raise ValueError(f"valid lengths must lie in [{minimum}, num_steps={num_steps}]"
                         f"{why}; got min {low}, max {high}")
    if need_a_token and total == 0:
        raise ValueError("valid_len is all zeros: there is no real token to compute a "
                         "loss on")
    return valid_len


def _check_source(X: torch.Tensor, valid_len: torch.Tensor | None,
                  vocab_size: int) -> torch.Tensor | None:
    """The encoder's input: token ids and (optional) valid lengths; returns
    ``valid_len`` as a tensor."""
    _check_tokens(X, vocab_size, "the source X")
    if valid_len is None:
        return None
    return _check_valid_len(valid_len, *X.shape)


def _check_target(batch: Sequence[torch.Tensor], decoder: nn.Module) -> None:
    """The target Y (B, T) of a minibatch ``(X, X_valid_len, Y, Y_valid_len)``: ids the
    decoder knows, lengths in [0, T] with at least one real token."""
    _, _, Y, Y_valid_len = batch
    vocab_size = getattr(decoder, "vocab_size", None)
    if vocab_size is not None:
        _check_tokens(Y, vocab_size, "the target Y")
    _check_valid_len(Y_valid_len, *Y.shape, minimum=0, need_a_token=True)


def _check_enc_state(enc_state: torch.Tensor, num_layers: int,
                     num_hiddens: int) -> None:
    if enc_state.shape[0] != num_layers or enc_state.shape[2] != num_hiddens:
        raise ValueError(f"the encoder's state has shape {tuple(enc_state.shape)}: "
                         f"the decoder needs (num_layers={num_layers}, batch, "
                         f"num_hiddens={num_hiddens})")


def _check_cutoffs(adaptive_cutoffs: Sequence[int] | None,
                   vocab_size: int) -> list[int] | None:
    if adaptive_cutoffs is None:
        return None
    try:
        cutoffs = [int(c) for c in adaptive_cutoffs]
    except (TypeError, ValueError) as error:
        raise ValueError("adaptive_cutoffs must be increasing integers, got "
                         f"{adaptive_cutoffs!r}") from error
    if (not cutoffs or cutoffs != sorted(set(cutoffs)) or cutoffs[0] < 1
            or cutoffs[-1] >= vocab_size):
        raise ValueError("adaptive_cutoffs must be increasing integers in [1, "
                         f"vocab_size={vocab_size}), got {adaptive_cutoffs!r}")
    return cutoffs


class _OutputLayer(nn.Module):
    """The decoder's output layer, (..., H) -> (..., V): a full ``nn.Linear``
    (``dense``), or with ``cutoffs`` an adaptive softmax (``adaptive``,
    ``nn.AdaptiveLogSoftmaxWithLoss``, Grave et al. 2017) whose ``dense`` returns
    log-probabilities, which are valid logits. The vocabulary is sorted by frequency:
    the tokens below the first cutoff get a full-size output, rarer ones clusters of
    smaller projections (``div_value=4``), so a training step costs much less per
    token."""

    def _build_output(self, num_hiddens: int, vocab_size: int,
                      cutoffs: list[int] | None) -> None:
        if cutoffs is None:
            self.dense = nn.Linear(num_hiddens, vocab_size)
            return
        self.config["adaptive_cutoffs"] = cutoffs
        self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(num_hiddens, vocab_size, cutoffs,
                                                      div_value=4.0)
        self.dense = self._adaptive_log_probs  # (..., H) -> (..., V) log-probabilities

    def _adaptive_log_probs(self, outputs: torch.Tensor) -> torch.Tensor:
        flat = self.adaptive.log_prob(outputs.reshape(-1, outputs.shape[-1]))  # (N, V)
        return flat.reshape(*outputs.shape[:-1], flat.shape[-1])


class Seq2SeqEncoder(Encoder):
    """An embedding and a multi-layer GRU over the source tokens.

    ``forward(X (B, S), valid_len (B,) or None)`` returns ``(outputs (S, B, H), state
    (L, B, H))``. With ``valid_len`` the GRU runs on a packed sequence: ``state`` is
    each sentence's state after its last real token and ``outputs`` are zeros past it;
    without, every position is read (also the padding).
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int,
                 num_layers: int, dropout: float = 0) -> None:
        super().__init__()
        _check_sizes(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        self.config = {"vocab_size": vocab_size, "embed_size": embed_size,
                       "num_hiddens": num_hiddens, "num_layers": num_layers,
                       "dropout": float(dropout)}
        self.vocab_size, self.num_hiddens, self.num_layers = (
            vocab_size, num_hiddens, num_layers)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        # nn.GRU applies dropout between layers only: one layer has none
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers,
                          dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, X: torch.Tensor, valid_len: torch.Tensor | None = None,
                *args: Any) -> tuple[torch.Tensor, torch.Tensor]:
        valid_len = _check_source(X, valid_len, self.vocab_size)
        emb = self.embedding(X.T)  # (S, B, embed_size), time-major like nn.GRU
        if valid_len is None:
            outputs, state = self.rnn(emb)  # (S, B, H), (L, B, H): padding read too
            return outputs, state
        # (N, embed_size) packed: the N = sum(valid_len) real tokens only
        packed = nn.utils.rnn.pack_padded_sequence(emb, valid_len.cpu(),
                                                   enforce_sorted=False)
        # (N, H) packed, and state (L, B, H): after each sentence's last real token
        packed_outputs, state = self.rnn(packed)
        # (S, B, H), zeros past each sentence's end
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs,
                                                      total_length=X.shape[1])
        return outputs, state


class Seq2SeqDecoder(Decoder, _OutputLayer):
    """A multi-layer GRU decoder whose input at every step is the embedded target token
    concatenated with the context (the encoder's final top-layer state).

    The state is the tuple ``(hidden (L, B, H), context (B, H))``: ``forward`` updates
    ``hidden`` and passes ``context`` through unchanged, so decoding token by token uses
    the same context as decoding the whole target at once. ``forward(X (B, T), state)``
    returns ``(logits (B, T, V), state)``. ``adaptive_cutoffs`` (optional, e.g.
    ``(2000, 6000)``): an adaptive softmax output layer (see ``_OutputLayer``).

    ``X`` must hold ids in [0, V): the decoder does not check them, since the searches
    call it at every step; the entry points that feed it (``seq2seq_batch_loss``, the
    searches of ``rnncourse.decoding``) check them once.
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int,
                 num_layers: int, dropout: float = 0,
                 adaptive_cutoffs: Sequence[int] | None = None) -> None:
        super().__init__()
        _check_sizes(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        cutoffs = _check_cutoffs(adaptive_cutoffs, vocab_size)
        self.config = {"vocab_size": vocab_size, "embed_size": embed_size,
                       "num_hiddens": num_hiddens, "num_layers": num_layers,
                       "dropout": float(dropout)}
        self.vocab_size, self.num_hiddens, self.num_layers = (
            vocab_size, num_hiddens, num_layers)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                          dropout=dropout if num_layers > 1 else 0.0)
        self._build_output(num_hiddens, vocab_size, cutoffs)

    def init_state(self, enc_outputs: tuple[torch.Tensor, torch.Tensor],
                   *args: Any) -> State:
        _, enc_state = enc_outputs  # (L, B, H)
        _check_enc_state(enc_state, self.num_layers, self.num_hiddens)
        # (hidden (L, B, H), context (B, H)): the context is the top layer's final state
        return enc_state, enc_state[-1]

    def forward(self, X: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        outputs, state = self.features(X, state)  # (B, T, H)
        return self.dense(outputs), state  # logits (B, T, V)

    def features(self, X: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """The top layer's outputs (B, T, H) before the output layer ``dense``, and the
        state."""
        hidden, context = state  # (L, B, H), (B, H)
        emb = self.embedding(X.T)  # (T, B, embed_size)
        # (T, B, H)
        context_every_step = context.unsqueeze(0).expand(emb.shape[0], -1, -1)
        # outputs (T, B, H), hidden (L, B, H)
        outputs, hidden = self.rnn(torch.cat((emb, context_every_step), dim=2), hidden)
        return outputs.transpose(0, 1), (hidden, context)  # (B, T, H), state

    def select_state(self, state: State, index: torch.Tensor) -> State:
        hidden, context = state
        return hidden[:, index], context[index]


class Seq2SeqAttentionDecoder(Decoder, _OutputLayer):
    """A GRU decoder with additive attention (Bahdanau et al. 2015): at step t the query
    is the top layer's previous hidden state, the keys and values are the encoder's
    outputs (its padding masked out), and the attention context is concatenated to the
    embedded input token.

    The state is ``(enc_outputs (B, S, H), hidden (L, B, H), enc_valid_len (B,))``;
    ``init_state(enc_outputs, enc_valid_len)``; ``forward(X (B, T), state)`` returns
    ``(logits (B, T, V), state)``. The first hidden state is the encoder's final state.
    After each call, ``attention_weights`` (B, T, S) holds the weights of that call: for
    each sentence, one row per output step, one column per source position.
    ``adaptive_cutoffs`` (optional): an adaptive softmax output layer, as in
    ``Seq2SeqDecoder``.
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int,
                 num_layers: int, dropout: float = 0,
                 adaptive_cutoffs: Sequence[int] | None = None) -> None:
        super().__init__()
        _check_sizes(vocab_size, embed_size, num_hiddens, num_layers, dropout)
        cutoffs = _check_cutoffs(adaptive_cutoffs, vocab_size)
        self.config = {"vocab_size": vocab_size, "embed_size": embed_size,
                       "num_hiddens": num_hiddens, "num_layers": num_layers,
                       "dropout": float(dropout)}
        self.vocab_size, self.num_hiddens, self.num_layers = (
            vocab_size, num_hiddens, num_layers)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                          dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self._build_output(num_hiddens, vocab_size, cutoffs)
        self.attention_weights: torch.Tensor | None = None

    def init_state(self, enc_outputs: tuple[torch.Tensor, torch.Tensor],
                   enc_valid_len: torch.Tensor | None = None, *args: Any) -> State:
        outputs, hidden = enc_outputs  # (S, B, H), (L, B, H)
        if enc_valid_len is None:
            enc_valid_len = torch.full((outputs.shape[1],), outputs.shape[0],
                                       dtype=torch.long)
        return outputs.transpose(0, 1), hidden, enc_valid_len.to(outputs.device)

    def forward(self, X: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        outputs, state = self.features(X, state)  # (B, T, H)
        return self.dense(self.dropout(outputs)), state  # logits (B, T, V)

    def features(self, X: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """The top layer's outputs (B, T, H) before the output layer ``dense``, and the
        state."""
        enc_outputs, hidden, enc_valid_len = state  # (B, S, H), (L, B, H), (B,)
        keys = self.attention.project_keys(enc_outputs)  # (B, S, H): once for all steps
        emb = self.dropout(self.embedding(X.T))  # (T, B, embed_size)
        outputs, weights = [], []
        for x in emb:  # x: (B, embed_size)
            query = hidden[-1].unsqueeze(1)  # (B, 1, H)
            # (B, 1, H): the values are the encoder's outputs, padding weighs 0
            context = self.attention.attend(query, keys, enc_outputs, enc_valid_len)
            weights.append(self.attention.attention_weights)  # (B, 1, S)
            x_and_context = torch.cat((x, context.squeeze(1)), dim=1)  # (B, E + H)
            # out (1, B, H), hidden (L, B, H)
            out, hidden = self.rnn(x_and_context.unsqueeze(0), hidden)
            outputs.append(out)
        self.attention_weights = torch.cat(weights, dim=1)  # (B, T, S)
        return (torch.cat(outputs, dim=0).transpose(0, 1),  # (B, T, H)
                (enc_outputs, hidden, enc_valid_len))

    def select_state(self, state: State, index: torch.Tensor) -> State:
        enc_outputs, hidden, enc_valid_len = state
        # the lengths stay marked as checked: no read-back at the next step
        valid_len = select_lengths(enc_valid_len, index, enc_outputs.shape[1])
        return enc_outputs[index], hidden[:, index], valid_len


_DECODERS = {"Seq2SeqDecoder": Seq2SeqDecoder,
             "Seq2SeqAttentionDecoder": Seq2SeqAttentionDecoder}


def build_translator(src_vocab_size: int, tgt_vocab_size: int, embed_size: int,
                     num_hiddens: int, num_layers: int, dropout: float = 0,
                     attention: bool = False,
                     adaptive_cutoffs: Sequence[int] | None = None) -> EncoderDecoder:
    """A ``Seq2SeqEncoder`` and a ``Seq2SeqDecoder`` (or, with ``attention=True``, a
    ``Seq2SeqAttentionDecoder``) of the same sizes, in an ``EncoderDecoder``; either
    decoder optionally with an adaptive softmax (``adaptive_cutoffs``)."""
    encoder = Seq2SeqEncoder(src_vocab_size, embed_size, num_hiddens, num_layers,
                             dropout)
    decoder_class = Seq2SeqAttentionDecoder if attention else Seq2SeqDecoder
    decoder = decoder_class(tgt_vocab_size, embed_size, num_hiddens, num_layers,
                            dropout, adaptive_cutoffs)
    return EncoderDecoder(encoder, decoder)


# ---------------------------------------------------------------------- the masked loss

def sequence_mask(X: torch.Tensor, valid_len: torch.Tensor,
                  value: float = 0) -> torch.Tensor:
    """A copy of ``X`` (B, T, ...) with the entries at positions ``t >= valid_len[b]``
    of each row ``b`` set to ``value``:
    ``sequence_mask([[1, 2, 3], [4, 5, 6]], [1, 2])`` is ``[[1, 0, 0], [4, 5, 0]]``."""
    if not isinstance(X, torch.Tensor) or X.dim() < 2:
        raise ValueError(
            "X must be a tensor of at least 2 dimensions (batch, num_steps, ...), got "
            f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
    valid_len = torch.as_tensor(valid_len, device=X.device)
    if valid_len.shape != (X.shape[0],):
        raise ValueError(f"valid_len must have shape (batch,) = ({X.shape[0]},), got "
                         f"{tuple(valid_len.shape)}")
    if valid_len.numel() and int(valid_len.min()) < 0:
        raise ValueError(f"valid lengths cannot be negative, got {valid_len.tolist()}")
    # (B, T)
    keep = torch.arange(X.shape[1], device=X.device)[None, :] < valid_len[:, None]
    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))
    return torch.where(keep, X, torch.as_tensor(value, dtype=X.dtype, device=X.device))


def _check_loss_args(pred: torch.Tensor, label: torch.Tensor, valid_len: torch.Tensor,
                     *, need_a_token: bool = False) -> torch.Tensor:
    """``valid_len`` as a tensor on ``pred``'s device, after checking the shapes and the
    lengths (in [0, num_steps]; with ``need_a_token``, not all 0)."""
    check_type("pred", pred, torch.Tensor)
    check_type("label", label, torch.Tensor)
    if pred.dim() != 3:
        raise ValueError("pred must be logits of shape (batch, num_steps, vocab_size), "
                         f"got {tuple(pred.shape)}")
    if label.shape != pred.shape[:2]:
        raise ValueError("label must have shape (batch, num_steps) = "
                         f"{tuple(pred.shape[:2])}, got {tuple(label.shape)}")
    valid_len = torch.as_tensor(valid_len, device=pred.device)
    return _check_valid_len(valid_len, *label.shape, minimum=0,
                            need_a_token=need_a_token)


class MaskedSoftmaxCELoss(nn.Module):
    """``loss(pred (B, T, V), label (B, T), valid_len (B,))``: the mean cross-entropy
    over the real tokens of the minibatch, Σ_b Σ_{t < valid_len[b]} CE / Σ_b
    valid_len[b] (a 0-d tensor). Every real token weighs the same; padding weighs
    nothing; the value is a cross-entropy per token whatever the minibatch."""

    def forward(self, pred: torch.Tensor, label: torch.Tensor,
                valid_len: torch.Tensor) -> torch.Tensor:
        valid_len = _check_loss_args(pred, label, valid_len, need_a_token=True)
        num_tokens = valid_len.sum()  # () the real tokens of the minibatch
        # (B, T): cross_entropy wants the classes on axis 1
        per_token = F.cross_entropy(pred.transpose(1, 2), label, reduction="none")
        return sequence_mask(per_token, valid_len).sum() / num_tokens  # ()


def d2l_masked_loss(pred: torch.Tensor, label: torch.Tensor,
                    valid_len: torch.Tensor) -> torch.Tensor:
    """d2l 0.17's masked loss, for comparison: per sentence, the cross-entropy of its
    real tokens summed and divided by ``num_steps`` (padding counted in the
    denominator): a (B,) tensor. d2l's loop backpropagates its sum, in which every real
    token weighs 1/num_steps: the sum is ``MaskedSoftmaxCELoss`` times N / num_steps
    for N real tokens, so its scale varies with each minibatch's share of real tokens,
    and the value d2l prints (the sum over an epoch divided by the number of tokens)
    is the cross-entropy per token divided by num_steps."""
    valid_len = _check_loss_args(pred, label, valid_len)
    per_token = F.cross_entropy(pred.transpose(1, 2), label, reduction="none")  # (B, T)
    return sequence_mask(per_token, valid_len).mean(dim=1)


# --------------------------------------------------------------------------- training

def teacher_forcing_inputs(Y: torch.Tensor, bos: int) -> torch.Tensor:
    """The decoder's input under teacher forcing: ``<bos>`` followed by the target
    without its last token, (B, T) -> (B, T); the decoder learns to predict ``Y[:, t]``
    from ``Y[:, :t]``."""
    bos_column = torch.full((Y.shape[0], 1), bos, dtype=Y.dtype, device=Y.device)
    return torch.cat((bos_column, Y[:, :-1]), dim=1)


def seq2seq_batch_loss(net: EncoderDecoder, batch: Sequence[torch.Tensor], bos: int,
                       device: torch.device,
                       loss_fn: nn.Module | None = None) -> tuple[torch.Tensor, int]:
    """One minibatch ``(X, X_valid_len, Y, Y_valid_len)``: the masked mean cross-entropy
    of the decoder's predictions under teacher forcing, and the number of real target
    tokens. ``loss_fn(logits, Y, Y_valid_len)`` (optional) replaces the masked mean."""
    _check_target(batch, net.decoder)  # once per minibatch, before the copy
    X, X_valid_len, Y, Y_valid_len = (t.to(device, non_blocking=True) for t in batch)
    dec_X = teacher_forcing_inputs(Y, bos)
    num_tokens = int(Y_valid_len.sum())
    if loss_fn is not None or not hasattr(net.decoder, "features"):
        logits, _ = net(X, dec_X, X_valid_len)  # (B, T, V) everywhere, then the mask
        return (loss_fn or MaskedSoftmaxCELoss())(logits, Y, Y_valid_len), num_tokens
    # The same loss, faster: the output layer (the costliest part, H x V per token) runs
    # on the real target tokens only, not on the padding that the mask would discard.
    state = net.decoder.init_state(net.encoder(X, X_valid_len), X_valid_len)
    outputs, _ = net.decoder.features(dec_X, state)  # (B, T, H)
    # (B, T)
    real = torch.arange(Y.shape[1], device=Y.device)[None, :] < Y_valid_len[:, None]
    features = _maybe_dropout(net.decoder, outputs[real])  # (N, H), N real tokens
    if hasattr(net.decoder, "adaptive"):  # adaptive softmax: its own mean NLL
        return net.decoder.adaptive(features, Y[real]).loss, num_tokens
    logits = net.decoder.dense(features)  # (N, V)
    return F.cross_entropy(logits, Y[real]), num_tokens


def _maybe_dropout(decoder: nn.Module, outputs: torch.Tensor) -> torch.Tensor:
    """The dropout the decoder applies before its output layer, if it has one."""
    dropout = getattr(decoder, "dropout", None)
    return dropout(outputs) if isinstance(dropout, nn.Module) else outputs


def _check_translator_vocab(net: nn.Module, tgt_vocab: Vocab) -> None:
    check_type("tgt_vocab", tgt_vocab, Vocab)
    for token in ("<pad>", "<bos>", "<eos>"):
        if token not in tgt_vocab:
            raise ValueError(f"the target vocabulary has no {token!r}: build it with "
                             "reserved_tokens ['<pad>', '<bos>', '<eos>'] "
                             "(rnncourse.translation.nmt_vocabs does)")
    decoder = getattr(net, "decoder", None)
    size = getattr(decoder, "vocab_size", None)
    if size is not None and size != len(tgt_vocab):
        raise ValueError(f"the decoder predicts {size} tokens but the target "
                         f"vocabulary has {len(tgt_vocab)}: build the model with "
                         "len(tgt_vocab)")


def evaluate_loss(net: EncoderDecoder, data_iter: Iterable, tgt_vocab: Vocab,
                  device: str | torch.device | None = None) -> float:
    """Mean cross-entropy per real target token of ``net`` on ``data_iter`` (teacher
    forcing, eval mode, no gradients); the net's mode is restored afterwards."""
    _check_translator_vocab(net, tgt_vocab)
    device = place(net, device)
    total, tokens = 0.0, 0
    with evaluating(net):
        for batch in data_iter:
            loss, n = seq2seq_batch_loss(net, batch, tgt_vocab["<bos>"], device)
            total += float(loss) * n
            tokens += n
    if tokens == 0:
        raise ValueError("the data iterator yielded no minibatches: nothing to "
                         "evaluate")
    return total / tokens


def _check_train_args(net: nn.Module, lr: Any, tgt_vocab: Vocab,
                      optimizer: Any) -> None:
    """``train_seq2seq``'s own arguments (``fit`` checks the rest: ``num_epochs``,
    ``theta``, the optimizer, the config)."""
    if optimizer is None:
        check_positive("lr", lr)
    _check_translator_vocab(net, tgt_vocab)


def train_seq2seq(net: EncoderDecoder, data_iter: Iterable, lr: float | None,
                  num_epochs: int, tgt_vocab: Vocab,
                  device: str | torch.device | None = None, *,
                  optimizer: torch.optim.Optimizer | None = None,
                  theta: float | None = 1.0, valid_iter: Iterable | None = None,
                  config: TrainConfig | None = None) -> dict:
    """Train an encoder–decoder on minibatches ``(X, X_valid_len, Y, Y_valid_len)`` with
    teacher forcing (the decoder reads ``<bos>`` + ``Y`` without its last token) and the
    masked loss, on the shared loop ``rnncourse.loop.fit``.

    * **optimizer**: Adam with learning rate ``lr`` by default, or pass one (then ``lr``
      may be None).
    * **clipping**: global gradient norm at most ``theta`` (``None``: off).
    * **validation** (optional): ``valid_iter`` scores the mean cross-entropy per target
      token (``evaluate_loss``) every ``config.valid_every`` epochs. For another
      "lower is better" number (e.g. minus a validation BLEU) call ``fit`` with
      ``seq2seq_batch_loss`` and your ``evaluate``.
    * **config**: a ``TrainConfig`` (``keep_best``, ``patience``, ``max_seconds``,
      ``lr_schedule``, ``on_epoch_end``, ``progress``, ``plot``...).
    * **device**: ``None`` trains where the net is; a device moves the net there.

    Returns ``fit``'s history dict (``loss`` per epoch is the mean training
    cross-entropy per target token; ``valid``, ``best_epoch`` with validation;
    ``tokens`` counts target tokens, ``tokens_per_sec``, ``seconds``, ``stopped``, ...).
    """
    config = TrainConfig() if config is None else config
    _check_train_args(net, lr, tgt_vocab, optimizer)
    device = place(net, device)
    if optimizer is None:
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    bos = tgt_vocab["<bos>"]

    def evaluate() -> float:
        return evaluate_loss(net, valid_iter, tgt_vocab, device)

    def batch_loss(batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, int]:
        return seq2seq_batch_loss(net, batch, bos, device)

    history = fit(net, data_iter, batch_loss, num_epochs, optimizer, theta=theta,
                  evaluate=evaluate if valid_iter is not None else None, config=config,
                  desc="seq2seq")
    if show_plot(config.plot):
        plot_history(history, metric="loss", ylabel="cross-entropy per token")
    return history


# ------------------------------------------------------------------------ save and load

def _check_translator(net: nn.Module, src_vocab: Vocab, tgt_vocab: Vocab) -> None:
    """What ``save_translator`` can save: this module's classes, and vocabularies that
    fit them."""
    if (not isinstance(net, EncoderDecoder)
            or not isinstance(net.encoder, Seq2SeqEncoder)
            or type(net.decoder).__name__ not in _DECODERS):
        raise TypeError("save_translator saves an EncoderDecoder of a Seq2SeqEncoder "
                        "and a Seq2SeqDecoder or Seq2SeqAttentionDecoder, got "
                        f"{type(net).__name__}")
    check_type("src_vocab", src_vocab, Vocab)
    _check_translator_vocab(net, tgt_vocab)
    if net.encoder.vocab_size != len(src_vocab):
        raise ValueError(f"the encoder reads {net.encoder.vocab_size} tokens but the "
                         f"source vocabulary has {len(src_vocab)}")
