"""Tests of rnncourse.generate.predict on the Time Machine vocabularies (characters and words)."""
import pytest
import torch
from torch import nn

from rnncourse.generate import predict
from rnncourse.models import RNNModel, RNNModelScratch
from rnncourse.sampling import load_data_time_machine
from rnncourse.text import Vocab, load_corpus_time_machine
from rnncourse.train import train_lm
from rnncourse.utils import set_seed


@pytest.fixture(scope="module")
def char_vocab():
    return load_corpus_time_machine(max_tokens=1)[1]


@pytest.fixture(scope="module")
def trained_net():
    """A small character model trained for two epochs, so that its predictions are not uniform."""
    train_iter, vocab = load_data_time_machine(batch_size=16, num_steps=20, max_tokens=3000)
    set_seed(0)
    net = RNNModelScratch(len(vocab), 32)
    train_lm(net, train_iter, vocab, lr=2.0, num_epochs=2)
    return net, vocab


@pytest.fixture(scope="module")
def nn_net(char_vocab):
    """An untrained torch.nn GRU model: nn's default initialisation gives clearly non-uniform logits."""
    torch.manual_seed(0)
    return RNNModel(nn.GRU(len(char_vocab), 16), len(char_vocab))


def greedy_one_token_at_a_time(prefix, num_preds, net, vocab):
    """Greedy generation written independently, the slow way: feed the prefix one character
    at a time (as in the notes), then the argmax of each step's logits."""
    with torch.no_grad():
        state = net.begin_state(1, "cpu")
        outputs = [vocab[prefix[0]]]
        for ch in prefix[1:]:  # warm-up
            _, state = net(torch.tensor([[outputs[-1]]]), state)
            outputs.append(vocab[ch])
        for _ in range(num_preds):
            logits, state = net(torch.tensor([[outputs[-1]]]), state)
            outputs.append(int(logits.argmax(dim=1)))
    return "".join(vocab.to_tokens(outputs))


@pytest.mark.parametrize("which", ["trained_net", "nn_net"])
def test_greedy_prediction_matches_one_token_at_a_time(which, request, char_vocab):
    net = request.getfixturevalue(which)
    net, vocab = net if isinstance(net, tuple) else (net, char_vocab)
    net.eval()
    expected = greedy_one_token_at_a_time("time traveller", 30, net, vocab)
    got = predict("time traveller", 30, net, vocab)
    assert got == expected
    assert predict("time traveller", 30, net, vocab) == got  # greedy is deterministic


def test_result_starts_with_the_prefix_and_is_num_preds_longer(trained_net):
    net, vocab = trained_net
    for temperature in (0.0, 1.0):
        text = predict("the time machine", 25, net, vocab, temperature=temperature)
        assert text.startswith("the time machine") and len(text) == len("the time machine") + 25
        assert set(text) <= set(vocab.idx_to_token[1:])  # characters only, no <unk> generated here
    assert predict("the", 0, net, vocab) == "the"


def test_unseen_characters_become_unk_without_crashing(trained_net):
    net, vocab = trained_net
    assert "Z" not in vocab and "é" not in vocab  # the corpus is lower-case a-z and spaces
    text = predict("Zé time", 10, net, vocab)
    spelled = "".join(vocab.to_tokens(vocab[list("Zé time")]))
    assert spelled == "<unk><unk> time"
    assert text.startswith(spelled) and len(text) == len(spelled) + 10
    # the unseen characters were read as <unk>: same continuation as when spelled that way
    assert text == predict(["<unk>", "<unk>", " ", "t", "i", "m", "e"], 10, net, vocab)


def test_sampling_is_reproducible_under_a_seed(trained_net):
    net, vocab = trained_net
    torch.manual_seed(42)
    first = predict("time ", 60, net, vocab, temperature=1.0)
    torch.manual_seed(42)
    assert predict("time ", 60, net, vocab, temperature=1.0) == first
    torch.manual_seed(43)
    assert predict("time ", 60, net, vocab, temperature=1.0) != first  # 60 draws: equal only by a fluke
    torch.manual_seed(42)
    assert predict("time ", 60, net, vocab, temperature=1.0, top_k=5) != predict("time ", 60, net, vocab)


def test_top_k_1_and_tiny_temperature_are_greedy(trained_net, nn_net, char_vocab):
    for net, vocab in (trained_net, (nn_net, char_vocab)):
        greedy = predict("a time ", 40, net, vocab)
        torch.manual_seed(0)
        assert predict("a time ", 40, net, vocab, temperature=1.0, top_k=1) == greedy
        assert predict("a time ", 40, net, vocab, temperature=5.0, top_k=1) == greedy
        assert predict("a time ", 40, net, vocab, temperature=1e-6) == greedy


def test_top_k_restricts_the_sampled_tokens(nn_net, char_vocab):
    """With top_k=2, each generated character is one of the two most likely after its context."""
    torch.manual_seed(0)
    text = predict("the", 30, nn_net, char_vocab, temperature=10.0, top_k=2)  # hot: the 2nd is drawn often
    indices = char_vocab[list(text)]
    with torch.no_grad():
        logits, _ = nn_net(torch.tensor([indices[:-1]]))  # logits[t] predicts token t + 1
    top2 = logits.topk(2, dim=1).indices
    for t in range(2, len(indices) - 1):
        assert indices[t + 1] in top2[t].tolist()
    assert any(indices[t + 1] != top2[t, 0] for t in range(2, len(indices) - 1))  # not just greedy


