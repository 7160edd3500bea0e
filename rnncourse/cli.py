"""The command line: ``rnncourse`` (the console script) or ``python -m rnncourse``.

A thin layer over the package, for training, sampling and evaluating from a terminal::

    rnncourse train --corpus time_machine --model lstm --minutes 3 --out lstm.pt
    rnncourse generate lstm.pt --prefix "time traveller" --len 100
    rnncourse evaluate lstm.pt --split test
    rnncourse data                       # the corpora: where each is looked for, and
                                         # its state
    rnncourse data fetch jay_lyrics
    rnncourse train-translator --minutes 5 --out mt.pt
    rnncourse translate mt.pt "i am home ." --beam 4

``train`` splits the corpus as every chapter does
(``rnncourse.ngram.train_valid_test_split``: the first 81 % to train on, the next 9 % to
validate on, the last 10 % to test on), trains with ``rnncourse.train.train_lm``
(sequential minibatches, gradient clipping, validation perplexity after every epoch,
early stopping with the best weights kept) and saves a checkpoint
(``rnncourse.train.save_checkpoint``) with the weights, the vocabulary, the model's
configuration, the corpus and split, and the training history. ``evaluate`` reads the
corpus and split back from the checkpoint and compares the model with the best
Laplace-smoothed n-gram on the same split (``rnncourse.ngram.laplace_table``).

Exit status: 0 on success, 2 on a usage error (argparse), 1 on a data or checkpoint
error (a one-line message on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib
import shlex
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "build_parser", "CliError", "eval_batches", "CORPORA",
           "DEFAULT_PREFIX"]

#: the corpora ``train`` knows, each read at the character level
CORPORA = ("time_machine", "jay_lyrics")
#: the prefix ``generate`` starts from when none is given, per corpus
DEFAULT_PREFIX = {"time_machine": "time traveller", "jay_lyrics": "分开"}
MODELS = ("rnn", "gru", "lstm")
# train_valid_test_split's defaults, the book's split
SPLIT = {"valid_frac": 0.1, "test_frac": 0.1}
# evaluation streams per split, as in benchmarks/lm_quality.py
EVAL_ROWS = {"valid": 8, "test": 1}
# characters per evaluation minibatch; the state is carried across them
EVAL_CHUNK = 500
DEFAULT_LR = {"adam": 5e-3, "sgd": 1.0}


class CliError(Exception):
    """A data or checkpoint problem, reported as one line and exit status 1."""


# --------------------------------------------------------------------------- helpers


class _SequentialBatches(list):
    """A list of (X, Y) minibatches that read the text in order: the state is
    carried."""

    use_random_iter = False


def eval_batches(tokens: Sequence[int], rows: int, chunk: int = EVAL_CHUNK) -> list:
    """Minibatches (X, Y), each (rows, <= chunk), that read ``tokens`` as ``rows``
    contiguous streams in order, with no random offset: for evaluation with the state
    carried across minibatches (the list has ``use_random_iter = False``). With L =
    (len(tokens) - 1) // rows, row r predicts tokens r·L + 1, ..., r·L + L; with rows=1
    every token but the first.
    """
    import torch

    length = (len(tokens) - 1) // rows
    if length < 1:
        raise ValueError(f"{len(tokens)} tokens are too few for {rows} evaluation "
                         "streams")
    data = torch.tensor(list(tokens[:rows * length + 1]), dtype=torch.long)
    X = data[:-1].reshape(rows, length)  # (rows, L)
    Y = data[1:].reshape(rows, length)
    return _SequentialBatches((X[:, i:i + chunk], Y[:, i:i + chunk])
                              for i in range(0, length, chunk))


def _load_corpus(name: str) -> tuple[list[int], Any]:
    """Character ids of the whole corpus and its vocabulary (built on the whole
    text)."""
    from .text import load_corpus_jay_lyrics, load_corpus_time_machine

    if name == "time_machine":
        return load_corpus_time_machine(-1, token="char")
    if name == "jay_lyrics":
        return load_corpus_jay_lyrics(-1)
    raise CliError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)}")


def _build_model(cell: str, scratch: bool, vocab_size: int, hidden: int, layers: int,
                 dropout: float):
    from torch import nn

    from .models import RNNModel, RNNModelScratch

    if scratch:
        return RNNModelScratch(vocab_size, hidden, cell=cell, num_layers=layers,
                               dropout=dropout)
    layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
    return RNNModel(layer(vocab_size, hidden, num_layers=layers, dropout=dropout),
                    vocab_size)


def _device(name: str | None):
    import torch

    from .utils import try_gpu

    if name is None:
        return try_gpu()
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise CliError(f"--device {name!r}: {exc}") from None


def _check_file(path: str) -> None:
    """Before importing torch (seconds): is there a file at all?"""
    if not os.path.exists(path):
        raise CliError(f"no such checkpoint file: {path}")
    if os.path.isdir(path):
        raise CliError(f"{path} is a folder, not a checkpoint file")


def _load(path: str, device=None) -> tuple[Any, Any, dict]:
    """``load_checkpoint(path, with_extra=True)``, every failure as one ``CliError``."""
    _check_file(path)
    from .train import load_checkpoint

    try:
        net, vocab, extra = load_checkpoint(path, device=device, with_extra=True)
    # whatever torch.load raises on a damaged file: name the file, say why
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if os.fspath(path) in reason:
            raise CliError(reason) from None
        raise CliError(f"{path} is not a readable rnncourse checkpoint "
                       f"({type(exc).__name__}: {reason})") from None
    return net, vocab, extra if isinstance(extra, dict) else {}


def _recorded(extra: dict, path: str) -> dict:
    """The corpus and split that ``rnncourse train`` recorded in the checkpoint."""
    data = extra.get("data")
    if not isinstance(data, dict) or data.get("corpus") not in CORPORA:
        raise CliError(f"{path} does not record its corpus and split (it was not "
                       "written by `rnncourse train`): evaluate it in Python with "
                       "rnncourse.train.evaluate_perplexity")
    return data


def _split(data: dict, path: str) -> tuple[list[int], list[int], list[int], Any]:
    from .ngram import train_valid_test_split

    corpus, vocab = _load_corpus(data["corpus"])
    if data.get("vocab_size") is not None and data["vocab_size"] != len(vocab):
        raise CliError(f"{path} was trained on a {data['corpus']} corpus with "
                       f"{data['vocab_size']} tokens in its vocabulary, but the corpus "
                       f"read now has {len(vocab)}: a different version of the data")
    train, valid, test = train_valid_test_split(
        corpus, data.get("valid_frac", SPLIT["valid_frac"]),
        data.get("test_frac", SPLIT["test_frac"]))
    return train, valid, test, vocab


def _plain_history(history: dict) -> dict:
    """The entries of the history that are plain data (what ``save_checkpoint``
    accepts)."""
    from .checkpoint import is_plain

    return {key: value for key, value in history.items() if is_plain(value)}


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


# --------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    out = pathlib.Path(args.out)
    # fail before training (and before importing torch), not after
    if not out.parent.is_dir():
        raise CliError(f"--out {args.out}: the folder {out.parent} does not exist")
    if out.is_dir():
        raise CliError(f"--out {args.out} is a folder: give a file name, e.g. "
                       f"{out / 'model.pt'}")
    import torch

    from .ngram import train_valid_test_split
    from .sampling import SeqDataLoader
    from .train import PlainSGD, TrainConfig, save_checkpoint, train_lm
    from .utils import set_seed

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = _device(args.device)
    set_seed(args.seed)

    corpus, vocab = _load_corpus(args.corpus)
    train, valid, test = train_valid_test_split(corpus, **SPLIT)
    print(f"{args.corpus}: {len(corpus):,} characters, vocabulary {len(vocab)}; "
          f"train {len(train):,} / valid {len(valid):,} / test {len(test):,}",
          flush=True)
    train_iter = SeqDataLoader(train, args.batch, args.steps, use_random_iter=False)
    valid_iter = eval_batches(valid, EVAL_ROWS["valid"])

    net = _build_model(args.model, args.scratch, len(vocab), args.hidden, args.layers,
                       args.dropout).to(device)
    num_params = sum(p.numel() for p in net.parameters())
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    else:
        optimizer = PlainSGD(net.parameters(), lr=lr)
    schedule = (None if args.lr_decay == 1.0
                else (lambda epoch: lr * args.lr_decay ** (epoch - 1)))
    num_epochs = (args.epochs if args.epochs is not None
                  else (1000 if args.minutes is not None else 20))
    max_seconds = None if args.minutes is None else 60.0 * args.minutes
    kind = "scratch" if args.scratch else "torch.nn"
    budget = f"{num_epochs} epochs" + ("" if max_seconds is None
                                       else f" or {_fmt_seconds(max_seconds)}")
    print(f"model: {args.layers}-layer {args.model.upper()} ({kind}), {args.hidden} "
          f"hidden units, {num_params:,} parameters, on {device}; {args.optimizer} "
          f"lr={lr:g}, at most {budget}", flush=True)

    config = TrainConfig(keep_best=True, patience=args.patience,
                         max_seconds=max_seconds, lr_schedule=schedule,
                         progress=not args.quiet)
    history = train_lm(net, train_iter, vocab, lr=None, num_epochs=num_epochs,
                       device=device, theta=args.clip, valid_iter=valid_iter,
                       optimizer=optimizer, config=config)

    print(f"{'epoch':>5} {'train ppl':>10} {'valid ppl':>10} {'lr':>9} {'seconds':>8}")
    valid_at = dict(zip(history["valid_epochs"], history["valid_perplexity"]))
    for epoch, (ppl, lr_e, sec) in enumerate(zip(history["perplexity"], history["lr"],
                                                 history["epoch_seconds"]),
                                             start=1):
        valid_ppl = valid_at.get(epoch)
        mark = " *" if epoch == history["best_epoch"] else ""
        print(f"{epoch:>5} {ppl:>10.3f} "
              f"{'' if valid_ppl is None else f'{valid_ppl:.3f}':>10} {lr_e:>9.3g} "
              f"{sec:>8.1f}{mark}")
    stopped = {None: "ran all epochs",
               "patience": "stopped early: no better validation perplexity in "
                           f"{args.patience} epochs",
               "max_seconds": "stopped at the time budget"}.get(history["stopped"],
                                                                history["stopped"])
    print(f"best validation perplexity {history['best_valid_perplexity']:.3f} at epoch "
          f"{history['best_epoch']} (* above; its weights are kept); {stopped}; "
          f"{history['tokens_per_sec']:,.0f} characters/s, "
          f"{_fmt_seconds(history['wall_seconds'])} in all", flush=True)

    config = {"model": args.model, "scratch": args.scratch, "hidden": args.hidden,
              "layers": args.layers, "dropout": args.dropout, "steps": args.steps,
              "batch": args.batch, "epochs": num_epochs, "minutes": args.minutes,
              "lr": lr, "lr_decay": args.lr_decay, "optimizer": args.optimizer,
              "clip": args.clip, "patience": args.patience, "seed": args.seed}
    data = {"corpus": args.corpus, "token": "char", "vocab_size": len(vocab), **SPLIT,
            "split": "rnncourse.ngram.train_valid_test_split",
            "eval_rows": dict(EVAL_ROWS), "eval_chunk": EVAL_CHUNK}
    try:
        save_checkpoint(out, net, vocab, data=data, config=config,
                        history=_plain_history(history),
                        command=shlex.join(["rnncourse", *sys.argv[1:]]),
                        device=str(device))
    except OSError as exc:
        raise CliError(f"cannot write the checkpoint {args.out}: "
                       f"{exc.strerror or exc}") from None
    print(f"saved {out} (weights, vocabulary, configuration, history)")
    return 0


# --------------------------------------------------------------------------- generate


def cmd_generate(args: argparse.Namespace) -> int:
    _check_file(args.checkpoint)
    from .generate import predict
    from .utils import set_seed

    device = _device(args.device)
    net, vocab, extra = _load(args.checkpoint, device)
    data = extra.get("data") if isinstance(extra.get("data"), dict) else {}
    prefix = (args.prefix if args.prefix is not None
              else DEFAULT_PREFIX.get(data.get("corpus"), None))
    if prefix is None:
        raise CliError(f"{args.checkpoint} does not record its corpus: give a --prefix")
    set_seed(args.seed)
    text = predict(prefix, args.len, net, vocab, device, temperature=args.temperature,
                   top_k=args.top_k, token=data.get("token", "char"))
    print(text)
    return 0


# --------------------------------------------------------------------------- evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    _check_file(args.checkpoint)
    from .ngram import laplace_table
    from .train import evaluate_perplexity

    device = _device(args.device)
    net, vocab, extra = _load(args.checkpoint, device)
    data = _recorded(extra, args.checkpoint)
    train, valid, test, corpus_vocab = _split(data, args.checkpoint)
    if list(corpus_vocab.idx_to_token) != list(vocab.idx_to_token):
        raise CliError(f"{args.checkpoint}: its vocabulary differs from that of the "
                       f"{data['corpus']} corpus read now (a different version of the "
                       "data)")
    tokens = valid if args.split == "valid" else test
    rows = data.get("eval_rows", EVAL_ROWS).get(args.split, EVAL_ROWS[args.split])
    start = time.perf_counter()
    ppl = evaluate_perplexity(net,
                              eval_batches(tokens, rows,
                                           data.get("eval_chunk", EVAL_CHUNK)), device)
    model_seconds = time.perf_counter() - start

    # The n-grams get the model's support: every token of the vocabulary but <unk> and
    # the other special ones, which never occur in the text.
    support = [i for i in range(len(vocab)) if i not in set(vocab.special_indices)]
    start = time.perf_counter()
    table = laplace_table(train, valid, test, orders=range(1, args.max_order + 1),
                          vocab=support)
    ngram_seconds = time.perf_counter() - start
    # order and ε chosen on the validation part
    best = min(table, key=lambda r: r["valid_ppl"])
    ngram_ppl = best["valid_ppl"] if args.split == "valid" else best["test_ppl"]

    config = extra.get("config", {})
    described = (f"{config.get('layers', '?')}-layer "
                 f"{str(config.get('model', '?')).upper()} "
                 f"({'scratch' if config.get('scratch') else 'torch.nn'}, "
                 f"{config.get('hidden', '?')} hidden)"
                 if config else "the model")
    fitted_on = "train" if args.split == "valid" else "train + valid"
    print(f"{data['corpus']}, {args.split} split: {len(tokens):,} characters "
          f"(train {len(train):,} / valid {len(valid):,} / test {len(test):,})")
    print(f"  {described:<40} perplexity {ppl:8.3f}   ({_fmt_seconds(model_seconds)})")
    print("  "
          f"{'best Laplace n-gram: %d-gram, eps=%g' % (best['order'], best['eps']):<40}"
          f" perplexity {ngram_ppl:8.3f}   (fitted on {fitted_on}; order and eps "
          f"chosen on valid; {_fmt_seconds(ngram_seconds)})")
    print(f"  {'uniform guess':<40} perplexity {len(support):8.3f}")
    return 0


# --------------------------------------------------------------------------- data


def cmd_data(args: argparse.Namespace) -> int:
    from . import data

    if args.data_command == "fetch":
        path = data.fetch(args.name, download=not args.no_download)
        print(f"{args.name}: verified {path}")
        if data.REGISTRY[args.name].member is not None:
            print(f"{args.name}: extracted {data.extract(args.name)}")
        return 0
    env = os.environ.get("RNNCOURSE_DATA_DIR")
    print(f"data folder:  {data.data_dir()}"
          + (" (from $RNNCOURSE_DATA_DIR)" if env else ""))
    print(f"cache folder: {data.cache_dir()} (extracted archive members)")
    for name in data.REGISTRY:
        info = data.status(name)
        print(f"{name:<13} {info['state']:<18} {info['path']}")
        print(f"{'':<13} {'url':<18} {info['url']}")
        if info["state"] == "checksum mismatch":
            print(f"{'':<13} {'':<18} SHA-1 {info['sha1']}, registered "
                  f"{data.REGISTRY[name].sha1}: this file is never used; replace it "
                  "with a verified copy")
        if "member" in info:
            print(f"{'':<13} "
                  f"{'extracted' if info['member_cached'] else 'not extracted yet':<18}"
                  f" {info['member']}")
    return 0


# ------------------------------------------------------------------ machine translation


MT_NUM_STEPS = 11  # at most 10 tokens a side (load_split_nmt's max_tokens) + <eos>


def cmd_train_translator(args: argparse.Namespace) -> int:
    out = pathlib.Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"--out {args.out}: the folder {out.parent} does not exist")
    import torch

    from .bleu import corpus_bleu
    from .decoding import translate_corpus
    from .loop import TrainConfig
    from .seq2seq import build_translator, save_translator, train_seq2seq
    from .translation import load_split_nmt, nmt_loader, nmt_vocabs
    from .utils import set_seed

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = _device(args.device)
    set_seed(args.seed)
    # the book's split: <= 10 tokens a side, 1,000 test sentences, seed 0
    split = load_split_nmt()
    train = split.train[:args.train_pairs] if args.train_pairs else split.train
    valid = split.valid[:args.valid_sources]
    src_vocab, tgt_vocab = nmt_vocabs(train, min_freq=2)
    train_iter = nmt_loader(train, src_vocab, tgt_vocab, MT_NUM_STEPS, args.batch,
                            seed=args.seed)
    net = build_translator(len(src_vocab), len(tgt_vocab), args.embed, args.hidden,
                           args.layers, args.dropout, attention=args.attention)
    num_epochs = (args.epochs if args.epochs is not None
                  else (1000 if args.minutes is not None else 10))
    print(f"English-French: {len(train):,} training pairs, vocabularies "
          f"{len(src_vocab):,} / {len(tgt_vocab):,}; "
          f"{'attention' if args.attention else 'seq2seq'} model, "
          f"{sum(p.numel() for p in net.parameters()):,} parameters, on "
          f"{device}", flush=True)

    def report(epoch: int, history: dict) -> None:
        print(f"epoch {epoch}: training loss {history['loss'][-1]:.3f} per target "
              f"token, {history['epoch_seconds'][-1]:.1f} s", flush=True)

    config = TrainConfig(
        max_seconds=None if args.minutes is None else 60.0 * args.minutes,
        lr_schedule=lambda epoch: args.lr * args.lr_decay ** (epoch - 1),
        on_epoch_end=report, progress=not args.quiet)
    history = train_seq2seq(net, train_iter, args.lr, num_epochs, tgt_vocab, device,
                            theta=1.0, config=config)
    references = [[" ".join(ref) for ref in refs] for _, refs in valid]
    hypotheses = translate_corpus(net, [src for src, _ in valid], src_vocab, tgt_vocab,
                                  MT_NUM_STEPS, device=device)
    bleu = corpus_bleu(hypotheses, references)
    print(f"validation BLEU (greedy, {len(valid)} sentences): {bleu:.2f}", flush=True)
    config = {"attention": args.attention, "embed": args.embed, "hidden": args.hidden,
              "layers": args.layers, "dropout": args.dropout, "lr": args.lr,
              "lr_decay": args.lr_decay, "batch": args.batch, "train_pairs": len(train),
              "seed": args.seed, "minutes": args.minutes, "epochs": num_epochs}
    try:
        save_translator(out, net, src_vocab, tgt_vocab, num_steps=MT_NUM_STEPS,
                        config=config, history=_plain_history(history), valid_bleu=bleu,
                        command=shlex.join(["rnncourse", *sys.argv[1:]]))
    except OSError as exc:
        raise CliError(f"cannot write the translator {args.out}: "
                       f"{exc.strerror or exc}") from None
    print(f"saved {out}")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.checkpoint):
        raise CliError(f"no such translator file: {args.checkpoint}")
    from .decoding import predict_seq2seq
    from .seq2seq import load_translator

    device = _device(args.device)
    net, src_vocab, tgt_vocab, extra = load_translator(args.checkpoint, device,
                                                       with_extra=True)
    num_steps = (int(extra.get("num_steps", MT_NUM_STEPS)) if isinstance(extra, dict)
                 else MT_NUM_STEPS)
    for sentence in args.sentences:
        print(predict_seq2seq(net, sentence, src_vocab, tgt_vocab, num_steps, device,
                              beam_size=args.beam, alpha=args.alpha))
    return 0


# --------------------------------------------------------------------------- the parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a positive integer, got "
                                         f"{text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError("expected a positive finite number, got "
                                         f"{text}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 0, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = _nonnegative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


_EPILOG = {
    "main": """examples:
  rnncourse train --corpus time_machine --model lstm --minutes 3 --out lstm.pt
  rnncourse generate lstm.pt --prefix "time traveller" --len 100
  rnncourse evaluate lstm.pt --split test
  rnncourse data
  rnncourse train-translator --minutes 5 --out mt.pt
  rnncourse translate mt.pt "i am home ." --beam 4""",
    "train": """example:
  rnncourse train --corpus time_machine --model lstm --layers 2 --dropout 0.2 \
