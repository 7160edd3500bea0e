"""Language-model quality on the whole Time Machine, character level: recurrent networks
against the best Laplace and Kneser–Ney n-grams, and the network mixed with Kneser–Ney, on
one held-out split.

    python benchmarks/lm_quality.py                  # the full comparison, writes the results file (~13 min)
    python benchmarks/lm_quality.py --models best    # only the best recipe (~3.5 min)
    python benchmarks/lm_quality.py --quick --models lstm_concise,best   # a smoke run of the pipeline

Only the full comparison (all models, not ``--quick``) writes the results file by default;
a subset or a smoke run writes one only where ``--out`` says.

It trains, each within a wall-clock budget, the scratch RNN, GRU and LSTM, their deep
(two-layer) versions and the concise (``torch.nn``) versions of all five, with one shared
recipe (``TABLE_RECIPE``, ``--table-seconds`` each); then the best recipe (``BEST_RECIPE``,
``--budget-seconds``; change it with ``--recipe key=value,...``). Every model goes through
``rnncourse.train.train_lm`` and ``rnncourse.train.evaluate_perplexity``, the loop the chapters
use. The results go to a JSON file (``benchmarks/results/lm_quality.json`` by default) with the
command line, the machine, the load average and the date; the section "How Good Are the
Language Models?" of chapter 10 (``book/10b_lm_quality.ipynb``) loads and shows that file.
A readable table is printed, and as the very last line::

    best: <model> valid_ppl=<x> test_ppl=<y> kn_test_ppl=<z> mixture_test_ppl=<w> seconds=<s>

(the winner's validation and test perplexity, the best Kneser–Ney model's and the mixture's
test perplexity, and the winner's training seconds).

The split and what each number measures
---------------------------------------
``rnncourse.ngram.train_valid_test_split`` on every character of the book
(``load_corpus_time_machine(-1, "char")``), contiguous and in text order; the split of
chapter 3's n-gram table:

* ``train``, the first 81 %: the minibatches, by sequential partitioning (``SeqDataLoader``;
  ``train_lm`` carries the state over and detaches it between minibatches).
* ``valid``, the next 9 %: the validation slice of the training part. Evaluated after every
  epoch; ``train_lm`` keeps the weights of the best validation perplexity (``keep_best=True``)
  and stops after ``patience`` evaluations without improvement. The n-grams' ε and order are
  chosen on it too. The best recipe was tuned on it.
* ``test``, the last 10 %: the held-out tail. Scored once per model, after training, for the
  final figure only; nothing is chosen on it.

Per model (the ``models`` rows and ``best`` of the JSON; "ppl" is exp(mean cross-entropy per
character)):

* ``train_ppl``: the final weights (those kept) on ``train``, in eval mode (no dropout);
* ``valid_ppl``: the best validation perplexity on ``valid``, the one that chose the weights;
* ``test_ppl``: the final weights on ``test``: the held-out perplexity;
* ``tokens_per_sec``: training characters per second of training (validation excluded);
* ``valid_curve`` and ``train_curve``: per epoch, the validation perplexity and the training
  perplexity as ``train_lm`` reports it (the running mean over the epoch, dropout on);
* ``seconds``: wall-clock time of ``train_lm``, training plus the per-epoch validation: what
  the budget (``max_seconds``) limits; it may exceed the budget by one minibatch and one
  validation pass. ``epochs``: epochs begun (the last one may be cut short by the budget).

Evaluation is sequential with the state carried: a part is cut into ``rows`` contiguous
streams read ``EVAL_CHUNK`` characters at a time, the state flowing from chunk to chunk and
starting from zeros (``stream_batches``). The test tail is read as **one** stream: every
character but its first is predicted from all the tail before it. ``valid`` is read as 8
streams and ``train`` as 32 (8 and 32 fresh starts: a negligible difference, and faster).

The n-gram baseline (``ngram`` rows) is chapter 3's table, ``rnncourse.ngram.laplace_table``
for orders 1 to 5 on the same split: for each order the ε of the lowest validation
perplexity, the model refitted on ``train + valid`` and scored on ``test``. The "best
n-gram" (``ngram_best``) is the order with the lowest *validation* perplexity; ``ngram_ppl``
on the last line is its test perplexity, computed here by the package.

The Kneser–Ney baseline (``kneser_ney`` rows, ``kneser_ney_best``) is
``rnncourse.ngram.kneser_ney_table`` for orders 1 to 8: for each order the discount (0.05 to
0.95) of the lowest validation perplexity, refitted on ``train + valid`` and scored on
``test``; the best order is chosen on validation. This is the baseline RNN language-model
papers report against (Mikolov et al. 2010: a Kneser–Ney 5-gram).

The mixture (``mixture``; Mikolov et al. 2010, 2011): the winner's next-character
distribution and the best Kneser–Ney model's, interpolated with one weight,
``w · P_rnn + (1 − w) · P_kn``. The weight (0 to 1 in steps of 0.025) is chosen on ``valid``,
with the network reading the validation slice as one stream and the Kneser–Ney model fitted on
``train``; the test figure uses the refitted Kneser–Ney model and the network reading the test
tail as one stream (every character but the first, as for ``test_ppl``). Both models see only
the text before each prediction.

Dynamic evaluation (``dynamic_evaluation``; Krause et al. 2018) adapts the winner to the
text it is reading: the held-out part is read as one stream, 50 characters at a time; each
chunk is scored first, then the network (a copy) takes one SGD step on that chunk's loss.
Every prediction still uses only the text before it. The step size (among ``DYNAMIC_LRS``) is
chosen on ``valid``; its mixture with Kneser–Ney is chosen like ``mixture``.

On the last line ``valid_ppl=`` and ``test_ppl=`` are the winner's validation and test
perplexities; ``seconds=`` is that run's ``seconds``.

Timings depend on the machine and on whatever else runs on it: the JSON records the load
average before and after the run. PyTorch runs on one CPU thread unless ``--threads`` says
otherwise: on the 2-core course machine, two threads were about 25 times slower than one as
soon as any other process was busy. ``--quick`` trains each model for a second or two: a
smoke run of the whole pipeline whose numbers mean nothing.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import pathlib
import platform
import shlex
import sys
import time

import numpy as np
import torch
from torch import nn

from rnncourse.models import RNNModel, RNNModelScratch
from rnncourse.ngram import (KneserNeyLM, kneser_ney_table, laplace_table,
                             train_valid_test_split)
from rnncourse.sampling import SeqDataLoader
from rnncourse.text import load_corpus_time_machine
from rnncourse.train import FixedBatches, TrainConfig, evaluate_perplexity, train_lm
from rnncourse.utils import set_seed, try_gpu

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "lm_quality.json"
LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
EVAL_CHUNK = (
    500  # characters per evaluation minibatch; the state is carried across them
)
EVAL_ROWS = {"train": 32, "valid": 8, "test": 1}
NGRAM_ORDERS = range(1, 6)  # the orders of chapter 3's table
KN_ORDERS = range(1, 9)  # Kneser–Ney keeps improving past chapter 3's orders
MIXTURE_WEIGHTS = [round(0.025 * i, 3) for i in range(41)]  # the network's weight
DYNAMIC_LRS = [0.01, 0.03, 0.1, 0.3, 1.0]  # SGD step sizes tried for dynamic evaluation
DYNAMIC_CHUNK = 50  # characters scored, then learned from, at a time

# One recipe for the whole comparison table: only the architecture changes between rows.
TABLE_RECIPE = dict(
    num_hiddens=256,
    dropout=0.2,
    lr=5e-3,
    lr_decay=0.9,
    batch_size=32,
    num_steps=32,
    theta=1.0,
    patience=3,
)
# name -> (implementation, cell, num_layers)
TABLE_MODELS = {
    "rnn_scratch": ("scratch", "rnn", 1),
    "gru_scratch": ("scratch", "gru", 1),
    "lstm_scratch": ("scratch", "lstm", 1),
    "deep_gru_scratch": ("scratch", "gru", 2),
    "deep_lstm_scratch": ("scratch", "lstm", 2),
    "rnn_concise": ("concise", "rnn", 1),
    "gru_concise": ("concise", "gru", 1),
    "lstm_concise": ("concise", "lstm", 1),
    "deep_gru_concise": ("concise", "gru", 2),
    "deep_lstm_concise": ("concise", "lstm", 2),
}
# The best recipe, chosen on the validation slice (among one- and two-layer LSTMs and GRUs of
# 256 to 384 units, dropout 0 to 0.3, 32 or 64 steps): a two-layer torch.nn LSTM with dropout
# between its layers, Adam with a step size shrinking 10 % per epoch, early stopping. On one core
# of the course machine it reached its best validation perplexity at epoch 8 (about 2 minutes)
# and stopped about 4 epochs later (patience or budget); a machine that fits 8 epochs in the
# budget should get the same weights (same seed, same computation on the same kind of CPU).
BEST_NAME = "best"
BEST_RECIPE = dict(
    implementation="concise",
    cell="lstm",
    num_layers=2,
    num_hiddens=256,
    dropout=0.2,
    lr=5e-3,
    lr_decay=0.9,
    batch_size=32,
    num_steps=32,
    theta=1.0,
    patience=4,
    weight_decay=0.0,
)


def best_row_name(r: dict) -> str:
    """The best recipe's name in the results, e.g. "best_lstm_concise_2x256" (layers x hidden units)."""
    return (
        f"best_{r['cell']}_{r['implementation']}_{r['num_layers']}x{r['num_hiddens']}"
    )