def test_word_level_prediction():
    _, vocab = load_corpus_time_machine(max_tokens=1, token="word")
    torch.manual_seed(0)
    net = RNNModel(nn.GRU(len(vocab), 8), len(vocab))
    text = predict("the time traveller", 5, net, vocab, token="word")
    words = text.split(" ")
    assert words[:3] == ["the", "time", "traveller"] and len(words) == 3 + 5
    assert predict(["the", "time", "traveller"], 5, net, vocab, token="word") == text
    assert predict("the xyzzy", 1, net, vocab, token="word").startswith("the <unk> ")


def test_predict_restores_the_mode(trained_net):
    net, vocab = trained_net
    net.train()
    predict("time", 3, net, vocab, temperature=1.0)
    assert net.training
    net.eval()
    predict("time", 3, net, vocab)
    assert not net.training


@pytest.mark.parametrize("kwargs, error", [
    ({"prefix": ""}, ValueError),
    ({"prefix": []}, ValueError),
    ({"prefix": "   ", "token": "word"}, ValueError),
    ({"prefix": 42}, TypeError),
    ({"num_preds": -1}, ValueError),
    ({"num_preds": 2.5}, TypeError),  # a wrong type: TypeError (rnncourse.checks)
    ({"temperature": -0.1}, ValueError),
    ({"temperature": float("nan")}, ValueError),
    ({"top_k": 0}, ValueError),
    ({"top_k": 1.5}, TypeError),
    ({"token": "byte"}, ValueError),
])
def test_bad_arguments_raise(trained_net, kwargs, error):
    net, vocab = trained_net
    args = {"prefix": "time", "num_preds": 5, "temperature": 1.0, **kwargs}
    with pytest.raises(error):
        predict(args.pop("prefix"), args.pop("num_preds"), net, vocab, **args)


def test_bidirectional_models_and_wrong_vocabularies_are_refused(char_vocab):
    for net in (RNNModelScratch(len(char_vocab), 8, bidirectional=True),
                RNNModel(nn.GRU(len(char_vocab), 8, bidirectional=True), len(char_vocab))):
        with pytest.raises(ValueError, match="bidirectional"):
            predict("time", 5, net, char_vocab)
    with pytest.raises(ValueError, match="vocabulary"):
        predict("time", 5, RNNModelScratch(len(char_vocab) + 3, 8), char_vocab)


# ---- special tokens are never generated unless asked for


def test_sampling_never_writes_unk(char_vocab):
    """An untrained scratch model is close to uniform: <unk> (index 0) gets 1/28 of the
    probability at every step, and a sample of 3,000 characters would hold it ~100 times."""
    set_seed(0)
    net = RNNModelScratch(len(char_vocab), 32)
    prefix = "time traveller "
    for temperature in (1.0, 1.5):
        set_seed(1)
        text = predict(prefix, 3000, net, char_vocab, temperature=temperature)
        assert "<unk>" not in text[len(prefix):] and len(text) == len(prefix) + 3000
        set_seed(1)
        allowed = predict(prefix, 3000, net, char_vocab, temperature=temperature, allow_special=True)
        assert allowed[len(prefix):].count("<unk>") > 20  # the mask is what keeps it out


def test_briefly_trained_model_never_writes_unk(trained_net):
    net, vocab = trained_net
    set_seed(0)
    text = predict("the ", 3000, net, vocab, temperature=1.5)[4:]
    assert "<unk>" not in text and set(text) <= set(vocab.idx_to_token[1:])


def test_greedy_skips_special_tokens_even_when_most_likely(char_vocab):
    """A model whose logits always favour <unk>: greedy decoding writes the best other token."""
    torch.manual_seed(0)
    net = RNNModel(nn.GRU(len(char_vocab), 16), len(char_vocab))
    with torch.no_grad():
        net.linear.bias[char_vocab.unk] = 100.0  # <unk> is the argmax at every step
    text = predict("time ", 20, net, char_vocab)
    assert "<unk>" not in text and len(text) == 25
    X = torch.tensor([char_vocab[list(text[:-1])]])
    with torch.no_grad():
        logits, _ = net(X)  # (len - 1, vocab_size): logits[t] predicts character t + 1
    logits[:, char_vocab.unk] = float("-inf")
    assert char_vocab[list(text[5:])] == logits.argmax(dim=1)[4:].tolist()  # the argmax of the rest
    assert predict("time ", 20, net, char_vocab, allow_special=True) == "time " + "<unk>" * 20


def test_reserved_tokens_are_never_generated():
    corpus = "".join(load_corpus_time_machine(max_tokens=1)[1].idx_to_token[1:])
    vocab = Vocab(list(corpus) + ["<eos>"], reserved_tokens=["<pad>", "<bos>"])
    set_seed(0)
    net = RNNModelScratch(len(vocab), 16)  # untrained: close to uniform over all tokens
    tokens = predict(["t"], 2000, net, vocab, temperature=1.0).split("<")  # the joined string
    assert len(tokens) == 1  # no "<" at all: no <unk>, <pad>, <bos> or <eos>
    set_seed(0)
    allowed = predict(["t"], 2000, net, vocab, temperature=1.0, allow_special=True)
    assert all(allowed.count(tok) > 10 for tok in ("<unk>", "<pad>", "<bos>", "<eos>"))
    with pytest.raises(TypeError, match="allow_special"):
        predict("t", 5, net, vocab, allow_special="no")
    only_unk = Vocab()
    with pytest.raises(ValueError, match="special"):
        predict(["x"], 3, RNNModelScratch(1, 4), only_unk)
