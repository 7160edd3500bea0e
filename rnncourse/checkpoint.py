"""Checkpoints: trained language models and translators in files, and back.

One file format for both: a plain dict written by ``torch.save`` (a ``format`` tag, a
``version``, what it takes to rebuild the model, its ``state_dict`` on the CPU, the
vocabularies, and plain ``extra`` data such as the history), read back with
``torch.load(weights_only=True)``, so that a file cannot run code. One error,
``CheckpointError`` (a ``ValueError``), names the file and says why it cannot be read.

* language models of ``rnncourse.models``: ``save_checkpoint`` / ``load_checkpoint``
  (also importable from ``rnncourse.train``);
* translators of ``rnncourse.seq2seq``: ``save_translator`` / ``load_translator``
  (also importable from ``rnncourse.seq2seq``).
"""
from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from .checks import check_type
from .text import Vocab

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "save_translator",
           "load_translator", "is_plain"]

_LM_FORMAT = "rnncourse-checkpoint"
_TRANSLATOR_FORMAT = "rnncourse-translator"
# what each format holds, and who writes and reads it
_KINDS = {
    _LM_FORMAT: ("checkpoint", "save_checkpoint",
                 "a language-model checkpoint (use rnncourse.train.load_checkpoint)",
                 ("model", "state_dict", "vocab", "extra")),
    _TRANSLATOR_FORMAT: ("translator", "save_translator",
                         "a translator (use rnncourse.seq2seq.load_translator)",
                         ("encoder", "decoder_class", "decoder", "state_dict",
                          "src_vocab", "tgt_vocab", "extra")),
}


class CheckpointError(ValueError):
    """A file that is not a readable rnncourse checkpoint or translator (empty,
    truncated, not written by ``torch.save``, or not by ``save_checkpoint`` /
    ``save_translator``); the message names the file and says why."""


# ----------------------------------------------------------------------- plain data

_PLAIN_TYPES = (str, int, float, bool, type(None), torch.Tensor)


