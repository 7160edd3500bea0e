"""The cloze task: masked windows of the Time Machine, and models that read them one way or both ways."""
import math

import pytest
import torch

from rnncourse.cloze import (ClozeModel, evaluate_cloze, make_cloze_data, matching_hidden_size,
                             num_cloze_parameters, train_cloze)
from rnncourse.ngram import train_valid_test_split
from rnncourse.text import load_corpus_time_machine, read_time_machine


@pytest.fixture(scope="module")
def time_machine():
    corpus, vocab = load_corpus_time_machine()
    return corpus, vocab


# --------------------------------------------------------------------------- the data


@pytest.mark.parametrize("window, stride", [(3, 1), (11, 1), (11, 7), (21, 21)])
def test_windows_match_the_raw_text_with_the_middle_masked(time_machine, window, stride):
    corpus, vocab = time_machine
    text = " ".join(line for line in read_time_machine() if line)  # the corpus: non-empty lines, space-joined
    piece = corpus[:5000]
    X, y = make_cloze_data(piece, window, mask_index=vocab.unk, stride=stride)
    starts = range(0, len(piece) - window + 1, stride)
    assert X.shape == (len(starts), window) and y.shape == (len(starts),)
    assert X.dtype == y.dtype == torch.long
    mid = window // 2
    assert bool((X[:, mid] == vocab.unk).all())  # every window is masked in the middle
    assert not bool((X[:, :mid] == vocab.unk).any()) and not bool((X[:, mid + 1:] == vocab.unk).any())
    for i, start in enumerate(starts):
        window_text = text[start:start + window]
        assert "".join(vocab.to_tokens(y[i])) == window_text[mid]  # the target is the hidden character
        shown = vocab.to_tokens(X[i])
        assert "".join(shown[:mid]) == window_text[:mid]
        assert "".join(shown[mid + 1:]) == window_text[mid + 1:]


def test_a_held_out_split_gives_the_expected_number_of_examples(time_machine):
    corpus, _ = time_machine
    _, _, test = train_valid_test_split(corpus)
    X, y = make_cloze_data(test, 11)
    assert len(X) == len(y) == len(test) - 11 + 1


@pytest.mark.parametrize("window", [2, 4, 10])
def test_an_even_window_is_refused(window):
    with pytest.raises(ValueError, match="odd"):
        make_cloze_data([1, 2, 3, 4, 5] * 4, window)


@pytest.mark.parametrize("window", [1, -3])
def test_a_window_without_context_on_both_sides_is_refused(window):
    with pytest.raises(ValueError, match="at least 3"):
        make_cloze_data([1, 2, 3, 4, 5] * 4, window)


@pytest.mark.parametrize("window", [3.0, "5", True])
def test_a_window_that_is_not_an_int_is_refused(window):
    with pytest.raises(TypeError, match="window must be an int"):
        make_cloze_data([1, 2, 3, 4, 5] * 4, window)


def test_other_bad_data_arguments_are_refused(time_machine):
    corpus, _ = time_machine
    with pytest.raises(ValueError, match="shorter than one window"):
        make_cloze_data(corpus[:6], 7)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        make_cloze_data(corpus[:100], 5, stride=0)
    with pytest.raises(ValueError, match="occurs in the corpus"):
        make_cloze_data(corpus[:100], 5, mask_index=corpus[3])  # a real character cannot be the mask
    with pytest.raises(ValueError, match="flat sequence"):
        make_cloze_data([[1, 2, 3], [4, 5, 6]], 3)


# --------------------------------------------------------------------------- the model


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("readout", ["mask", "final"])
def test_logits_shape_and_parameter_count(cell, bidirectional, readout):
    torch.manual_seed(0)
    for num_layers in (1, 2):
        net = ClozeModel(28, 16, bidirectional, cell, num_layers, readout)
        X = torch.randint(1, 28, (5, 9))
        assert net(X).shape == (5, 28)
        assert sum(p.numel() for p in net.parameters()) == num_cloze_parameters(28, 16, bidirectional, cell, num_layers)


