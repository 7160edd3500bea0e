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
    for argv in (["--minutes", "0"], ["--threads", "0"], ["--recipe", "model=transformer"],
                 ["--recipe", "hidden=3"], ["--recipe", "dropout=lots"], ["--beams", "1,2"],
                 ["--beams", "0,4"], ["--recipe", "lr_decay=0"], ["--recipe", "cutoffs=2000:x"],
                 ["--recipe", "model=seq2seq,cutoffs=2000:6000"]):
        with pytest.raises(SystemExit):
            mt_quality.parse_args(argv)
    args = mt_quality.parse_args([])
    assert args.minutes == 10 and args.threads == 2 and args.out == mt_quality.RESULTS
    assert args.beams == [1, 2, 4, 8] and args.recipe == mt_quality.RECIPE
    # only a full run replaces the committed file by default
    assert mt_quality.parse_args(["--explore"]).out is None
    assert mt_quality.parse_args(["--test-sources", "10"]).out is None
    seq2seq = mt_quality.parse_args(["--recipe", "model=seq2seq,num_hiddens=128"]).recipe
    assert seq2seq["num_hiddens"] == 128 and seq2seq["cutoffs"] == ""  # the notes' decoder: a full softmax
    assert mt_quality.parse_args(["--recipe", "cutoffs="]).recipe["cutoffs"] == ""


def test_a_tiny_run_writes_every_field(tmp_path, capsys):
    out = tmp_path / "mt.json"
    record = mt_quality.main(["--minutes", "0.03", "--threads", "1", "--train-pairs", "3000",
                              "--test-sources", "8", "--valid-sources", "8", "--beams", "1,4",
                              "--recipe", "embed_size=16,num_hiddens=16,num_layers=1,cutoffs=100:300",
                              "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["sizes"]["test_sources"] == 8 and saved["sizes"]["train_pairs"] == 3000
    assert set(saved["test"]["beam"]) == {f"beam={b},alpha={a:g}" for b in (1, 4) for a in (0, 0.75, 1)}
    for row in [saved["test"]["greedy"], *saved["test"]["beam"].values()]:
        assert 0 <= row["bleu"] <= 100 and row["mean_length"] >= 0
    # beam 1 is greedy search: the same translations, so the same BLEU for every alpha
    for alpha in ("0", "0.75", "1"):
        assert saved["test"]["beam"][f"beam=1,alpha={alpha}"]["bleu"] == pytest.approx(saved["test"]["greedy"]["bleu"])
    assert set(saved["target"]) == {"bleu_beam4_alpha0.75_at_least_25", "beam_at_least_greedy_plus_1"}
    assert len(saved["samples"]) == 8 and {"source", "references", "greedy", "beam4"} <= set(saved["samples"][0])
    assert saved["training"]["seconds"] <= 0.03 * 60 + 15  # the budget, plus at most one slow minibatch
    assert saved["load_average_before"] is None or len(saved["load_average_before"]) == 3
    assert record["recipe"]["num_hiddens"] == 16
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("best: attention bleu_greedy=") and " bleu_beam=" in last and " seconds=" in last