def stream_batches(
    tokens: list[int], rows: int, chunk: int = EVAL_CHUNK
) -> FixedBatches:
    """Minibatches (X, Y), each (rows, <= chunk), that read ``tokens`` as ``rows`` contiguous
    streams, in order, with no random offset: for sequential evaluation with the state carried
    (a ``FixedBatches`` list with ``use_random_iter=False``, so ``evaluate_perplexity`` and
    ``train_lm`` know to carry it).

    Row r predicts tokens r·L + 1, ..., r·L + L from the ones before them, L = (len(tokens) - 1) // rows,
    so with rows=1 every token but the first is predicted (at most rows - 1 are left at the end).
    """
    length = (len(tokens) - 1) // rows
    if length < 1:
        raise ValueError(
            f"{len(tokens)} tokens are too few for {rows} evaluation streams"
        )
    data = torch.tensor(tokens[: rows * length + 1], dtype=torch.long)
    X = data[:-1].reshape(rows, length)
    Y = data[1:].reshape(rows, length)
    return FixedBatches(
        ((X[:, i : i + chunk], Y[:, i : i + chunk]) for i in range(0, length, chunk)),
        use_random_iter=False,
    )


def build_model(
    implementation: str,
    cell: str,
    num_layers: int,
    num_hiddens: int,
    dropout: float,
    vocab_size: int,
) -> nn.Module:
    """A character language model: scratch cells (``RNNModelScratch``) or ``torch.nn`` (``RNNModel``).
    ``dropout`` acts between stacked layers only, so a one-layer model has none."""
    dropout = dropout if num_layers > 1 else 0.0
    if implementation == "scratch":
        return RNNModelScratch(
            vocab_size, num_hiddens, cell=cell, num_layers=num_layers, dropout=dropout
        )
    layer = LAYERS[cell](
        vocab_size, num_hiddens, num_layers=num_layers, dropout=dropout
    )
    return RNNModel(layer, vocab_size)