def _perturbation_changes(net, X, position):
    """Whether the logits for the masked token change when the character at ``position`` changes."""
    X2 = X.clone()
    X2[:, position] = 1 + (X[:, position] % 27)  # another real character (ids 1..27)
    with torch.no_grad():
        return not torch.equal(net(X), net(X2))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_only_the_bidirectional_model_sees_the_right_context_at_the_mask(time_machine, cell):
    corpus, vocab = time_machine
    X, _ = make_cloze_data(corpus[:200], 9)
    X = X[:4]
    torch.manual_seed(0)
    uni = ClozeModel(len(vocab), 16, bidirectional=False, cell=cell)
    bi = ClozeModel(len(vocab), 16, bidirectional=True, cell=cell)
    uni_final = ClozeModel(len(vocab), 16, bidirectional=False, cell=cell, readout="final")
    for position in range(5, 9):  # right of the mask (position 4)
        assert not _perturbation_changes(uni, X, position)  # exactly unchanged: no path from the right
        assert _perturbation_changes(bi, X, position)
        assert _perturbation_changes(uni_final, X, position)
    for position in range(4):  # left of the mask: every model sees it
        assert _perturbation_changes(uni, X, position) and _perturbation_changes(bi, X, position)


def test_gradient_of_the_masked_output_reaches_the_right_context_only_when_bidirectional():
    torch.manual_seed(0)
    for bidirectional, reaches_right in ((False, False), (True, True)):
        net = ClozeModel(28, 8, bidirectional=bidirectional)
        inputs = torch.randn(7, 2, 28, requires_grad=True)  # (window, batch, vocab): the recurrent layer's input
        outputs, _ = net.rnn(inputs)
        net.linear(outputs[3]).sum().backward()  # the classifier at the mask (position 3)
        right = inputs.grad[4:].abs().sum().item()
        assert inputs.grad[:4].abs().sum().item() > 0
        assert (right > 0) == reaches_right


def test_bad_model_arguments_and_inputs_are_refused():
    with pytest.raises(ValueError, match="unknown cell"):
        ClozeModel(28, 8, cell="transformer")
    with pytest.raises(ValueError, match="unknown readout"):
        ClozeModel(28, 8, readout="last")
    with pytest.raises(ValueError, match="num_hiddens must be at least 1"):
        ClozeModel(28, 0)
    net = ClozeModel(28, 8)
    with pytest.raises(ValueError, match="odd"):
        net(torch.randint(1, 28, (2, 8)))
    with pytest.raises(ValueError, match="LongTensor"):
        net(torch.rand(2, 9))
    with pytest.raises(ValueError, match="LongTensor"):
        net(torch.randint(1, 28, (9,)))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_matching_hidden_size_gives_the_closest_parameter_count(cell):
    h_bi = 64
    target = num_cloze_parameters(28, h_bi, True, cell)
    h_uni = matching_hidden_size(28, h_bi, cell)
    assert h_uni > h_bi  # one direction needs more units to hold as many weights
    gap = abs(num_cloze_parameters(28, h_uni, False, cell) - target)
    for other in (h_uni - 1, h_uni + 1):
        assert gap <= abs(num_cloze_parameters(28, other, False, cell) - target)
    assert gap / target < 0.02


# --------------------------------------------------------------------------- training and evaluation


