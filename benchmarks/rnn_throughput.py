"""Training throughput of the scratch recurrent cells against their torch.nn counterparts.

Measures tokens per second of a full training step (forward, cross-entropy, backward,
gradient clipping, SGD update), the step that ``rnncourse.train.train_lm`` runs (and so
chapter 10b's trainings), for each cell of ``--cells``:

* ``RNNModelScratch(vocab_size, h, cell=cell)``  (the cell of the notes, in Python:
  ``RNNScratch``, ``GRUScratch``, ``LSTMScratch``), and
* ``RNNModel(nn.RNN / nn.GRU / nn.LSTM(vocab_size, h), vocab_size)``  (torch's fused
  kernels),

at the same sizes (batch 32, 35 steps, the 28-character vocabulary of The Time Machine,
hidden sizes 256 and 512 by default), on real Time Machine minibatches. All models run
alternately within every repeat (their order reversed from one repeat to the next),
after a warm-up, and the table reports the median of the repeats, so that a machine
that is busy for a while slows all alike. The load average is printed before and after
(a busy machine makes the figures rough). On CUDA the timer waits for the GPU
(``torch.cuda.synchronize``) before it starts and before it stops.

The last line reads ``scratch/nn: rnn=<r> gru=<g> lstm=<l>``: the ratios of the
tokens/s of the first device and the first hidden size.

    python benchmarks/rnn_throughput.py                      # CPU, and CUDA when present
    python benchmarks/rnn_throughput.py --cells rnn,gru,lstm --hiddens 256
    python benchmarks/rnn_throughput.py --hiddens 512 --repeats 7 --device cpu --threads 1
    python benchmarks/rnn_throughput.py --device cuda --json _build/gpu/rnn_throughput.json

``--json PATH`` (or its older name ``--output``) also writes the table, the machine, the
load averages and the command line to PATH, creating its folder; ``make gpu-test`` writes
``_build/gpu/rnn_throughput.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import torch
from torch import nn

from rnncourse.models import RNNModel, RNNModelScratch
from rnncourse.sampling import load_data_time_machine
from rnncourse.train import PlainSGD, train_epoch

BATCH_SIZE, NUM_STEPS = 32, 35


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(net, optimizer, batches, device) -> float:
    """Tokens per second of one pass of training steps over ``batches``."""
    sync(device)
    start = time.perf_counter()
    stats = train_epoch(net, batches, optimizer, device, theta=1.0, use_random_iter=False)
    sync(device)
    return stats["tokens"] / (time.perf_counter() - start)


LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def benchmark(device: torch.device, cells: list[str], hiddens: list[int], repeats: int,
              num_batches: int) -> list[dict]:
    train_iter, vocab = load_data_time_machine(BATCH_SIZE, NUM_STEPS, max_tokens=-1)
    batches = [(X.to(device), Y.to(device)) for X, Y in train_iter][:num_batches]
    if len(batches) < num_batches:
        raise ValueError(f"the corpus holds only {len(batches)} minibatches; ask for fewer (--batches)")
    vocab_size = len(vocab)
    torch.manual_seed(0)
    models = {}  # (cell, h, kind) -> (net, optimizer)
    for cell in cells:
        for h in hiddens:
            scratch = RNNModelScratch(vocab_size, h, cell=cell).to(device)
            concise = RNNModel(LAYERS[cell](vocab_size, h), vocab_size).to(device)
            models[cell, h, "scratch"] = (scratch, PlainSGD(scratch.parameters(), lr=1.0))
            models[cell, h, "nn"] = (concise, PlainSGD(concise.parameters(), lr=1.0))
    for net, optimizer in models.values():  # warm-up: allocator, kernels, caches
        time_training(net, optimizer, batches[:2], device)
    speeds = {key: [] for key in models}
    order = list(models)
    for r in range(repeats):
        for key in (order if r % 2 == 0 else order[::-1]):  # interleaved, order alternating
            net, optimizer = models[key]
            speeds[key].append(time_training(net, optimizer, batches, device))
    rows = []
    for cell in cells:
        for h in hiddens:
            scratch = statistics.median(speeds[cell, h, "scratch"])
            concise = statistics.median(speeds[cell, h, "nn"])
            rows.append({"device": str(device), "cell": cell, "hidden": h,
                         "scratch_tokens_per_sec": scratch, "nn_tokens_per_sec": concise,
                         "ratio": scratch / concise,
                         "scratch_repeats": speeds[cell, h, "scratch"],
                         "nn_repeats": speeds[cell, h, "nn"]})
    return rows


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="rnn,gru,lstm",
                        help="comma-separated cells among rnn, gru, lstm (default all three)")
    parser.add_argument("--hiddens", type=int, nargs="+", default=[256, 512], help="hidden sizes (default 256 512)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per model; the median is reported")
    parser.add_argument("--batches", type=int, default=10, help="minibatches (32 x 35 tokens) per timed pass")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="auto: the CPU, and also CUDA when it is available")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", "--output", dest="json_path", default=None, metavar="PATH",
                        help="also write the results to this JSON file (its folder is created)")
    args = parser.parse_args()
    if args.repeats < 1 or args.batches < 1:
        parser.error("--repeats and --batches must be at least 1")
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    if not cells or any(c not in LAYERS for c in cells):
        parser.error(f"--cells: a comma-separated list of {', '.join(LAYERS)}, got {args.cells!r}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = {"auto": ["cpu"] + (["cuda"] if torch.cuda.is_available() else []), "cpu": ["cpu"],
               "cuda": ["cuda"]}[args.device]

    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if "cuda" in devices else ""))
    load_before, cores = load_average(), os.cpu_count() or 1
    print(f"load average before: {load_before} (1, 5, 15 min) on {cores} cores")
    if os.getloadavg()[0] > 0.5 * cores:
        print("warning: the machine is busy: the figures are rough, and more than one thread per process "
              "may crawl (try --threads 1)")
    print(f"batch {BATCH_SIZE}, {NUM_STEPS} steps, {args.batches} minibatches per pass, "
          f"median of {args.repeats} interleaved passes; forward + backward + clipping + SGD step\n")
    rows = []
    header = f"{'device':<8}{'cell':<6}{'hidden':>7}{'scratch tok/s':>16}{'nn tok/s':>16}{'scratch/nn':>12}"
    print(header)
    print("-" * len(header))
    for device in devices:
        for row in benchmark(torch.device(device), cells, args.hiddens, args.repeats, args.batches):
            rows.append(row)
            print(f"{row['device']:<8}{row['cell']:<6}{row['hidden']:>7}{row['scratch_tokens_per_sec']:>16,.0f}"
                  f"{row['nn_tokens_per_sec']:>16,.0f}{row['ratio']:>12.2f}", flush=True)
    load_after = load_average()
    print(f"\nload average after: {load_after} (1, 5, 15 min)")
    if args.json_path:
        path = pathlib.Path(args.json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        gpus = [torch.cuda.get_device_name()] if "cuda" in devices else []
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"command": " ".join(["python"] + sys.argv), "torch": torch.__version__,
                       "cuda": torch.version.cuda, "gpus": gpus,
                       "cpu": platform.processor() or platform.machine(),
                       "threads": torch.get_num_threads(), "batch_size": BATCH_SIZE,
                       "load_average_before": load_before, "load_average_after": load_after,
                       "num_steps": NUM_STEPS, "batches_per_pass": args.batches, "repeats": args.repeats,
                       "results": rows}, f, indent=2)
        print(f"\nwrote {path}")
    first = [row for row in rows if row["device"] == devices[0] and row["hidden"] == args.hiddens[0]]
    print("scratch/nn: " + " ".join(f"{row['cell']}={row['ratio']:.2f}" for row in first))


if __name__ == "__main__":
    main()
