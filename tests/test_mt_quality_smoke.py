"""benchmarks/mt_quality.py: the command line, and a tiny run of the whole pipeline (numbers mean nothing)."""
import importlib.util
import json
import pathlib

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "mt_quality.py"
_spec = importlib.util.spec_from_file_location("mt_quality", _PATH)
mt_quality = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mt_quality)


def test_command_line_checks_its_arguments():
    for argv in (["--minutes", "0"], ["--threads", "0"], ["--recipe", "model=seq2seq"],
                 ["--recipe", "hidden=3"], ["--recipe", "dropout=lots"], ["--beams", "1,2"],
                 ["--beams", "0,4"], ["--recipe", "lr_decay=0"], ["--recipe", "cutoffs=2000:x"],
                 ["--recipe", "cutoffs=6000:2000"], ["--models", "transformer"], ["--models", "seq2seq,seq2seq"],
                 ["--max-tokens", "0"]):
        with pytest.raises(SystemExit):
            mt_quality.parse_args(argv)
    args = mt_quality.parse_args([])
    assert args.minutes == 10 and args.threads == 2 and args.out == mt_quality.RESULTS
    assert args.beams == [1, 2, 4, 8] and args.recipe == mt_quality.RECIPE
    assert args.models == ["seq2seq", "seq2seq_adaptive", "attention"] and args.max_tokens == 10
    # only a full run replaces the committed file by default
    for argv in (["--explore"], ["--test-sources", "10"], ["--models", "attention"], ["--max-tokens", "20"]):
        assert mt_quality.parse_args(argv).out is None
    assert mt_quality.parse_args(["--models", "attention,seq2seq"]).models == ["seq2seq", "attention"]
    assert mt_quality.parse_args(["--recipe", "num_hiddens=128"]).recipe["num_hiddens"] == 128


def test_a_tiny_run_writes_every_field(tmp_path, capsys):
    out = tmp_path / "mt.json"
    record = mt_quality.main(["--minutes", "0.02", "--threads", "1", "--train-pairs", "3000",
                              "--test-sources", "30", "--valid-sources", "8", "--beams", "1,4",
                              "--recipe", "embed_size=16,num_hiddens=16,num_layers=1,cutoffs=100:300",
                              "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["sizes"]["test_sources"] == 30 and saved["sizes"]["train_pairs"] == 3000
    assert saved["quick"] is True
    assert [m["name"] for m in saved["models"]] == ["seq2seq", "seq2seq_adaptive", "attention"]
    for m in saved["models"]:
        assert {"bleu_greedy", "bleu_beam", "bleu_by_length", "valid_bleu", "seconds"} <= set(m)
        assert 0 <= m["bleu_greedy"] <= 100 and 0 <= m["bleu_beam"] <= 100
        assert sum(m["sentences_by_length"].values()) == 30
        assert m["seconds"] <= 0.02 * 60 + 15  # the budget, plus at most one slow minibatch
    # the choices are made on validation and record the scores that made them
    by = {m["name"]: m for m in saved["models"]}
    layer = saved["choices"]["attention_output_layer"]
    assert layer["valid_bleu"] == {"full": by["seq2seq"]["valid_bleu"], "adaptive": by["seq2seq_adaptive"]["valid_bleu"]}
    assert by["attention"]["output_layer"].startswith(layer["chosen"])
    assert by["seq2seq"]["decoder"] == "Seq2SeqDecoder" and by["attention"]["decoder"] == "Seq2SeqAttentionDecoder"
    best = saved["choices"]["best"]["chosen"]
    assert saved["best"] == best and by[best]["valid_bleu"] == max(m["valid_bleu"] for m in saved["models"])
    assert set(saved["test"]["beam"]) == {f"beam={b},alpha={a:g}" for b in (1, 4) for a in (0, 0.75, 1)}
    # beam 1 is greedy search: the same translations, so the same BLEU for every alpha
    for alpha in ("0", "0.75", "1"):
        assert saved["test"]["beam"][f"beam=1,alpha={alpha}"]["bleu"] == pytest.approx(saved["test"]["greedy"]["bleu"])
    assert saved["test"]["greedy"]["bleu"] == pytest.approx(by[best]["bleu_greedy"])
    assert saved["test"]["beam"]["beam=4,alpha=0.75"]["bleu"] == pytest.approx(by[best]["bleu_beam"])
    assert len(saved["samples"]) == 12 and {"source", "references", "greedy", "beam4"} <= set(saved["samples"][0])
    assert saved["load_average_before"] is None or len(saved["load_average_before"]) == 3
    assert record["recipe"]["num_hiddens"] == 16
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"best: {best} bleu_greedy=") and " bleu_beam=" in last and " seconds=" in last
