"""benchmarks/lm_quality.py: the held-out evaluation stream and the command line (no training, no timing)."""
import importlib.util
import pathlib

import pytest
import torch

from rnncourse.models import RNNModel, RNNModelScratch
from rnncourse.ngram import train_valid_test_split
from rnncourse.text import load_corpus_time_machine
from rnncourse.train import FixedBatches, evaluate_perplexity

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "lm_quality.py"
_spec = importlib.util.spec_from_file_location("lm_quality", _PATH)
lm_quality = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lm_quality)


@pytest.fixture(scope="module")
def test_tail():
    corpus, vocab = load_corpus_time_machine(-1, "char")
    return train_valid_test_split(corpus)[2], vocab


def test_one_stream_predicts_every_token_of_the_tail_in_order(test_tail):
    tail, _ = test_tail
    batches = lm_quality.stream_batches(tail, rows=1, chunk=500)
    X = torch.cat([x for x, _ in batches], dim=1)
    Y = torch.cat([y for _, y in batches], dim=1)
    assert X.shape == Y.shape == (1, len(tail) - 1)
    assert X[0].tolist() == tail[:-1] and Y[0].tolist() == tail[1:]
    assert all(x.shape[1] <= 500 for x, _ in batches)


def test_rows_are_contiguous_streams(test_tail):
    tail, _ = test_tail
    rows = 8
    length = (len(tail) - 1) // rows
    batches = lm_quality.stream_batches(tail, rows=rows, chunk=300)
    X = torch.cat([x for x, _ in batches], dim=1)
    Y = torch.cat([y for _, y in batches], dim=1)
    for r in range(rows):
        assert X[r].tolist() == tail[r * length:(r + 1) * length]
        assert Y[r].tolist() == tail[r * length + 1:(r + 1) * length + 1]
    assert len(tail) - 1 - rows * length < rows  # fewer than `rows` targets are left out
    with pytest.raises(ValueError, match="too few"):
        lm_quality.stream_batches(tail[:5], rows=8)


def test_chunked_evaluation_carries_the_state(test_tail):
    # reading the tail in chunks, the state carried over, must score exactly what one pass does
    tail, vocab = test_tail
    tail = tail[:1201]
    torch.manual_seed(0)
    whole = FixedBatches([(torch.tensor([tail[:-1]]), torch.tensor([tail[1:]]))], use_random_iter=False)
    for implementation in ("scratch", "concise"):
        net = lm_quality.build_model(implementation, "lstm", 2, 16, 0.2, len(vocab))
        assert isinstance(net, RNNModelScratch if implementation == "scratch" else RNNModel)
        for p in net.parameters():  # weights large enough for the state to matter
            torch.nn.init.normal_(p, std=0.5)
        chunked = evaluate_perplexity(net, lm_quality.stream_batches(tail, rows=1, chunk=100))
        assert chunked == pytest.approx(evaluate_perplexity(net, whole), rel=1e-5)
        reset = _ResetEveryChunk(lm_quality.stream_batches(tail, rows=1, chunk=100))
        assert evaluate_perplexity(net, reset) != pytest.approx(chunked, rel=1e-3)  # the state does matter


class _ResetEveryChunk(list):
    """Minibatches that evaluate_perplexity must start from a fresh state (random-sampling style)."""
    use_random_iter = True


def test_one_layer_models_have_no_dropout():
    assert lm_quality.build_model("concise", "gru", 1, 8, 0.5, 28).rnn.dropout == 0.0
    assert lm_quality.build_model("concise", "gru", 2, 8, 0.5, 28).rnn.dropout == 0.5


def test_command_line_rejects_unknown_models_and_bad_budgets(capsys):
    for argv in (["--models", "lstm,best"], ["--table-seconds", "0"], ["--threads", "0"]):
        with pytest.raises(SystemExit):
            lm_quality.parse_args(argv)
    args = lm_quality.parse_args(["--quick", "--models", "gru_concise,best"])
    assert args.models == ["gru_concise", "best"] and args.out is None  # --quick writes no file by default
    assert lm_quality.parse_args([]).out == lm_quality.RESULTS  # only the full comparison replaces the file
    assert lm_quality.parse_args(["--models", "best"]).out is None
    assert lm_quality.parse_args(["--recipe", "cell=gru,num_hiddens=320"]).recipe["num_hiddens"] == 320
    for bad in ("cell=cnn", "hidden=3", "dropout=lots"):
        with pytest.raises(SystemExit):
            lm_quality.parse_args(["--recipe", bad])


def test_stream_log_probs_score_what_evaluate_perplexity_scores(test_tail):
    tail, vocab = test_tail
    tail = tail[:1301]
    torch.manual_seed(0)
    net = lm_quality.build_model("concise", "lstm", 2, 16, 0.2, len(vocab))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.5)
    log_p = lm_quality.stream_log_probs(net, tail, torch.device("cpu"))
    assert log_p.shape == (len(tail) - 1,)
    ppl = evaluate_perplexity(net, lm_quality.stream_batches(tail, rows=1))
    assert float(__import__("numpy").exp(-log_p.mean())) == pytest.approx(ppl, rel=1e-6)


def test_mixture_weight_ends_are_the_two_models(test_tail):
    import numpy as np
    rng = np.random.default_rng(0)
    a = np.log(rng.uniform(0.05, 1, 500))
    b = np.log(rng.uniform(0.05, 1, 500))
    assert lm_quality.mix_perplexity(a, b, 1.0) == pytest.approx(np.exp(-a.mean()))
    assert lm_quality.mix_perplexity(a, b, 0.0) == pytest.approx(np.exp(-b.mean()))
    # the log of a mixture is concave: the mixture never loses to the worse model
    mid = lm_quality.mix_perplexity(a, b, 0.5)
    assert mid <= max(np.exp(-a.mean()), np.exp(-b.mean()))
    assert lm_quality.MIXTURE_WEIGHTS[0] == 0 and lm_quality.MIXTURE_WEIGHTS[-1] == 1


def test_dynamic_evaluation_scores_before_it_learns(test_tail):
    tail, vocab = test_tail
    tail = tail[:801]
    torch.manual_seed(0)
    net = lm_quality.build_model("concise", "gru", 1, 16, 0.0, len(vocab))
    before = [p.detach().clone() for p in net.parameters()]
    static = lm_quality.stream_log_probs(net, tail, torch.device("cpu"))
    dynamic = lm_quality.dynamic_log_probs(net, tail, torch.device("cpu"), lr=0.1, chunk=50)
    assert dynamic.shape == static.shape
    # the first chunk is scored before any update: identical; later ones differ
    assert dynamic[:50] == pytest.approx(static[:50], abs=1e-9)
    assert abs(dynamic[50:] - static[50:]).max() > 1e-4
    # the network itself is untouched (the adaptation works on a copy)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    # step size 0 is the static evaluation
    zero = lm_quality.dynamic_log_probs(net, tail, torch.device("cpu"), lr=0.0, chunk=50)
    assert zero == pytest.approx(static, abs=1e-9)