def _check_plain(value: Any, where: str) -> None:
    """Checkpoints hold plain data only, so that ``torch.load(weights_only=True)`` can
    read them."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: dictionary keys must be strings or "
                                f"integers, got {type(key).__name__}")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN_TYPES):
        raise TypeError(f"{where} is a {type(value).__name__}: checkpoints store plain "
                        "data only (dict, list, tuple, str, int, float, bool, None, "
                        "tensors), so that they load with weights_only=True")


def is_plain(value: Any) -> bool:
    """Whether ``value`` is plain data that a checkpoint can hold."""
    try:
        _check_plain(value, "value")
    except TypeError:
        return False
    return True


def _vocab_dict(vocab: Vocab) -> dict:
    return {"idx_to_token": list(vocab.idx_to_token),
            "token_freqs": [[token, int(count)] for token, count in vocab.token_freqs]}


def _vocab_from_dict(data: dict) -> Vocab:
    vocab = Vocab()  # just "<unk>"; then the saved tokens, in their saved order
    vocab.idx_to_token = list(data["idx_to_token"])
    vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
    vocab.token_freqs = [(token, int(count)) for token, count in data["token_freqs"]]
    return vocab


def _cpu_state_dict(net: nn.Module) -> dict:
    return {name: t.detach().cpu() for name, t in net.state_dict().items()}


# ----------------------------------------------------------------------- reading

_ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def _describe(error: Exception) -> str:
    """``"Type: first line of the message"``, short enough for a one-line error."""
    lines = str(error).strip().splitlines()
    return (f"{type(error).__name__}: {lines[0][:200]}" if lines
            else type(error).__name__)


def _read(path: str, file_format: str) -> dict:
    """The dict of ``file_format`` written to ``path``, or ``CheckpointError`` saying
    why not (``FileNotFoundError`` for a missing file)."""
    noun, writer, _, entries = _KINDS[file_format]

    def bad(reason: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a readable rnncourse {noun}: {reason}")

    if not os.path.exists(path):
        raise FileNotFoundError(f"no {noun} file {path}: no such file or directory")
    if os.path.isdir(path):
        raise bad(f"it is a directory, not a file written by {writer}")
    with open(path, "rb") as file:
        head = file.read(len(_ZIP_MAGIC))
    if not head:
        raise bad("the file is empty (0 bytes)")
    if head != _ZIP_MAGIC:
        raise bad(f"it was not written by torch.save (it starts with {head!r}, not a "
                  f"zip archive's {_ZIP_MAGIC!r})")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    # torch raises RuntimeError, OSError, EOFError, UnpicklingError... for bad files
    except Exception as error:
        raise bad("torch.load cannot read it; it may be truncated or damaged "
                  f"({_describe(error)})") from error
    found = saved.get("format") if isinstance(saved, dict) else None
    if found != file_format:
        other = _KINDS.get(found, (None, None, None))[2] if found else None
        raise bad(f"it is {other}" if other else
                  f"it is a torch.save file, but not one written by {writer} (no "
                  f"'format': {file_format!r} entry)")
    missing = [key for key in entries if key not in saved]
    if missing:
        raise bad(f"it lacks the entries {missing}")
    return saved


# ----------------------------------------------------------------- language models

def _model_config(net: nn.Module) -> dict:
    """What it takes to rebuild ``net``: its class and constructor arguments."""
    from . import models

    if isinstance(net, models.RNNModelScratch):
        # every cell of the stack was built with the same cell_kwargs
        first_cell = net.rnn.cells[0]
        cell_kwargs = {"rnn": ("bptt", "bptt_k", "bptt_pi"), "gru": ("reset_after",),
                       "lstm": ()}[net.cell]
        return {"class": "RNNModelScratch",
                "kwargs": {"vocab_size": net.vocab_size, "num_hiddens": net.num_hiddens,
                           "cell": net.cell, "num_layers": net.num_layers,
                           "bidirectional": net.num_directions == 2,
                           "dropout": float(net.rnn.dropout),
                           **{name: getattr(first_cell, name) for name in cell_kwargs}}}
    if isinstance(net, models.RNNModel):
        layer = net.rnn
        layer_kwargs = {"input_size": layer.input_size,
                        "hidden_size": layer.hidden_size,
                        "num_layers": layer.num_layers, "bias": layer.bias,
                        "dropout": float(layer.dropout),
                        "bidirectional": layer.bidirectional}
        if isinstance(layer, nn.RNN):
            layer_kwargs["nonlinearity"] = layer.nonlinearity
        return {"class": "RNNModel", "layer": type(layer).__name__,
                "layer_kwargs": layer_kwargs, "kwargs": {"vocab_size": net.vocab_size}}
    raise TypeError("save_checkpoint saves the language models of rnncourse.models "
                    f"(RNNModelScratch, RNNModel), got {type(net).__name__}")


def _build_model(config: dict) -> nn.Module:
    from . import models

    if config["class"] == "RNNModelScratch":
        return models.RNNModelScratch(**config["kwargs"])
    if config["class"] == "RNNModel":
        layers = {"RNN": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}
        return models.RNNModel(layers[config["layer"]](**config["layer_kwargs"]),
                               **config["kwargs"])
    raise ValueError(f"the checkpoint holds an unknown model class {config['class']!r}")


def save_checkpoint(path: str | os.PathLike, net: nn.Module, vocab: Vocab,
                    **extra: Any) -> None:
    """Save a trained language model together with its vocabulary (and any plain
    ``extra`` data, such as the training history) to ``path``.

    The file is a plain dict written by ``torch.save``: the model's class and
    constructor arguments, its ``state_dict`` (moved to the CPU), the vocabulary's
    tokens and counts, and ``extra``. ``load_checkpoint`` rebuilds the model from it.
    """
    from .train import _check_vocab

    check_type("vocab", vocab, Vocab)
    _check_vocab(net, vocab)
    _check_plain(extra, "extra")
    torch.save({"format": _LM_FORMAT, "version": 1, "model": _model_config(net),
                "state_dict": _cpu_state_dict(net), "vocab": _vocab_dict(vocab),
                "extra": extra}, path)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None,
                    with_extra: bool = False) -> tuple:
    """Rebuild the model and vocabulary saved by ``save_checkpoint``: returns
    ``(net, vocab)``, or ``(net, vocab, extra)`` with ``with_extra=True``.

    The net is on ``device`` (default: the CPU) and in training mode, like a freshly
    built module (``predict`` and ``evaluate_perplexity`` switch to eval mode by
    themselves). Reads with ``torch.load(weights_only=True)``: a checkpoint cannot run
    code.

    Raises ``FileNotFoundError`` for a missing file and ``CheckpointError`` (a
    ``ValueError``) naming the file for one that is not a readable checkpoint: empty,
    truncated, not written by ``torch.save``, or not by ``save_checkpoint``.
    """
    path = os.fspath(path)
    saved = _read(path, _LM_FORMAT)
    try:
        net = _build_model(saved["model"])
        net.load_state_dict(saved["state_dict"])
        vocab = _vocab_from_dict(saved["vocab"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a readable rnncourse checkpoint: its "
                              "model or vocabulary entry is damaged "
                              f"({_describe(error)})") from error
    if device is not None:
        net.to(device)
    return (net, vocab, saved["extra"]) if with_extra else (net, vocab)


# --------------------------------------------------------------------- translators

def save_translator(path: str | os.PathLike, net: nn.Module, src_vocab: Vocab,
                    tgt_vocab: Vocab, **extra: Any) -> None:
    """Save an encoder–decoder built from ``rnncourse.seq2seq``'s classes with its
    source and target vocabularies (and plain ``extra`` data, e.g. ``num_steps`` or the
    history) to ``path``: a plain dict written by ``torch.save`` that
    ``load_translator`` reads with ``weights_only=True`` (a translator file cannot run
    code)."""
    from .seq2seq import _check_translator

    _check_translator(net, src_vocab, tgt_vocab)
    _check_plain(extra, "extra")
    torch.save({"format": _TRANSLATOR_FORMAT, "version": 1,
                "encoder": dict(net.encoder.config),
                "decoder_class": type(net.decoder).__name__,
                "decoder": dict(net.decoder.config),
                "state_dict": _cpu_state_dict(net),
                "src_vocab": _vocab_dict(src_vocab),
                "tgt_vocab": _vocab_dict(tgt_vocab),
                "extra": extra}, path)


def load_translator(path: str | os.PathLike, device: str | torch.device | None = None,
                    with_extra: bool = False) -> tuple:
    """Rebuild what ``save_translator`` saved: ``(net, src_vocab, tgt_vocab)``, or
    ``(net, src_vocab, tgt_vocab, extra)`` with ``with_extra=True``. The net is on
    ``device`` (default: the CPU), in eval mode (ready to translate, as before).
    Raises ``FileNotFoundError`` for a
    missing file and ``CheckpointError`` (a ``ValueError``) naming the file for one
    that is not a readable translator."""
    from .seq2seq import _DECODERS, EncoderDecoder, Seq2SeqEncoder

    path = os.fspath(path)
    saved = _read(path, _TRANSLATOR_FORMAT)
    try:
        if saved["version"] != 1 or saved["decoder_class"] not in _DECODERS:
            raise ValueError(f"unsupported version {saved['version']!r} or decoder "
                             f"{saved['decoder_class']!r}")
        net = EncoderDecoder(Seq2SeqEncoder(**saved["encoder"]),
                             _DECODERS[saved["decoder_class"]](**saved["decoder"]))
        net.load_state_dict(saved["state_dict"])
        src_vocab = _vocab_from_dict(saved["src_vocab"])
        tgt_vocab = _vocab_from_dict(saved["tgt_vocab"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a readable rnncourse translator: its "
                              "model or vocabulary entry is damaged "
                              f"({_describe(error)})") from error
    net.train(False)  # a loaded translator is for translating: no dropout
    if device is not None:
        net.to(device)
    return ((net, src_vocab, tgt_vocab, saved["extra"]) if with_extra
            else (net, src_vocab, tgt_vocab))