def train_and_evaluate(
    name: str,
    spec: dict,
    seconds: float,
    splits: dict,
    vocab,
    device: torch.device,
    seed: int,
) -> dict:
    """Train one model for ``seconds`` (wall clock); measure it on the three parts."""
    set_seed(seed)
    net = build_model(
        spec["implementation"],
        spec["cell"],
        spec["num_layers"],
        spec["num_hiddens"],
        spec["dropout"],
        len(vocab),
    ).to(device)
    train_iter = SeqDataLoader(
        splits["train"], spec["batch_size"], spec["num_steps"], use_random_iter=False
    )
    valid_iter = stream_batches(splits["valid"], EVAL_ROWS["valid"])
    optimizer = torch.optim.Adam(net.parameters(), lr=spec["lr"],
                                 weight_decay=spec.get("weight_decay", 0.0))
    lr, decay = spec["lr"], spec["lr_decay"]
    history = train_lm(
        net,
        train_iter,
        vocab,
        lr=None,
        num_epochs=1000,
        device=device,
        optimizer=optimizer,
        theta=spec["theta"],
        valid_iter=valid_iter,
        config=TrainConfig(
            keep_best=True,
            patience=spec["patience"],
            max_seconds=seconds,
            lr_schedule=lambda epoch: lr * decay ** (epoch - 1),
        ),
    )
    row = {
        "name": name,
        **{k: spec[k] for k in ("implementation", "cell", "num_layers", "num_hiddens")},
        "params": sum(p.numel() for p in net.parameters()),
        "train_ppl": evaluate_perplexity(
            net, stream_batches(splits["train"], EVAL_ROWS["train"]), device
        ),
        "valid_ppl": history["best_valid_perplexity"],
        "test_ppl": evaluate_perplexity(
            net, stream_batches(splits["test"], EVAL_ROWS["test"]), device
        ),
        "tokens_per_sec": history["tokens_per_sec"],
        "seconds": history["wall_seconds"],
        "train_seconds": history["seconds"],
        "epochs": history["epochs"],
        "best_epoch": history["best_epoch"],
        "stopped": history["stopped"],
        "budget_seconds": seconds,
        "valid_curve": history["valid_perplexity"],  # after every epoch (valid_every=1)
        "train_curve": history[
            "perplexity"
        ],  # running mean over each epoch's minibatches, dropout on
    }
    row["_net"] = net  # for the mixture; removed before the results are written
    return row


