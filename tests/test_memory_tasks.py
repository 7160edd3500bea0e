"""rnncourse.memory_tasks: the delayed-recall data, the models, the budget, the metric."""
import time

import pytest
import torch

from rnncourse.memory_tasks import (RecallNet, delayed_recall, hidden_for_params,
                                    num_params, recall_accuracy, train_recall)


def test_delayed_recall_layout():
    gen = torch.Generator().manual_seed(0)
    X, y = delayed_recall(500, 7, num_symbols=3, num_distractors=5, generator=gen)
    assert X.shape == (500, 8) and y.shape == (500,) and X.dtype == torch.int64
    assert torch.equal(X[:, 0], y)  # the symbol comes first
    assert y.min() >= 0 and y.max() < 3
    assert X[:, 1:].min() >= 3 and X[:, 1:].max() < 8  # distractors only after it
    assert set(y.tolist()) == {0, 1, 2}  # every symbol is drawn
    X2, _ = delayed_recall(500, 7, 3, 5, torch.Generator().manual_seed(0))
    assert torch.equal(X, X2)  # reproducible from the generator


def test_the_answer_is_only_at_the_start():
    # the distractors carry no information about the symbol: a classifier that sees only
    # them cannot beat chance, one that sees the first token is perfect
    X, y = delayed_recall(4000, 5, generator=torch.Generator().manual_seed(1))
    for k in range(1, 6):
        agree = (X[:, k] - 4 == y).float().mean().item()
        assert abs(agree - 0.25) < 0.03


def test_equal_parameter_counts():
    target = num_params(RecallNet("gru", 28))
    for cell in ("rnn", "gru", "lstm"):
        h = hidden_for_params(cell, target)
        count = num_params(RecallNet(cell, h))
        # the next size up or down would be further from the target
        assert all(abs(count - target) <= abs(num_params(RecallNet(cell, h + d)) - target)
                   for d in (-1, 1))
        assert abs(count - target) < 0.05 * target


def test_gate_bias_sets_the_keeping_gate():
    net = RecallNet("lstm", 6, gate_bias=3.0)
    # with zero input and state the forget gate is σ(3) ≈ 0.95: torch's gate order i, f, g, o
    f_bias = net.rnn.bias_ih_l0[6:12] + net.rnn.bias_hh_l0[6:12]
    assert torch.allclose(f_bias, torch.full((6,), 3.0))
    gru = RecallNet("gru", 5, gate_bias=2.0)  # r, z, n: z keeps the state
    assert torch.allclose(gru.rnn.bias_ih_l0[5:10] + gru.rnn.bias_hh_l0[5:10],
                          torch.full((5,), 2.0))
    with pytest.raises(ValueError, match="gate_bias"):
        RecallNet("rnn", 5, gate_bias=1.0)


def test_a_short_gap_is_learned_and_accuracy_is_measured():
    torch.manual_seed(0)
    net = RecallNet("gru", 16, gate_bias=1.0)
    X, y = delayed_recall(1000, 3, generator=torch.Generator().manual_seed(2))
    before = recall_accuracy(net, X, y)
    assert 0.1 < before < 0.45  # an untrained net guesses
    log = train_recall(net, gap=3, seconds=30, max_steps=300, batch_size=64)
    assert log["steps"] == len(log["losses"]) <= 300
    assert recall_accuracy(net, X, y) > 0.95
    assert sum(log["losses"][-20:]) / 20 < 0.2 < log["losses"][0]


def test_the_budget_is_wall_clock():
    net = RecallNet("rnn", 8)
    start = time.perf_counter()
    log = train_recall(net, gap=20, seconds=0.5)
    assert log["seconds"] < 3 and time.perf_counter() - start < 5 and log["steps"] >= 1


def test_bad_input_raises():
    with pytest.raises(ValueError, match="gap"):
        delayed_recall(4, -1)
    with pytest.raises(ValueError, match="num_symbols"):
        delayed_recall(4, 3, num_symbols=1)
    with pytest.raises(ValueError, match="batch_size"):
        delayed_recall(0, 3)
    with pytest.raises(ValueError, match="cell"):
        RecallNet("transformer", 8)
    with pytest.raises(ValueError, match="num_hiddens"):
        RecallNet("gru", 0)
    with pytest.raises(ValueError, match="seconds"):
        train_recall(RecallNet("gru", 4), 3, seconds=0)


def test_bad_types_raise_type_errors_and_accuracy_keeps_the_mode():
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        delayed_recall(True, 3)
    with pytest.raises(TypeError, match="gap must be an integer"):
        delayed_recall(4, 3.0)
    with pytest.raises(TypeError, match="num_hiddens must be an integer"):
        RecallNet("gru", 8.0)
    with pytest.raises(ValueError, match="gate_bias"):
        RecallNet("gru", 8, gate_bias=float("nan"))
    with pytest.raises(TypeError, match="net must be a RecallNet"):
        train_recall(torch.nn.Linear(2, 2), 3, seconds=1)
    net = RecallNet("lstm", 4)
    net.train()
    X, y = delayed_recall(8, 3)
    acc = recall_accuracy(net, X, y)
    assert 0.0 <= acc <= 1.0 and net.training