def test_evaluation_of_an_untrained_model_is_near_uniform_and_does_not_depend_on_batching(time_machine):
    corpus, vocab = time_machine
    X, y = make_cloze_data(corpus[:3000], 7)
    torch.manual_seed(0)
    net = ClozeModel(len(vocab), 16, bidirectional=True)
    a = evaluate_cloze(net, X, y, batch_size=4096)
    b = evaluate_cloze(net, X, y, batch_size=97)
    assert a["accuracy"] == b["accuracy"]
    assert a["cross_entropy"] == pytest.approx(b["cross_entropy"], rel=1e-5)
    assert a["perplexity"] == pytest.approx(math.exp(a["cross_entropy"]))
    # small random weights: close to the uniform guess, cross-entropy log(28)
    assert a["cross_entropy"] == pytest.approx(math.log(len(vocab)), rel=0.05)
    with torch.no_grad():
        logits = net(X)
    assert a["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert net.training  # the mode is restored


def test_short_training_beats_guessing_the_most_frequent_character(time_machine):
    corpus, vocab = time_machine
    train, _, test = train_valid_test_split(corpus)
    X_train, y_train = make_cloze_data(train, 7)
    X_test, y_test = make_cloze_data(test[:4000], 7)
    torch.manual_seed(0)
    net = ClozeModel(len(vocab), 32, bidirectional=True)
    history = train_cloze(net, X_train, y_train, num_updates=100, batch_size=64, lr=0.01, log_every=25)
    assert len(history["loss"]) == 4 and history["loss"][-1] < history["loss"][0]
    result = evaluate_cloze(net, X_test, y_test)
    majority = torch.bincount(y_test).max().item() / len(y_test)  # always guess the commonest character
    assert result["accuracy"] > majority + 0.1


def test_training_refuses_mismatched_data():
    net = ClozeModel(28, 8)
    with pytest.raises(ValueError, match="num_examples"):
        train_cloze(net, torch.randint(1, 28, (10, 5)), torch.randint(1, 28, (9,)), num_updates=1)
    with pytest.raises(ValueError, match="num_updates must be at least 1"):
        train_cloze(net, torch.randint(1, 28, (10, 5)), torch.randint(1, 28, (10,)), num_updates=0)
    with pytest.raises(ValueError, match="non-empty"):
        evaluate_cloze(net, torch.zeros(0, 5, dtype=torch.long), torch.zeros(0, dtype=torch.long))


def test_training_stops_with_a_clear_error_when_the_loss_is_nan(time_machine):
    corpus, vocab = time_machine
    X, y = make_cloze_data(corpus[:2000], 7)
    torch.manual_seed(0)
    net = ClozeModel(len(vocab), 8)
    with torch.no_grad():
        net.linear.bias[0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, minibatch 1 .*round of 25 updates"):
        train_cloze(net, X, y, num_updates=100, batch_size=16, log_every=25)
    assert torch.isnan(net.linear.bias[0])  # the weights it started with: nothing finite to go back to


def test_a_last_incomplete_round_of_updates_is_not_reported(time_machine):
    corpus, vocab = time_machine
    X, y = make_cloze_data(corpus[:2000], 7)
    torch.manual_seed(0)
    net = ClozeModel(len(vocab), 8)
    history = train_cloze(net, X, y, num_updates=60, batch_size=16, log_every=25)
    assert len(history["loss"]) == 2  # rounds of updates 1-25 and 26-50; 51-60 is incomplete
    assert history["examples_per_sec"] == pytest.approx(60 * 16 / history["seconds"])


def test_arguments_of_the_wrong_type_are_type_errors_and_bad_values_value_errors():
    with pytest.raises(TypeError, match="num_layers must be an integer"):
        ClozeModel(28, 8, num_layers=1.0)
    with pytest.raises(TypeError, match="stride must be an integer"):
        make_cloze_data([1, 2, 3, 4, 5] * 4, 3, stride=True)  # a bool is no stride
    X, y = torch.randint(1, 28, (10, 5)), torch.randint(1, 28, (10,))
    with pytest.raises(ValueError, match="lr must be above 0"):
        train_cloze(ClozeModel(28, 8), X, y, num_updates=1, lr=0.0)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        evaluate_cloze(ClozeModel(28, 8), X, y, batch_size=0)