def stream_log_probs(net: nn.Module, tokens: list[int], device: torch.device) -> np.ndarray:
    """log P(x_t | x_0, ..., x_{t-1}) for t = 1, ..., len(tokens) - 1: the network reads
    ``tokens`` as one stream, the state carried, in eval mode (what ``test_ppl`` scores)."""
    was_training = net.training
    net.eval()
    out, state = [], None
    try:
        with torch.no_grad():
            for X, Y in stream_batches(tokens, 1):
                if state is None:
                    state = net.begin_state(1, device)
                logits, state = net(X.to(device), state)  # (chunk, vocab): time-major
                log_p = torch.log_softmax(logits.double(), dim=-1)
                out.append(log_p.gather(1, Y.reshape(-1, 1).to(device))[:, 0].cpu())
    finally:
        net.train(was_training)
    return torch.cat(out).numpy()


def mix_perplexity(rnn_log_p: np.ndarray, kn_log_p: np.ndarray, weight: float) -> float:
    """Perplexity of ``weight · P_rnn + (1 − weight) · P_kn`` over the same positions."""
    p = weight * np.exp(rnn_log_p) + (1 - weight) * np.exp(kn_log_p)
    return float(np.exp(-np.log(p).mean()))


def mixture(net: nn.Module, kn_best: dict, splits: dict, device: torch.device) -> dict:
    """The network interpolated with the best Kneser–Ney model, the weight chosen on
    ``valid`` (see the module docstring)."""
    order, discount = kn_best["order"], kn_best["discount"]
    tuner = KneserNeyLM(splits["train"], order, discount)
    refit = KneserNeyLM(splits["train"] + splits["valid"], order, discount)
    rnn_valid = stream_log_probs(net, splits["valid"], device)
    rnn_test = stream_log_probs(net, splits["test"], device)
    kn_valid = tuner.log_probs(splits["valid"])[1:]  # the positions the network predicts
    kn_test = refit.log_probs(splits["test"])[1:]
    valid_ppls = [mix_perplexity(rnn_valid, kn_valid, w) for w in MIXTURE_WEIGHTS]
    w = MIXTURE_WEIGHTS[int(np.argmin(valid_ppls))]
    return {
        "weight": w,
        "valid_ppl": min(valid_ppls),
        "test_ppl": mix_perplexity(rnn_test, kn_test, w),
        "valid_ppls": valid_ppls,
        "weights": MIXTURE_WEIGHTS,
        "rnn_valid_ppl_one_stream": mix_perplexity(rnn_valid, kn_valid, 1.0),
        "kn_valid_ppl_same_positions": mix_perplexity(rnn_valid, kn_valid, 0.0),
        "rnn_test_ppl_one_stream": mix_perplexity(rnn_test, kn_test, 1.0),
        "kn_test_ppl_same_positions": mix_perplexity(rnn_test, kn_test, 0.0),
    }


