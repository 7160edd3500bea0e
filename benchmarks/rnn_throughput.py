"""Training throughput of the scratch RNN language model against torch.nn.RNN.

Measures tokens per second of a full training step (forward, cross-entropy, backward,
gradient clipping, SGD update), the step that ``rnncourse.train.train_lm`` runs, for

* ``RNNModelScratch(vocab_size, h, cell="rnn")``  (the RNN of the notes, in Python), and
* ``RNNModel(nn.RNN(vocab_size, h), vocab_size)``  (torch's fused kernels),

at the same sizes (batch 32, 35 steps, the 28-character vocabulary of The Time Machine,
hidden sizes 256 and 512 by default), on real Time Machine minibatches. The two models
run alternately within every repeat (their order swapped from one repeat to the next),
after a warm-up, and the table reports the median of the repeats, so that a machine
that is busy for a while slows both alike. On CUDA the timer waits for the GPU
(``torch.cuda.synchronize``) before it starts and before it stops.

    python benchmarks/rnn_throughput.py                      # CPU, and CUDA when present
    python benchmarks/rnn_throughput.py --hiddens 512 --repeats 7 --device cpu --threads 1
    python benchmarks/rnn_throughput.py --device cuda --json _build/gpu/rnn_throughput.json

``--json PATH`` (or its older name ``--output``) also writes the table, the machine and the
command line to PATH, creating its folder; ``make gpu-test`` writes ``_build/gpu/rnn_throughput.json``.
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


def benchmark(device: torch.device, hiddens: list[int], repeats: int, num_batches: int) -> list[dict]:
    train_iter, vocab = load_data_time_machine(BATCH_SIZE, NUM_STEPS, max_tokens=-1)
    batches = [(X.to(device), Y.to(device)) for X, Y in train_iter][:num_batches]
    if len(batches) < num_batches:
        raise ValueError(f"the corpus holds only {len(batches)} minibatches; ask for fewer (--batches)")
    vocab_size = len(vocab)
    torch.manual_seed(0)
    models = {}
    for h in hiddens:
        scratch = RNNModelScratch(vocab_size, h, cell="rnn").to(device)
        concise = RNNModel(nn.RNN(vocab_size, h), vocab_size).to(device)
        models[h] = {"scratch": (scratch, PlainSGD(scratch.parameters(), lr=1.0)),
                     "nn.RNN": (concise, PlainSGD(concise.parameters(), lr=1.0))}
    for h in hiddens:  # warm-up: allocator, kernels, caches
        for net, optimizer in models[h].values():
            time_training(net, optimizer, batches[:2], device)
    speeds = {(h, kind): [] for h in hiddens for kind in ("scratch", "nn.RNN")}
    for r in range(repeats):
        for h in hiddens:
            kinds = ("scratch", "nn.RNN") if r % 2 == 0 else ("nn.RNN", "scratch")  # alternate who goes first
            for kind in kinds:
                net, optimizer = models[h][kind]
                speeds[h, kind].append(time_training(net, optimizer, batches, device))
    rows = []
    for h in hiddens:
        scratch, concise = statistics.median(speeds[h, "scratch"]), statistics.median(speeds[h, "nn.RNN"])
        rows.append({"device": str(device), "hidden": h, "scratch_tokens_per_sec": scratch,
                     "nn_tokens_per_sec": concise, "ratio": scratch / concise,
                     "scratch_repeats": speeds[h, "scratch"], "nn_repeats": speeds[h, "nn.RNN"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = {"auto": ["cpu"] + (["cuda"] if torch.cuda.is_available() else []), "cpu": ["cpu"],
               "cuda": ["cuda"]}[args.device]

    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if "cuda" in devices else ""))
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cores:
        print(f"warning: the machine is busy (load average {load:.1f} on {cores} cores): the figures are rough, "
              "and more than one thread per process may crawl (try --threads 1)")
    print(f"batch {BATCH_SIZE}, {NUM_STEPS} steps, {args.batches} minibatches per pass, "
          f"median of {args.repeats} passes; forward + backward + clipping + SGD step\n")
    rows = []
    header = f"{'device':<8}{'hidden':>7}{'scratch tok/s':>16}{'nn.RNN tok/s':>16}{'scratch/nn':>12}"
    print(header)
    print("-" * len(header))
    for device in devices:
        for row in benchmark(torch.device(device), args.hiddens, args.repeats, args.batches):
            rows.append(row)
            print(f"{row['device']:<8}{row['hidden']:>7}{row['scratch_tokens_per_sec']:>16,.0f}"
                  f"{row['nn_tokens_per_sec']:>16,.0f}{row['ratio']:>12.2f}", flush=True)
    if args.json_path:
        path = pathlib.Path(args.json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        gpus = [torch.cuda.get_device_name()] if "cuda" in devices else []
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"command": " ".join(["python"] + sys.argv), "torch": torch.__version__,
                       "cuda": torch.version.cuda, "gpus": gpus,
                       "cpu": platform.processor() or platform.machine(),
                       "threads": torch.get_num_threads(), "batch_size": BATCH_SIZE,
                       "num_steps": NUM_STEPS, "batches_per_pass": args.batches, "repeats": args.repeats,
                       "results": rows}, f, indent=2)
        print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