--minutes 3 --out lstm.pt

The split is the book's: train on the first 81 % of the characters, validate on the \
next 9 %
(after every epoch; the best weights are kept, --patience epochs without improvement \
stop
training), and keep the last 10 % for `rnncourse evaluate --split test`.""",
    "generate": """example:
  rnncourse generate lstm.pt --prefix "time traveller" --len 100 --temperature 0.8 \
--top-k 5

--temperature 0 is greedy decoding (the most likely character at every step).""",
    "evaluate": """example:
  rnncourse evaluate lstm.pt --split test

Prints the model's perplexity on the split next to the best Laplace-smoothed n-gram's
(order and smoothing chosen on the validation part; for the test split refitted on
train + valid, as in the book).""",
    "data": """examples:
  rnncourse data                       # each corpus: where it is looked for, and its \
state
  rnncourse data fetch time_machine    # download (if missing) and verify""",
    "train-translator": """example:
  rnncourse train-translator --attention --minutes 5 --out mt.pt

Trains on the book's English-French split (rnncourse.translation.load_split_nmt: pairs \
of at
most 10 tokens a side; 1,000 test sentences never trained on) and reports the \
validation BLEU.""",
    "translate": """example:
  rnncourse translate mt.pt "i am home ." "he is calm ." --beam 4 --alpha 0.75

Each sentence is lower-cased and tokenized as in training; --beam 1 is greedy \
search.""",
    "fetch": """example:
  rnncourse data fetch jay_lyrics --no-download   # verify the local copy only""",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rnncourse`` and its subcommands."""
    from .data import REGISTRY

    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="rnncourse", formatter_class=fmt,
                                     epilog=_EPILOG["main"],
                                     description="Train, sample and evaluate the "
                                                 "course's character-level language "
                                                 "models; manage the corpora.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a language model and save a checkpoint",
                       formatter_class=fmt, epilog=_EPILOG["train"],
                       description="Train a character-level RNN language model.")
    p.add_argument("--corpus", required=True, choices=CORPORA)
    p.add_argument("--model", required=True, choices=MODELS, help="the recurrent cell")
    p.add_argument("--scratch", action="store_true",
                   help="the scratch cells of rnncourse.models (default: torch.nn)")
    p.add_argument("--hidden", type=_positive_int, default=256,
                   help="hidden units per layer (default 256)")
    p.add_argument("--layers", type=_positive_int, default=1,
                   help="stacked layers (default 1)")
    p.add_argument("--dropout", type=_fraction, default=0.0,
                   help="dropout between stacked layers (default 0)")
    p.add_argument("--steps", type=_positive_int, default=35,
                   help="time steps per minibatch (default 35)")
    p.add_argument("--batch", type=_positive_int, default=32,
                   help="sequences per minibatch (default 32)")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="at most this many epochs (default 20, or no limit but "
                        "--minutes when that is given)")
    p.add_argument("--minutes", type=_positive_float, default=None,
                   help="wall-clock training budget")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                   help="default adam")
    p.add_argument("--lr", type=_positive_float, default=None,
                   help=f"learning rate (default {DEFAULT_LR['adam']:g} for adam, "
                        f"{DEFAULT_LR['sgd']:g} for sgd)")
    p.add_argument("--lr-decay", type=_positive_float, default=1.0,
                   help="multiply the learning rate by this after every epoch (default "
                        "1: constant)")
    p.add_argument("--clip", type=_positive_float, default=1.0,
                   help="gradient clipping norm (default 1)")
    p.add_argument("--patience", type=_positive_int, default=3,
                   help="stop after this many epochs without a better validation "
                        "perplexity (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: "
                                                  "the first GPU, else the CPU)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads (default: torch's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="the checkpoint file to write")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("generate", help="continue a prefix with a trained model",
                       formatter_class=fmt, epilog=_EPILOG["generate"],
                       description="Generate text from a checkpoint.")
    p.add_argument("checkpoint")
    p.add_argument("--prefix", default=None,
                   help="the text to continue (default: " + ", ".join(
                       f"{v!r} for {k}" for k, v in DEFAULT_PREFIX.items()) + ")")
    p.add_argument("--len", type=_nonnegative_int, default=100,
                   help="characters to generate (default 100)")
    p.add_argument("--temperature", type=_nonnegative_float, default=0.8,
                   help="0 = greedy (default 0.8)")
    p.add_argument("--top-k", type=_positive_int, default=None,
                   help="sample among the k most likely characters")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("evaluate", help="held-out perplexity, next to the best "
                                        "n-gram", formatter_class=fmt,
                       epilog=_EPILOG["evaluate"],
                       description="Evaluate a checkpoint written by `rnncourse "
                                   "train`.")
    p.add_argument("checkpoint")
    p.add_argument("--split", choices=("valid", "test"), default="test",
                   help="default test")
    p.add_argument("--max-order", type=_positive_int, default=5,
                   help="n-gram orders 1 to this (default 5)")
    p.add_argument("--device", default=None)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train-translator", help="train an English-French translator",
                       formatter_class=fmt, epilog=_EPILOG["train-translator"],
                       description="Train an encoder-decoder translator.")
    p.add_argument("--attention", action="store_true",
                   help="the Bahdanau attention decoder (default: seq2seq)")
    p.add_argument("--embed", type=_positive_int, default=256,
                   help="embedding size (default 256)")
    p.add_argument("--hidden", type=_positive_int, default=256,
                   help="hidden units (default 256)")
    p.add_argument("--layers", type=_positive_int, default=2,
                   help="GRU layers (default 2)")
    p.add_argument("--dropout", type=_fraction, default=0.2, help="default 0.2")
    p.add_argument("--lr", type=_positive_float, default=3e-3,
                   help="Adam's learning rate (default 0.003)")
    p.add_argument("--lr-decay", type=_positive_float, default=0.5,
                   help="per epoch (default 0.5)")
    p.add_argument("--batch", type=_positive_int, default=128,
                   help="pairs per minibatch (default 128)")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="at most this many epochs (default 10, or no limit but "
                        "--minutes when that is given)")
    p.add_argument("--minutes", type=_positive_float, default=None,
                   help="wall-clock training budget")
    p.add_argument("--train-pairs", type=_positive_int, default=None,
                   help="only the first N training pairs")
    p.add_argument("--valid-sources", type=_positive_int, default=200,
                   help="validation sentences scored by BLEU at the end (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=_positive_int, default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="the translator file to write")
    p.set_defaults(func=cmd_train_translator)

    p = sub.add_parser("translate", help="translate English sentences with a trained "
                                         "translator",
                       formatter_class=fmt, epilog=_EPILOG["translate"],
                       description="Translate into French.")
    p.add_argument("checkpoint", help="a file written by `rnncourse train-translator` "
                                      "(save_translator)")
    p.add_argument("sentences", nargs="+", metavar="SENTENCE")
    p.add_argument("--beam", type=_positive_int, default=4,
                   help="beam size; 1 = greedy (default 4)")
    p.add_argument("--alpha", type=_nonnegative_float, default=0.75,
                   help="length normalisation: score / length**alpha (default 0.75)")
    p.add_argument("--device", default=None)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("data", help="the corpora: where they are looked for, their "
                                    "state; fetch one",
                       formatter_class=fmt, epilog=_EPILOG["data"],
                       description="The corpus registry.")
    data_sub = p.add_subparsers(dest="data_command", metavar="fetch")
    f = data_sub.add_parser("fetch", help="download (if missing) and verify a "
                                          "corpus", formatter_class=fmt,
                            epilog=_EPILOG["fetch"])
    f.add_argument("name", choices=list(REGISTRY))
    f.add_argument("--no-download", action="store_true",
                   help="only verify the local copy")
    p.set_defaults(func=cmd_data)
    return parser


def _check_combinations(parser: argparse.ArgumentParser,
                        args: argparse.Namespace) -> None:
    if args.command == "train" and args.dropout > 0 and args.layers == 1:
        parser.error("train: --dropout acts between stacked layers: use --layers 2 or "
                     "more, or --dropout 0")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 data or checkpoint
    error; argparse exits with 2 on a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_combinations(parser, args)
    from .data import DataError

    try:
        return args.func(args)
    except (CliError, DataError, ValueError, OSError, FloatingPointError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__  # one line
        print(f"rnncourse {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rnncourse {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