def dynamic_log_probs(net: nn.Module, tokens: list[int], device: torch.device, lr: float,
                      chunk: int = DYNAMIC_CHUNK, theta: float = 1.0) -> np.ndarray:
    """Dynamic evaluation (Krause et al. 2018): read ``tokens`` as one stream, ``chunk``
    characters at a time; score each chunk with the current weights, *then* take one SGD
    step (step size ``lr``, gradient clipped to ``theta``) on that chunk's loss, so every
    prediction uses only the text before it. Works on a copy: ``net`` is unchanged.
    Returns the log-probabilities, aligned with ``stream_log_probs``."""
    net = copy.deepcopy(net)
    net.eval()  # no dropout while adapting
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    out, state = [], None
    for X, Y in stream_batches(tokens, 1, chunk):
        if state is None:
            state = net.begin_state(1, device)
        logits, state = net(X.to(device), state)  # (chunk, vocab): time-major
        log_p = torch.log_softmax(logits.double(), dim=-1)
        picked = log_p.gather(1, Y.reshape(-1, 1).to(device))[:, 0]  # (chunk,)
        out.append(picked.detach().cpu())
        opt.zero_grad()
        (-picked.mean()).backward()  # learn from the chunk just scored
        nn.utils.clip_grad_norm_(net.parameters(), theta)
        opt.step()
        state = (tuple(h.detach() for h in state) if isinstance(state, tuple)
                 else state.detach())
    return torch.cat(out).numpy()


def dynamic_evaluation(net: nn.Module, kn_best: dict, splits: dict,
                       device: torch.device) -> dict:
    """Dynamic evaluation with the step size chosen on ``valid``, and its mixture with the
    best Kneser–Ney model (weight chosen on ``valid``, as for ``mixture``)."""
    tuner = KneserNeyLM(splits["train"], kn_best["order"], kn_best["discount"])
    refit = KneserNeyLM(splits["train"] + splits["valid"], kn_best["order"],
                        kn_best["discount"])
    kn_valid = tuner.log_probs(splits["valid"])[1:]
    kn_test = refit.log_probs(splits["test"])[1:]
    valid = {lr: dynamic_log_probs(net, splits["valid"], device, lr) for lr in DYNAMIC_LRS}
    valid_ppls = {lr: mix_perplexity(v, kn_valid, 1.0) for lr, v in valid.items()}
    lr = min(DYNAMIC_LRS, key=valid_ppls.get)
    test = dynamic_log_probs(net, splits["test"], device, lr)
    mix_valid = [mix_perplexity(valid[lr], kn_valid, w) for w in MIXTURE_WEIGHTS]
    w = MIXTURE_WEIGHTS[int(np.argmin(mix_valid))]
    return {
        "lr": lr,
        "chunk": DYNAMIC_CHUNK,
        "valid_ppl": valid_ppls[lr],
        "test_ppl": mix_perplexity(test, kn_test, 1.0),
        "valid_ppls": [valid_ppls[x] for x in DYNAMIC_LRS],
        "lrs": DYNAMIC_LRS,
        "mixture": {"weight": w, "valid_ppl": min(mix_valid),
                    "test_ppl": mix_perplexity(test, kn_test, w)},
    }


def machine_info(device: torch.device) -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in f
                    if line.startswith("model name")
                ),
                cpu,
            )
    except OSError:
        pass
    info = {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def format_table(rows: list[dict], ngram_best: dict) -> str:
    lines = [
        f"{'model':<24} {'params':>9} {'train':>7} {'valid':>7} {'test':>7} {'tok/s':>8} {'seconds':>8} {'epochs':>6}"
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<24} {r['params']:>9,} {r['train_ppl']:>7.2f} {r['valid_ppl']:>7.2f} "
            f"{r['test_ppl']:>7.2f} {r['tokens_per_sec']:>8,.0f} {r['seconds']:>8.1f} {r['epochs']:>6}"
        )
    nb = ngram_best
    lines.append(
        f"{'%d-gram (eps=%g)' % (nb['order'], nb['eps']):<24} {'':>9} {nb['train_ppl']:>7.2f} "
        f"{nb['valid_ppl']:>7.2f} {nb['test_ppl']:>7.2f}"
    )
    return "\n".join(lines)


