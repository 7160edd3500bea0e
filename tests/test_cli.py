"""The command line, run as a user runs it: ``python -m rnncourse ...`` in a subprocess, on the
real corpora; exit status 0 on success, 2 on a usage error, 1 on a data or checkpoint error
(one line on stderr, no traceback)."""
import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys

import pytest
import torch

from rnncourse.cli import EVAL_ROWS, eval_batches
from rnncourse.generate import predict
from rnncourse.models import RNNModelScratch
from rnncourse.ngram import laplace_table, train_valid_test_split
from rnncourse.text import load_corpus_time_machine
from rnncourse.train import evaluate_perplexity, load_checkpoint, save_checkpoint
from rnncourse.utils import set_seed

REPO = pathlib.Path(__file__).resolve().parents[1]


def run(*args, env=None, timeout=600):
    """``python -m rnncourse *args``: (exit status, stdout, stderr)."""
    full_env = {**os.environ, "TQDM_DISABLE": "1", **(env or {})}
    done = subprocess.run([sys.executable, "-m", "rnncourse", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=REPO, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def assert_one_line_error(rc, out, err, *fragments):
    assert rc == 1, (rc, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run through the command line: (checkpoint path, stdout)."""
    ckpt = tmp_path_factory.mktemp("cli") / "gru.pt"
    rc, out, err = run("train", "--corpus", "time_machine", "--model", "gru", "--hidden", 24, "--steps", 16,
                       "--batch", 16, "--epochs", 2, "--minutes", 0.15, "--threads", 1, "--seed", 1, "--out", ckpt)
    assert rc == 0, err
    return ckpt, out


# ---- usage


@pytest.mark.parametrize("command", [[], ["train"], ["generate"], ["evaluate"], ["data"], ["data", "fetch"],
                                     ["train-translator"], ["translate"]])
def test_every_help_gives_an_example(command):
    rc, out, _ = run(*command, "--help")
    assert rc == 0 and "usage: rnncourse" in out
    assert re.search(r"^examples?:\n  rnncourse ", out, flags=re.MULTILINE), out


@pytest.mark.parametrize("args, message", [
    (["train", "--corpus", "war_and_peace", "--model", "gru", "--out", "x.pt"], "invalid choice: 'war_and_peace'"),
    (["train", "--corpus", "time_machine", "--model", "gru"], "--out"),
    (["train", "--corpus", "time_machine", "--model", "gru", "--hidden", "0", "--out", "x.pt"], "positive integer"),
    (["train", "--corpus", "time_machine", "--model", "gru", "--dropout", "0.2", "--out", "x.pt"], "--layers 2"),
    (["train", "--corpus", "time_machine", "--model", "gru", "--minutes", "nan", "--out", "x.pt"], "positive"),
    (["generate"], "checkpoint"),
    (["generate", "x.pt", "--temperature", "-1"], "number >= 0"),
    (["evaluate", "x.pt", "--split", "train"], "invalid choice: 'train'"),
    (["data", "fetch", "time-machine"], "invalid choice"),
    ([], "COMMAND"),
])
def test_usage_errors_exit_2(args, message):
    rc, out, err = run(*args)
    assert rc == 2 and out == "" and message in err and "Traceback" not in err, err


def test_console_script_is_installed():
    """``make install`` installs the package with its console script ``rnncourse``."""
    (entry,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "rnncourse"]
    assert entry.value == "rnncourse.cli:main"
    script = pathlib.Path(sys.executable).parent / "rnncourse"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "rnncourse train" in done.stdout


# ---- train, generate, evaluate


def test_train_reports_validation_per_epoch_and_saves_everything(trained):
    ckpt, out = trained
    net, vocab, extra = load_checkpoint(ckpt, with_extra=True)
    corpus, corpus_vocab = load_corpus_time_machine(-1, "char")
    assert vocab.idx_to_token == corpus_vocab.idx_to_token
    assert extra["data"]["corpus"] == "time_machine" and extra["data"]["valid_frac"] == 0.1
    assert extra["config"]["hidden"] == 24 and extra["config"]["model"] == "gru" and net.vocab_size == len(vocab)
    history = extra["history"]
    epochs = history["epochs"]
    assert 1 <= epochs <= 2 and len(history["valid_perplexity"]) == epochs
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s", out, flags=re.MULTILINE)  # epoch, train, valid
    assert [int(r[0]) for r in rows] == list(range(1, epochs + 1))
    for (_, _, valid), recorded in zip(rows, history["valid_perplexity"]):
        assert float(valid) == pytest.approx(recorded, abs=6e-4)
    assert history["best_valid_perplexity"] < 20  # better than the uniform 28 after a few seconds
    train, valid, test = train_valid_test_split(corpus)
    assert f"train {len(train):,} / valid {len(valid):,} / test {len(test):,}" in out
    assert f"saved {ckpt}" in out


def test_generate_is_predict_on_the_checkpoint(trained):
    ckpt, _ = trained
    net, vocab = load_checkpoint(ckpt)
    rc, out, err = run("generate", ckpt, "--prefix", "time traveller", "--len", 40, "--temperature", 0)
    assert rc == 0, err
    assert out == predict("time traveller", 40, net, vocab) + "\n"
    rc, out, err = run("generate", ckpt, "--len", 60, "--temperature", 1.0, "--top-k", 3, "--seed", 5)
    assert rc == 0, err
    set_seed(5)
    assert out == predict("time traveller", 60, net, vocab, temperature=1.0, top_k=3) + "\n"  # default prefix
    assert "<unk>" not in out


def test_evaluate_next_to_the_best_ngram(trained):
    ckpt, _ = trained
    rc, out, err = run("evaluate", ckpt, "--split", "valid", "--max-order", 3)
    assert rc == 0, err
    numbers = [float(x) for x in re.findall(r"perplexity\s+([\d.]+)", out)]
    model_ppl, ngram_ppl, uniform = numbers
    net, vocab, extra = load_checkpoint(ckpt, with_extra=True)
    # the weights kept are those of the best validation perplexity, measured during training
    assert model_ppl == pytest.approx(extra["history"]["best_valid_perplexity"], abs=6e-4)
    corpus, _ = load_corpus_time_machine(-1, "char")
    train, valid, test = train_valid_test_split(corpus)
    assert model_ppl == pytest.approx(evaluate_perplexity(net, eval_batches(valid, EVAL_ROWS["valid"])), abs=6e-4)
    best = min(laplace_table(train, valid, test, orders=range(1, 4), vocab=range(1, len(vocab))),
               key=lambda r: r["valid_ppl"])
    assert ngram_ppl == pytest.approx(best["valid_ppl"], abs=6e-4)
    assert f"{best['order']}-gram" in out and uniform == len(vocab) - 1


# ---- data and checkpoint errors: exit 1, one line


def test_checkpoint_errors_exit_1_with_one_line(trained, tmp_path):
    ckpt, _ = trained
    assert_one_line_error(*run("generate", tmp_path / "nope.pt"), "no such checkpoint file", "nope.pt")
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    assert_one_line_error(*run("generate", text), str(text))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(ckpt.read_bytes()[:2000])
    assert_one_line_error(*run("evaluate", truncated), str(truncated))
    # a checkpoint of the package that `rnncourse train` did not write: no corpus recorded
    _, vocab = load_corpus_time_machine(max_tokens=1)
    plain = tmp_path / "plain.pt"
    save_checkpoint(plain, RNNModelScratch(len(vocab), 8), vocab)
    assert_one_line_error(*run("evaluate", plain), "does not record its corpus")
    assert_one_line_error(*run("train", "--corpus", "time_machine", "--model", "rnn",
                               "--out", tmp_path / "missing" / "x.pt"), "does not exist")


def test_data_lists_the_state_of_every_corpus(tmp_path):
    shared = pathlib.Path(os.environ["RNNCOURSE_DATA_DIR"])
    rc, out, err = run("data")
    assert rc == 0, err
    assert out.count("verified") == 3 and str(shared / "timemachine.txt") in out
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "timemachine.txt").write_bytes((shared / "timemachine.txt").read_bytes()[:-10])
    env = {"RNNCOURSE_DATA_DIR": str(folder), "RNNCOURSE_CACHE_DIR": str(tmp_path / "cache")}
    rc, out, err = run("data", env=env)
    assert rc == 0, err
    states = dict(re.findall(r"^(\w+)\s+(verified|missing|checksum mismatch)\s", out, flags=re.MULTILINE))
    assert states == {"time_machine": "checksum mismatch", "jay_lyrics": "missing", "fra_eng": "missing"}
    assert str(folder / "jaychou_lyrics.txt.zip") in out and "http://d2l-data.s3-accelerate" in out
    assert_one_line_error(*run("data", "fetch", "time_machine", "--no-download", env=env), "checksum mismatch")
    assert_one_line_error(*run("data", "fetch", "jay_lyrics", "--no-download", env=env),
                          "not available", "jaychou_lyrics.txt.zip")
    rc, out, err = run("data", "fetch", "jay_lyrics", env={"RNNCOURSE_CACHE_DIR": str(tmp_path / "cache")})
    assert rc == 0 and "verified" in out and "extracted" in out, err


# ---- machine translation


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-mt") / "mt.pt"
    rc, out, err = run("train-translator", "--minutes", 0.1, "--train-pairs", 3000, "--embed", 32, "--hidden", 32,
                       "--layers", 1, "--valid-sources", 50, "--threads", 1, "--out", path)
    assert rc == 0, err
    return path, out


def test_train_translator_then_translate(translator):
    from rnncourse.decoding import predict_seq2seq
    from rnncourse.seq2seq import load_translator

    path, out = translator
    assert re.search(r"^epoch 1: training loss [\d.]+ per target token", out, flags=re.MULTILINE), out
    assert "validation BLEU (greedy, 50 sentences)" in out and f"saved {path}" in out
    net, src_vocab, tgt_vocab, extra = load_translator(path, with_extra=True)
    assert extra["config"]["train_pairs"] == 3000 and extra["num_steps"] == 11
    sentences = ["i am home .", "he is calm ."]
    rc, out, err = run("translate", path, *sentences, "--beam", 2, "--alpha", 0.75)
    assert rc == 0, err
    expected = [predict_seq2seq(net, s, src_vocab, tgt_vocab, 11, beam_size=2, alpha=0.75) for s in sentences]
    assert out.splitlines() == expected


def test_translate_errors(trained, tmp_path):
    lm_checkpoint, _ = trained
    assert_one_line_error(*run("translate", tmp_path / "nope.pt", "i am home ."), "no such translator file")
    assert_one_line_error(*run("translate", lm_checkpoint, "i am home ."), "language-model checkpoint")
    rc, _, err = run("translate", lm_checkpoint)
    assert rc == 2 and "SENTENCE" in err
