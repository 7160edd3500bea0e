"""English–French translation quality on held-out sentences: three models trained on the
same data, machine and wall-clock budget, scored by multi-reference corpus BLEU.

    python benchmarks/mt_quality.py                    # the benchmark: 3 models x 10 min, 2 threads (~45 min)
    python benchmarks/mt_quality.py --explore --minutes 1.5 --models attention --recipe dropout=0.3
                                                       # the validation slice only (no test), no file
    python benchmarks/mt_quality.py --minutes 0.2 --train-pairs 5000 --test-sources 50 --out /tmp/x.json
                                                       # a smoke run of the pipeline

The models (``--models``, default all three, trained one after the other):

* ``seq2seq``: the model exactly as chapter 12 teaches it (``Seq2SeqEncoder`` and
  ``Seq2SeqDecoder``: a GRU encoder–decoder with a fixed context and a full softmax),
  at the recipe's sizes;
* ``seq2seq_adaptive``: the same with an adaptive softmax output layer (Grave et al.
  2017; chapter 14);
* ``attention``: the decoder with additive attention (``Seq2SeqAttentionDecoder``,
  Bahdanau et al. 2015; chapter 14), with the output layer (full or adaptive) that
  scored higher on the validation slice in the comparison of the first two.

The data (``rnncourse.translation.load_split_nmt(max_tokens=--max-tokens)``): the Tatoeba
pairs of at most 10 tokens a side by default, split by English sentence (an English
sentence is in one part only):

* ``train``: every pair of the training sentences; the vocabularies (``nmt_vocabs`` with
  the recipe's ``min_freq``) and the minibatches come from it.
* ``valid``: a validation slice of the training part (5 % of its English sentences, with
  all their French translations); the first ``--valid-sources`` are scored. Every choice
  between variants is made on it, and the file records the scores that made it:
  the output layer of the attention model, and the best model of the last line.
* ``test``: 1,000 English sentences drawn at random (fixed seed), each with all its
  French translations as references. Scored once per model, after training.

Each model is trained by ``rnncourse.seq2seq.train_seq2seq`` (teacher forcing, the
masked loss, Adam with the learning rate halved every epoch, gradient clipping) for
``--minutes`` of wall-clock time; then the validation and test sentences are translated
by greedy search and by beam search (beam 4, alpha = 0.75), BLEU also by source-length
bucket; the best model (on validation) is also decoded with beam sizes 1, 2, 4, 8 and
alpha = 0, 0.75, 1. BLEU is ``rnncourse.bleu.corpus_bleu`` (standard corpus BLEU, 0–100,
all references of a sentence), which equals sacrebleu's with ``tokenize="none"``.

The JSON file (``benchmarks/results/mt_quality.json`` by default, only for a full run
with the default data sizes) records the command, the machine, the date, the load
average before and after (also per model), the recipe, the data sizes, the choices and
their validation scores, one row per model in ``models`` (``name``, ``bleu_greedy``,
``bleu_beam``, ``bleu_by_length``, ``valid_bleu``, ``seconds``, ...), the best model's
full decoding table (``test``), and sample translations. The last line printed is::

    best: <model> bleu_greedy=<x> bleu_beam=<y> seconds=<training seconds>

with ``bleu_beam`` the test BLEU of beam 4, alpha = 0.75. Timings depend on the machine
and on whatever else runs on it (the JSON has the load average): run it on a quiet one.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "mt_quality.json"

# The recipe, shared by the three models. From the planning runs (a 2 x 256 GRU, dropout
# 0.2, Adam 3e-3 halved every epoch, minibatches of 128); check a change with --explore on
# the validation slice before a full run.
RECIPE = {
    "embed_size": 256,
    "num_hiddens": 256,
    "num_layers": 2,
    "dropout": 0.2,
    "lr": 3e-3,
    "lr_decay": 0.5,           # lr multiplied by this at the start of every epoch after the first
    "batch_size": 128,
    "min_freq": 2,
    "theta": 1.0,
    "cutoffs": "2000:6000",    # the adaptive softmax's cutoffs (seq2seq_adaptive, and attention if chosen)
}
_TYPES = {"embed_size": int, "num_hiddens": int, "num_layers": int, "dropout": float, "lr": float,
          "lr_decay": float, "batch_size": int, "min_freq": int, "theta": float, "cutoffs": str}
MODELS = ("seq2seq", "seq2seq_adaptive", "attention")
BEAMS = (1, 2, 4, 8)
ALPHAS = (0.0, 0.75, 1.0)
# source-length buckets (English tokens, <eos> not counted) for BLEU by length
BUCKETS = ((1, 4), (5, 6), (7, 8), (9, 10), (11, 15), (16, 20), (21, 10_000))


def bucket_name(lo: int, hi: int) -> str:
    return f"{lo}-{hi}" if hi < 10_000 else f"{lo}+"


def parse_recipe(text: str) -> dict:
    recipe = dict(RECIPE)
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        if key not in _TYPES or not value:
            raise argparse.ArgumentTypeError(f"unknown recipe item {item!r}: use key=value with keys {sorted(_TYPES)}")
        try:
            recipe[key] = _TYPES[key](value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"recipe item {item!r}: {error}") from error
    try:
        cutoffs = [int(c) for c in recipe["cutoffs"].split(":")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"cutoffs must look like 2000:6000, got {recipe['cutoffs']!r}") from error
    if cutoffs != sorted(set(cutoffs)) or cutoffs[0] < 1:
        raise argparse.ArgumentTypeError(f"cutoffs must be increasing positive integers, got {recipe['cutoffs']!r}")
    if not 0 < recipe["lr_decay"] <= 1:
        raise argparse.ArgumentTypeError(f"lr_decay must lie in (0, 1], got {recipe['lr_decay']}")
    if not 0 <= recipe["dropout"] < 1:
        raise argparse.ArgumentTypeError(f"dropout must lie in [0, 1), got {recipe['dropout']}")
    return recipe


def parse_models(text: str) -> list[str]:
    models = [m.strip() for m in text.split(",") if m.strip()]
    if not models or any(m not in MODELS for m in models) or len(set(models)) != len(models):
        raise argparse.ArgumentTypeError(f"--models must be distinct names among {', '.join(MODELS)}, got {text!r}")
    return [m for m in MODELS if m in models]  # the order of MODELS: the choice needs the first two first


def _positive(kind):
    def check(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return check


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=_positive(float), default=10.0, help="training budget per model (default 10)")
    p.add_argument("--threads", type=_positive(int), default=2, help="torch CPU threads (default 2)")
    p.add_argument("--recipe", type=parse_recipe, default=dict(RECIPE),
                   help="changes to the recipe, e.g. dropout=0.3,num_hiddens=512")
    p.add_argument("--models", type=parse_models, default=list(MODELS),
                   help=f"models to train, among {','.join(MODELS)} (default all)")
    p.add_argument("--max-tokens", type=_positive(int), default=10,
                   help="keep the pairs of at most this many tokens a side (default 10)")
    p.add_argument("--explore", action="store_true",
                   help="score the validation slice only (greedy and beam 4), never the test set; writes no file")
    p.add_argument("--valid-sources", type=_positive(int), default=1000,
                   help="validation sentences scored (default 1000)")
    p.add_argument("--train-pairs", type=_positive(int), default=None, help="use only the first N training pairs")
    p.add_argument("--test-sources", type=_positive(int), default=None, help="score only the first N test sentences")
    p.add_argument("--beams", default=",".join(map(str, BEAMS)), help="beam sizes (default 1,2,4,8)")
    p.add_argument("--out", type=pathlib.Path, default=None,
                   help=f"results file (default {RESULTS.relative_to(ROOT)} for a full run, none otherwise)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: the first GPU, else the CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--note", default="", help="a note stored in the results file (e.g. why a run is short)")
    args = p.parse_args(argv)
    try:
        args.beams = sorted({int(b) for b in args.beams.split(",")})
    except ValueError:
        p.error(f"--beams must be comma-separated integers, got {args.beams!r}")
    if not args.beams or min(args.beams) < 1 or 4 not in args.beams:
        p.error("--beams must be integers >= 1 and include 4 (the headline figure)")
    full = (not args.explore and args.train_pairs is None and args.test_sources is None
            and args.models == list(MODELS) and args.max_tokens == 10)
    if args.out is None and full:
        args.out = RESULTS
    return args


def machine_info(device: torch.device) -> dict:
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "device": str(device), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def build_net(name: str, recipe: dict, src_vocab, tgt_vocab, adaptive: bool):
    from rnncourse.seq2seq import build_translator

    cutoffs = [int(c) for c in recipe["cutoffs"].split(":")] if adaptive else None
    if cutoffs is not None and cutoffs[-1] >= len(tgt_vocab):
        raise SystemExit(f"cutoffs {recipe['cutoffs']} do not fit a vocabulary of {len(tgt_vocab)} tokens")
    return build_translator(len(src_vocab), len(tgt_vocab), recipe["embed_size"], recipe["num_hiddens"],
                            recipe["num_layers"], recipe["dropout"], attention=name == "attention",
                            adaptive_cutoffs=cutoffs)


def bleu_by_length(hyps: list[str], items) -> dict:
    """Corpus BLEU of the sentences in each source-length bucket (empty buckets left out)."""
    from rnncourse.bleu import corpus_bleu

    out = {}
    for lo, hi in BUCKETS:
        chosen = [i for i, (src, _) in enumerate(items) if lo <= len(src) <= hi]
        if chosen:
            out[bucket_name(lo, hi)] = {"bleu": corpus_bleu([hyps[i] for i in chosen],
                                                            [[" ".join(r) for r in items[i][1]] for i in chosen]),
                                        "sentences": len(chosen)}
    return out


def decode(net, items, src_vocab, tgt_vocab, num_steps, device) -> dict:
    """Greedy and beam 4 (alpha 0.75) translations of ``items``, their BLEU, BLEU by length, seconds."""
    from rnncourse.bleu import corpus_bleu
    from rnncourse.decoding import translate_corpus

    sources = [src for src, _ in items]
    references = [[" ".join(ref) for ref in refs] for _, refs in items]
    start = time.perf_counter()
    greedy = translate_corpus(net, sources, src_vocab, tgt_vocab, num_steps, device=device)
    greedy_seconds = time.perf_counter() - start
    start = time.perf_counter()
    beam = translate_corpus(net, sources, src_vocab, tgt_vocab, num_steps, beam_size=4, alpha=0.75, device=device)
    beam_seconds = time.perf_counter() - start
    return {"bleu_greedy": corpus_bleu(greedy, references), "bleu_beam": corpus_bleu(beam, references),
            "bleu_by_length": {k: v["bleu"] for k, v in bleu_by_length(beam, items).items()},
            "bleu_by_length_greedy": {k: v["bleu"] for k, v in bleu_by_length(greedy, items).items()},
            "sentences_by_length": {k: v["sentences"] for k, v in bleu_by_length(greedy, items).items()},
            "mean_length_greedy": sum(len(h.split()) for h in greedy) / len(greedy),
            "mean_length_beam": sum(len(h.split()) for h in beam) / len(beam),
            "decoding_seconds": {"greedy": greedy_seconds, "beam4": beam_seconds},
            "outputs": {"greedy": greedy, "beam4": beam}}


def score(net, items, src_vocab, tgt_vocab, num_steps, beams, alphas, device) -> dict:
    """BLEU, mean output length (tokens) and decoding seconds: greedy, and every beam size x alpha."""
    from rnncourse.bleu import corpus_bleu
    from rnncourse.decoding import translate_corpus, translate_corpus_alphas

    sources = [src for src, _ in items]
    references = [[" ".join(ref) for ref in refs] for _, refs in items]

    def row(hyps: list[str], seconds: float) -> dict:
        return {"bleu": corpus_bleu(hyps, references), "mean_length": sum(len(h.split()) for h in hyps) / len(hyps),
                "seconds": seconds}

    start = time.perf_counter()
    greedy = translate_corpus(net, sources, src_vocab, tgt_vocab, num_steps, device=device)
    table = {"greedy": row(greedy, time.perf_counter() - start), "beam": {}}
    for beam_size in beams:
        start = time.perf_counter()
        by_alpha = translate_corpus_alphas(net, sources, src_vocab, tgt_vocab, num_steps, beam_size, alphas, device)
        seconds = time.perf_counter() - start  # one search for all alphas
        for alpha, hyps in by_alpha.items():
            table["beam"][f"beam={beam_size},alpha={alpha:g}"] = {**row(hyps, seconds), "beam_size": beam_size,
                                                                  "alpha": alpha}
    return table


def format_table(table: dict) -> str:
    lines = [f"{'decoding':<22}{'BLEU':>8}{'length':>8}{'seconds':>9}",
             f"{'greedy':<22}{table['greedy']['bleu']:>8.2f}{table['greedy']['mean_length']:>8.2f}"
             f"{table['greedy']['seconds']:>9.1f}"]
    for name, r in table["beam"].items():
        lines.append(f"{name:<22}{r['bleu']:>8.2f}{r['mean_length']:>8.2f}{r['seconds']:>9.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from rnncourse.loop import TrainConfig
    from rnncourse.seq2seq import train_seq2seq
    from rnncourse.translation import load_split_nmt, nmt_loader, nmt_vocabs
    from rnncourse.utils import set_seed, try_gpu

    torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else try_gpu()
    recipe = args.recipe
    load_before = load_average()
    split = load_split_nmt(max_tokens=args.max_tokens)  # grouped by English sentence, 1,000 test sentences, seed 0
    train = split.train[:args.train_pairs] if args.train_pairs else split.train
    test = split.test[:args.test_sources] if args.test_sources else split.test
    valid = split.valid[:args.valid_sources]
    src_vocab, tgt_vocab = nmt_vocabs(train, min_freq=recipe["min_freq"])
    num_steps = args.max_tokens + 1  # the tokens and <eos>
    print(f"{len(train):,} training pairs, vocabularies {len(src_vocab):,} / {len(tgt_vocab):,}, "
          f"{len(valid):,} validation and {len(test):,} test sentences; {args.minutes:g} min per model, "
          f"{args.threads} thread(s), {device}; load average {load_before}", flush=True)

    def lr_schedule(epoch: int) -> float:
        return recipe["lr"] * recipe["lr_decay"] ** (epoch - 1)

    rows, nets, choices = [], {}, {}
    for name in args.models:
        if name == "attention":
            if {"seq2seq", "seq2seq_adaptive"} <= {r["name"] for r in rows}:
                by = {r["name"]: r["valid_bleu"] for r in rows}
                adaptive = by["seq2seq_adaptive"] > by["seq2seq"]
                choices["attention_output_layer"] = {
                    "chosen": "adaptive" if adaptive else "full",
                    "on": "valid_bleu (beam 4, alpha 0.75) of seq2seq (full) and seq2seq_adaptive",
                    "valid_bleu": {"full": by["seq2seq"], "adaptive": by["seq2seq_adaptive"]}}
            else:
                adaptive = True
                choices["attention_output_layer"] = {"chosen": "adaptive", "on": "not compared in this run"}
        else:
            adaptive = name == "seq2seq_adaptive"
        set_seed(args.seed)
        net = build_net(name, recipe, src_vocab, tgt_vocab, adaptive)
        train_iter = nmt_loader(train, src_vocab, tgt_vocab, num_steps, recipe["batch_size"], seed=args.seed)
        parameters = sum(p.numel() for p in net.parameters())
        load_start = load_average()
        print(f"== {name}: {type(net.decoder).__name__}, {'adaptive' if adaptive else 'full'} softmax, "
              f"{parameters:,} parameters; load average {load_start}", flush=True)

        def report(epoch: int, history: dict) -> None:
            print(f"epoch {epoch}: loss {history['loss'][-1]:.3f}, {history['epoch_seconds'][-1]:.0f} s", flush=True)

        config = TrainConfig(max_seconds=args.minutes * 60, lr_schedule=lr_schedule, on_epoch_end=report)
        history = train_seq2seq(net, train_iter, recipe["lr"], 10_000, tgt_vocab, device, theta=recipe["theta"],
                                config=config)
        load_end = load_average()
        print(f"trained {history['seconds']:.0f} s, {history['epochs']} epoch(s) begun, "
              f"{history['tokens_per_sec']:,.0f} target tokens/s; load average {load_end}", flush=True)
        v = decode(net, valid, src_vocab, tgt_vocab, num_steps, device)
        print(f"valid ({len(valid)} sentences): bleu_greedy={v['bleu_greedy']:.2f} bleu_beam={v['bleu_beam']:.2f}",
              flush=True)
        row = {"name": name, "decoder": type(net.decoder).__name__,
               "output_layer": f"adaptive {recipe['cutoffs']}" if adaptive else "full", "parameters": parameters,
               "valid_bleu": v["bleu_beam"], "valid_bleu_greedy": v["bleu_greedy"],
               "seconds": history["seconds"], "epochs": history["epochs"], "tokens": history["tokens"],
               "tokens_per_sec": history["tokens_per_sec"], "loss": history["loss"],
               "load_average_start": load_start, "load_average_end": load_end}
        if not args.explore:
            t = decode(net, test, src_vocab, tgt_vocab, num_steps, device)
            row.update({k: t[k] for k in ("bleu_greedy", "bleu_beam", "bleu_by_length", "bleu_by_length_greedy",
                                          "sentences_by_length", "mean_length_greedy", "mean_length_beam",
                                          "decoding_seconds")})
            row["outputs"] = t["outputs"]
            print(f"test ({len(test)} sentences): bleu_greedy={t['bleu_greedy']:.2f} bleu_beam={t['bleu_beam']:.2f} "
                  f"by length (beam 4): " + ", ".join(f"{k}: {b:.1f}" for k, b in t["bleu_by_length"].items()),
                  flush=True)
        rows.append(row)
        nets[name] = net

    best = max(rows, key=lambda r: r["valid_bleu"])
    choices["best"] = {"chosen": best["name"], "on": "valid_bleu (beam 4, alpha 0.75)",
                       "valid_bleu": {r["name"]: r["valid_bleu"] for r in rows}}
    if args.explore:
        for r in rows:
            print(f"explore: {r['name']} {recipe} valid_greedy={r['valid_bleu_greedy']:.2f} "
                  f"valid_beam={r['valid_bleu']:.2f} epochs={r['epochs']} seconds={r['seconds']:.0f}")
        return {"models": rows, "choices": choices}

    table = score(nets[best["name"]], test, src_vocab, tgt_vocab, num_steps, args.beams, ALPHAS, device)
    print(f"the best model on validation, {best['name']}, on the test set:")
    print(format_table(table))
    headline = best["bleu_beam"]
    outputs = {r["name"]: r.pop("outputs") for r in rows}
    samples = [{"source": " ".join(src), "references": [" ".join(r) for r in refs],
                "greedy": outputs[best["name"]]["greedy"][i], "beam4": outputs[best["name"]]["beam4"][i],
                **{f"{name}_beam4": out["beam4"][i] for name, out in outputs.items()}}
               for i, (src, refs) in enumerate(test[:12])]
    by_name = {r["name"]: r for r in rows}
    record = {
        "command": shlex.join(["python", "benchmarks/mt_quality.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(device),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "quick": args.minutes < 10 or args.out != RESULTS or args.valid_sources < 1000,
        "note": args.note,
        "recipe": recipe,
        "minutes": args.minutes,
        "max_tokens": args.max_tokens,
        "sizes": {"train_pairs": len(train), "valid_sources_scored": len(valid), "test_sources": len(test),
                  "test_references": sum(len(refs) for _, refs in test), "split": split.sizes(),
                  "src_vocab": len(src_vocab), "tgt_vocab": len(tgt_vocab)},
        "choices": choices,
        "models": rows,
        "best": best["name"],
        "test": table,
        "target": {"best_bleu_beam_at_least_34": headline >= 34},
        "samples": samples,
    }
    if "seq2seq" in by_name and "attention" in by_name:
        record["attention_minus_seq2seq"] = {
            "bleu_greedy": by_name["attention"]["bleu_greedy"] - by_name["seq2seq"]["bleu_greedy"],
            "bleu_beam": by_name["attention"]["bleu_beam"] - by_name["seq2seq"]["bleu_beam"]}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    for r in rows:
        print(f"{r['name']:<18} valid {r['valid_bleu']:6.2f}  test greedy {r['bleu_greedy']:6.2f}  "
              f"beam {r['bleu_beam']:6.2f}  {r['seconds']:.0f} s, {r['tokens_per_sec']:,.0f} tokens/s")
    print(f"best: {best['name']} bleu_greedy={best['bleu_greedy']:.2f} bleu_beam={headline:.2f} "
          f"seconds={best['seconds']:.0f}")
    return record


if __name__ == "__main__":
    main()