def parse_recipe(text: str) -> dict:
    """``"key=value,key=value"`` -> the best recipe with those entries changed (values take the
    type of the default: ``num_hiddens=320`` is an int, ``dropout=0.3`` a float)."""
    recipe = dict(BEST_RECIPE)
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in BEST_RECIPE:
            raise ValueError(
                f"--recipe takes key=value pairs with keys among {', '.join(BEST_RECIPE)}; got {item!r}"
            )
        try:
            recipe[key] = type(BEST_RECIPE[key])(value)
        except ValueError:
            raise ValueError(
                f"--recipe {key}={value!r}: expected a {type(BEST_RECIPE[key]).__name__}"
            ) from None
    if (
        recipe["implementation"] not in ("scratch", "concise")
        or recipe["cell"] not in LAYERS
    ):
        raise ValueError(
            f"--recipe: implementation must be scratch or concise and cell one of {', '.join(LAYERS)}"
        )
    return recipe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    names = list(TABLE_MODELS) + [BEST_NAME]
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--budget-seconds",
        type=float,
        default=180.0,
        help="wall-clock training budget of the best recipe (default 180)",
    )
    p.add_argument(
        "--table-seconds",
        type=float,
        default=45.0,
        help="wall-clock training budget of each model of the comparison table (default 45)",
    )
    p.add_argument(
        "--models",
        default=",".join(names),
        help=f"comma-separated subset of: {', '.join(names)} (default: all)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1.5 s per table model and 3 s for the best recipe; writes no file unless --out",
    )
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help=f"results file (default for the full comparison: {RESULTS.relative_to(RESULTS.parents[2])}; "
        "a subset of --models or --quick writes none unless --out is given)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:1, ... (default: the first GPU, else the CPU)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1). On the course's 2-core machine two threads were up to "
        "25 times slower than one whenever any other process used a core",
    )
    p.add_argument(
        "--recipe",
        default="",
        help="change the best recipe, e.g. --recipe cell=gru,num_hiddens=320,dropout=0.3 "
        f"(keys: {', '.join(BEST_RECIPE)})",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--note",
        default=None,
        help="a note stored in the results file (e.g. that the run was made under load)",
    )
    args = p.parse_args(argv)
    requested = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in requested if m not in names]
    if unknown or not requested:
        p.error(f"unknown model(s) {unknown}; choose from {', '.join(names)}")
    args.models = [m for m in names if m in requested]  # the table's order, each once
    for flag in ("budget_seconds", "table_seconds"):
        if not getattr(args, flag) > 0:
            p.error(f"--{flag.replace('_', '-')} must be positive")
    if args.threads < 1:
        p.error("--threads must be at least 1")
    try:
        args.recipe = parse_recipe(args.recipe)
    except ValueError as exc:
        p.error(str(exc))
    if args.quick:
        args.table_seconds, args.budget_seconds = 1.5, 3.0
    if args.out is None and not args.quick and args.models == names:
        args.out = (
            RESULTS  # only a full comparison replaces the results file the book shows
        )
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else try_gpu()
    started = datetime.datetime.now(datetime.timezone.utc)
    run_start = time.perf_counter()
    load_before = load_average()

    corpus, vocab = load_corpus_time_machine(-1, token="char")
    train, valid, test = train_valid_test_split(corpus)
    splits = {"train": train, "valid": valid, "test": test}
    print(
        f"Time Machine, characters: {len(corpus):,} tokens, vocabulary {len(vocab)}; "
        f"train {len(train):,} / valid {len(valid):,} / test {len(test):,}",
        flush=True,
    )

    ngram_rows = laplace_table(
        train, valid, test, orders=NGRAM_ORDERS
    )  # chapter 3's table
    ngram_rows = [
        {k: r[k] for k in ("order", "eps", "train_ppl", "valid_ppl", "test_ppl")}
        for r in ngram_rows
    ]
    ngram_best = min(
        ngram_rows, key=lambda r: r["valid_ppl"]
    )  # chosen on the validation slice
    for r in ngram_rows:
        print(
            f"  {r['order']}-gram eps={r['eps']:<6g} valid {r['valid_ppl']:.3f}  test {r['test_ppl']:.3f}",
            flush=True,
        )

    kn_rows = [
        {k: r[k] for k in ("order", "discount", "valid_ppl", "test_ppl")}
        for r in kneser_ney_table(train, valid, test, orders=KN_ORDERS)
    ]
    kn_best = min(kn_rows, key=lambda r: r["valid_ppl"])  # chosen on the validation slice
    for r in kn_rows:
        print(
            f"  Kneser–Ney {r['order']}-gram D={r['discount']:<5g} valid {r['valid_ppl']:.3f}  "
            f"test {r['test_ppl']:.3f}",
            flush=True,
        )

    rows = []
    for name in [m for m in TABLE_MODELS if m in args.models]:
        implementation, cell, num_layers = TABLE_MODELS[name]
        spec = dict(
            TABLE_RECIPE,
            implementation=implementation,
            cell=cell,
            num_layers=num_layers,
        )
        rows.append(
            train_and_evaluate(
                name, spec, args.table_seconds, splits, vocab, device, args.seed
            )
        )
        r = rows[-1]
        print(
            f"  {name:<18} valid {r['valid_ppl']:.3f}  test {r['test_ppl']:.3f}  "
            f"{r['seconds']:.0f} s, {r['epochs']} epochs",
            flush=True,
        )

    best = None
    if BEST_NAME in args.models:
        best = train_and_evaluate(
            best_row_name(args.recipe),
            args.recipe,
            args.budget_seconds,
            splits,
            vocab,
            device,
            args.seed,
        )
        best["recipe"] = args.recipe
        print(
            f"  {'best recipe':<18} valid {best['valid_ppl']:.3f}  test {best['test_ppl']:.3f}  "
            f"{best['seconds']:.0f} s, {best['epochs']} epochs",
            flush=True,
        )

    # the winner: the best recipe when it ran, else the table's best by validation perplexity
    winner = best if best is not None else min(rows, key=lambda r: r["valid_ppl"])
    mix = mixture(winner["_net"], kn_best, splits, device)
    mix["model"] = winner["name"]
    print(
        f"  mixture with Kneser–Ney: weight {mix['weight']:g}, valid {mix['valid_ppl']:.3f}  "
        f"test {mix['test_ppl']:.3f}",
        flush=True,
    )
    dynamic = dynamic_evaluation(winner["_net"], kn_best, splits, device)
    dynamic["model"] = winner["name"]
    print(
        f"  dynamic evaluation: lr {dynamic['lr']:g}, valid {dynamic['valid_ppl']:.3f}  "
        f"test {dynamic['test_ppl']:.3f}; mixed with Kneser–Ney: test "
        f"{dynamic['mixture']['test_ppl']:.3f}",
        flush=True,
    )
    for r in rows + ([best] if best else []):
        del r["_net"]

    results = {
        "note": args.note,
        "command": " ".join(
            [
                "python benchmarks/lm_quality.py",
                shlex.join(sys.argv[1:] if argv is None else argv),
            ]
        ).strip(),
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(device),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "total_seconds": time.perf_counter() - run_start,
        "quick": args.quick,
        "seed": args.seed,
        "data": {
            "corpus": "time_machine",
            "token": "char",
            "vocab_size": len(vocab),
            "tokens": len(corpus),
            "split": "rnncourse.ngram.train_valid_test_split(corpus) (valid_frac=0.1, test_frac=0.1)",
            "train": len(train),
            "valid": len(valid),
            "test": len(test),
            "eval_rows": EVAL_ROWS,
            "eval_chunk": EVAL_CHUNK,
        },
        "budgets": {
            "table_seconds": args.table_seconds,
            "budget_seconds": args.budget_seconds,
        },
        "table_recipe": dict(TABLE_RECIPE, optimizer="Adam", sampling="sequential"),
        "ngram": ngram_rows,
        "ngram_best": ngram_best,
        "kneser_ney": kn_rows,
        "kneser_ney_best": {k: kn_best[k] for k in ("order", "discount", "valid_ppl", "test_ppl")},
        "mixture": mix,
        "dynamic_evaluation": dynamic,
        "models": rows,
        "best": best,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")

    shown = rows + ([best] if best else [])
    print()
    print(format_table(shown, ngram_best))
    if args.out is not None:
        print(f"\nwrote {args.out}")
    print(
        f"best: {winner['name']} valid_ppl={winner['valid_ppl']:.3f} test_ppl={winner['test_ppl']:.3f} "
        f"kn_test_ppl={kn_best['test_ppl']:.3f} mixture_test_ppl={mix['test_ppl']:.3f} "
        f"seconds={winner['seconds']:.1f}"
    )
    return results


if __name__ == "__main__":
    main()
