"""The encoder–decoder on the real English–French pairs: padding, the fixed context, the
masked loss against hand loops, teacher forcing, training, and translator files."""
import math

import pytest
import torch

from rnncourse.checkpoint import CheckpointError
from rnncourse.decoding import greedy_search, source_ids
from rnncourse.seq2seq import (EncoderDecoder, MaskedSoftmaxCELoss, Seq2SeqAttentionDecoder, Seq2SeqDecoder,
                               Seq2SeqEncoder, build_translator, d2l_masked_loss, evaluate_loss,
                               load_translator, save_translator, seq2seq_batch_loss, sequence_mask,
                               teacher_forcing_inputs,
                               train_seq2seq)
from rnncourse.loop import TrainConfig
from rnncourse.translation import build_array_nmt, load_data_nmt, nmt_loader, nmt_vocabs, tokenize_nmt
from rnncourse.translation import preprocess_nmt, read_data_nmt


@pytest.fixture(scope="module")
def pairs():
    source, target = tokenize_nmt(preprocess_nmt(read_data_nmt()), num_examples=600)
    return list(zip(source, target))


@pytest.fixture(scope="module")
def vocabs(pairs):
    return nmt_vocabs(pairs)


def test_padding_changes_neither_the_encoder_state_nor_the_context(pairs, vocabs):
    src_vocab, tgt_vocab = vocabs
    sentences = [src for src, _ in pairs[::37]]
    torch.manual_seed(0)
    encoder = Seq2SeqEncoder(len(src_vocab), 8, 16, 2).eval()
    decoder = Seq2SeqDecoder(len(tgt_vocab), 8, 16, 2).eval()
    X10, len10 = build_array_nmt(sentences, src_vocab, 10)
    X25, len25 = build_array_nmt(sentences, src_vocab, 25)  # the same sentences, 15 more <pad>
    assert torch.equal(len10, len25) and (len10 < 10).all()
    out10, state10 = encoder(X10, len10)
    out25, state25 = encoder(X25, len25)
    torch.testing.assert_close(state10, state25)
    torch.testing.assert_close(out10, out25[:10])
    assert (out25[10:] == 0).all()  # nothing is read past the last real token
    # the oracle: each sentence alone, unpadded, through the same GRU
    for i, n in enumerate(len10.tolist()):
        _, alone = encoder.rnn(encoder.embedding(X10[i:i + 1, :n].T))
        torch.testing.assert_close(state10[:, i], alone[:, 0])
    # the context is the top layer's final state, whatever the padding
    _, context10 = decoder.init_state((out10, state10))
    _, context25 = decoder.init_state((out25, state25))
    torch.testing.assert_close(context10, context25)
    torch.testing.assert_close(context10, state10[-1])
    # without valid lengths the GRU reads the padding too, and the state changes
    _, state_with_padding = encoder(X25)
    assert not torch.allclose(state_with_padding, state25, atol=1e-4)


@pytest.mark.parametrize("decoder_class", [Seq2SeqDecoder, Seq2SeqAttentionDecoder])
def test_step_by_step_decoding_equals_the_whole_target_at_once(pairs, vocabs, decoder_class):
    src_vocab, tgt_vocab = vocabs
    torch.manual_seed(1)
    net = EncoderDecoder(Seq2SeqEncoder(len(src_vocab), 8, 16, 2),
                         decoder_class(len(tgt_vocab), 8, 16, 2)).eval()
    X, X_len = build_array_nmt([s for s, _ in pairs[:5]], src_vocab, 10)
    Y, _ = build_array_nmt([t for _, t in pairs[:5]], tgt_vocab, 10)
    dec_X = teacher_forcing_inputs(Y, tgt_vocab["<bos>"])
    whole, _ = net(X, dec_X, X_len)  # (5, 10, V)
    state = net.decoder.init_state(net.encoder(X, X_len), X_len)
    steps = []
    for t in range(10):
        logits, state = net.decoder(dec_X[:, t:t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, rtol=1e-5, atol=1e-5)
    if decoder_class is Seq2SeqDecoder:
        # the context in the state is still the encoder's, not the decoder's own state
        _, enc_state = net.encoder(X, X_len)
        torch.testing.assert_close(state[1], enc_state[-1])
        assert not torch.allclose(state[0][-1], enc_state[-1])


def test_the_context_enters_every_step():
    torch.manual_seed(2)
    decoder = Seq2SeqDecoder(10, 4, 6, 1).eval()
    hidden = torch.zeros(1, 1, 6)
    X = torch.tensor([[3, 4, 5, 6]])
    a, _ = decoder(X, (hidden, torch.zeros(1, 6)))
    b, _ = decoder(X, (hidden, torch.ones(1, 6)))
    # the same initial hidden state, another context: every step's output differs
    assert ((a - b).abs().amax(dim=2) > 1e-4).all()


def test_sequence_mask():
    X = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert sequence_mask(X, torch.tensor([1, 2])).tolist() == [[1, 0, 0], [4, 5, 0]]
    Z = torch.ones(2, 3, 4)
    masked = sequence_mask(Z, torch.tensor([1, 2]), value=-1)
    assert masked[0, 1:].eq(-1).all() and masked[1, :2].eq(1).all() and masked[1, 2].eq(-1).all()
    with pytest.raises(ValueError, match="shape"):
        sequence_mask(X, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="negative"):
        sequence_mask(X, torch.tensor([1, -1]))
    with pytest.raises(ValueError, match="2 dimensions"):
        sequence_mask(torch.ones(3), torch.tensor([1]))


def _hand_cross_entropies(pred, label, valid_len):
    """Per sentence, the list of -log softmax(pred)[label] over its real tokens, with math only."""
    out = []
    for b in range(pred.shape[0]):
        row = []
        for t in range(int(valid_len[b])):
            logits = pred[b, t].tolist()
            log_norm = math.log(sum(math.exp(v) for v in logits))
            row.append(log_norm - logits[int(label[b, t])])
        out.append(row)
    return out


def test_masked_loss_is_the_mean_over_real_tokens_and_d2ls_is_not():
    torch.manual_seed(3)
    pred = torch.randn(4, 6, 7, dtype=torch.float64)
    label = torch.randint(0, 7, (4, 6))
    valid_len = torch.tensor([6, 1, 3, 0])
    hand = _hand_cross_entropies(pred, label, valid_len)
    ours = MaskedSoftmaxCELoss()(pred, label, valid_len)
    assert ours.dim() == 0
    assert ours.item() == pytest.approx(sum(map(sum, hand)) / sum(map(len, hand)), rel=1e-12)
    d2l = d2l_masked_loss(pred, label, valid_len)
    assert d2l.shape == (4,)
    assert d2l.tolist() == pytest.approx([sum(row) / 6 for row in hand], rel=1e-12)
    # padding beyond valid_len does not matter to either
    pred2 = pred.clone()
    pred2[1, 1:] = 100.0
    assert MaskedSoftmaxCELoss()(pred2, label, valid_len).item() == pytest.approx(ours.item(), rel=1e-12)
    # d2l's summed loss weighs every real token 1/num_steps: it is ours x N / num_steps
    N = int(valid_len.sum())
    assert d2l.sum().item() == pytest.approx(ours.item() * N / 6, rel=1e-12)


def test_masked_loss_bad_inputs():
    loss = MaskedSoftmaxCELoss()
    pred, label = torch.randn(2, 3, 5), torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="no real token"):
        loss(pred, label, torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="lie in"):
        loss(pred, label, torch.tensor([4, 1]))
    with pytest.raises(ValueError, match=r"shape \(batch,\)"):
        loss(pred, label, torch.tensor([1, 1, 1]))
    with pytest.raises(ValueError, match="label must have shape"):
        loss(pred, torch.zeros(2, 4, dtype=torch.long), torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="logits of shape"):
        loss(torch.randn(2, 5), label, torch.tensor([1, 1]))


def test_teacher_forcing_inputs_shift_the_target_right(vocabs, pairs):
    _, tgt_vocab = vocabs
    Y, _ = build_array_nmt([t for _, t in pairs[:3]], tgt_vocab, 6)
    dec_X = teacher_forcing_inputs(Y, tgt_vocab["<bos>"])
    assert dec_X.shape == Y.shape
    assert (dec_X[:, 0] == tgt_vocab["<bos>"]).all() and torch.equal(dec_X[:, 1:], Y[:, :-1])


def test_bad_model_arguments_and_inputs(vocabs):
    src_vocab, _ = vocabs
    # a wrong value is a ValueError, a wrong type (embed_size=2.5) a TypeError (the
    # convention of rnncourse.checks; it was a ValueError before issue 15)
    for kwargs, error in (({"vocab_size": 0}, ValueError), ({"num_layers": 0}, ValueError),
                          ({"dropout": 1.0}, ValueError), ({"embed_size": 2.5}, TypeError)):
        args = {"vocab_size": 10, "embed_size": 4, "num_hiddens": 4, "num_layers": 1, **kwargs}
        with pytest.raises(error, match=next(iter(kwargs))):
            Seq2SeqEncoder(**args)
    encoder = Seq2SeqEncoder(len(src_vocab), 4, 4, 1)
    with pytest.raises(TypeError, match="LongTensor"):
        encoder(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="outside"):
        encoder(torch.full((2, 3), len(src_vocab)))
    with pytest.raises(ValueError, match="valid lengths"):
        encoder(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="num_layers"):
        Seq2SeqDecoder(10, 4, 4, 2).init_state(encoder(torch.zeros(2, 3, dtype=torch.long)))


def test_training_lowers_the_loss_and_checks_its_arguments(pairs, vocabs):
    src_vocab, tgt_vocab = vocabs
    torch.manual_seed(0)
    net = build_translator(len(src_vocab), len(tgt_vocab), 32, 32, 1)
    train_iter = nmt_loader(pairs, src_vocab, tgt_vocab, num_steps=10, batch_size=64)
    before = evaluate_loss(net, train_iter, tgt_vocab)
    assert before == pytest.approx(math.log(len(tgt_vocab)), rel=0.1)  # near uniform at the start
    history = train_seq2seq(net, train_iter, 0.01, 8, tgt_vocab, valid_iter=train_iter)
    after = evaluate_loss(net, train_iter, tgt_vocab)
    assert after < before - 1.0
    assert history["loss"][-1] < history["loss"][0]
    assert len(history["valid"]) == 8 and history["valid"][-1] == pytest.approx(after, rel=1e-6)
    assert history["tokens"] == 8 * sum(int(b[3].sum()) for b in train_iter)  # real target tokens only
    with pytest.raises(ValueError, match="num_epochs"):
        train_seq2seq(net, train_iter, 0.01, 0, tgt_vocab)
    with pytest.raises(ValueError, match="lr"):
        train_seq2seq(net, train_iter, -1.0, 1, tgt_vocab)
    with pytest.raises(ValueError, match="decoder predicts"):
        train_seq2seq(net, train_iter, 0.01, 1, src_vocab)
    with pytest.raises(TypeError, match="Vocab"):
        train_seq2seq(net, train_iter, 0.01, 1, ["<pad>"])


def test_training_respects_its_time_budget(pairs, vocabs):
    src_vocab, tgt_vocab = vocabs
    net = build_translator(len(src_vocab), len(tgt_vocab), 16, 16, 1)
    train_iter = nmt_loader(pairs, src_vocab, tgt_vocab, num_steps=10, batch_size=16)
    history = train_seq2seq(net, train_iter, 0.01, 1000, tgt_vocab, config=TrainConfig(max_seconds=0.5))
    assert history["stopped"] == "max_seconds" and history["epochs"] < 1000


def test_translator_files_round_trip_and_bad_files(tmp_path, vocabs):
    src_vocab, tgt_vocab = vocabs
    for attention in (False, True):
        torch.manual_seed(4)
        net = build_translator(len(src_vocab), len(tgt_vocab), 8, 12, 2, dropout=0.1, attention=attention)
        path = tmp_path / f"translator{attention}.pt"
        save_translator(path, net, src_vocab, tgt_vocab, num_steps=10, note="test")
        loaded, src2, tgt2, extra = load_translator(path, with_extra=True)
        assert type(loaded.decoder) is type(net.decoder) and extra == {"num_steps": 10, "note": "test"}
        assert src2.idx_to_token == src_vocab.idx_to_token and tgt2.idx_to_token == tgt_vocab.idx_to_token
        src = source_ids("i lost .", src_vocab, 10)
        assert greedy_search(loaded, src, tgt2, 8) == greedy_search(net, src, tgt_vocab, 8)
    with pytest.raises(FileNotFoundError, match="no translator"):
        load_translator(tmp_path / "missing.pt")
    # one error type for bad files, shared with the language-model checkpoints (a ValueError)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="garbage.pt is not a readable rnncourse translator"):
        load_translator(garbage)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a readable rnncourse translator.*save_translator"):
        load_translator(other)
    lm = tmp_path / "lm.pt"
    torch.save({"format": "rnncourse-checkpoint"}, lm)
    with pytest.raises(CheckpointError, match="language-model checkpoint"):
        load_translator(lm)
    damaged = tmp_path / "damaged.pt"
    saved = torch.load(path, weights_only=True)
    del saved["state_dict"][next(iter(saved["state_dict"]))]
    torch.save(saved, damaged)
    with pytest.raises(CheckpointError, match="damaged.pt is not a readable.*damaged"):
        load_translator(damaged)
    with pytest.raises(TypeError, match="plain data"):
        save_translator(tmp_path / "x.pt", net, src_vocab, tgt_vocab, bad=object())
    with pytest.raises(ValueError, match="encoder reads"):
        save_translator(tmp_path / "x.pt", net, tgt_vocab, tgt_vocab)
    with pytest.raises(TypeError, match="EncoderDecoder"):
        save_translator(tmp_path / "x.pt", torch.nn.Linear(2, 2), src_vocab, tgt_vocab)


def test_d2l_loader_minibatches_train(vocabs):
    # the d2l pipeline end to end: load_data_nmt's minibatches go straight into the net
    data_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size=4, num_steps=8)
    X, X_len, Y, Y_len = next(iter(data_iter))
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 8, 2)
    logits, _ = net(X, teacher_forcing_inputs(Y, tgt_vocab["<bos>"]), X_len)
    assert logits.shape == (4, 8, len(tgt_vocab))
    assert MaskedSoftmaxCELoss()(logits, Y, Y_len).dim() == 0


@pytest.mark.parametrize("attention", [False, True])
def test_the_fast_training_loss_equals_the_masked_loss_on_logits(pairs, vocabs, attention):
    # seq2seq_batch_loss runs the output layer on the real tokens only; the oracle is the
    # plain route: logits at every position, then MaskedSoftmaxCELoss
    src_vocab, tgt_vocab = vocabs
    torch.manual_seed(5)
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 2, attention=attention).eval()
    batch = next(iter(nmt_loader(pairs, src_vocab, tgt_vocab, num_steps=10, batch_size=32)))
    X, X_len, Y, Y_len = batch
    logits, _ = net(X, teacher_forcing_inputs(Y, tgt_vocab["<bos>"]), X_len)
    expected = MaskedSoftmaxCELoss()(logits, Y, Y_len)
    loss, tokens = seq2seq_batch_loss(net, batch, tgt_vocab["<bos>"], torch.device("cpu"))
    assert tokens == int(Y_len.sum())
    torch.testing.assert_close(loss, expected)
    # an explicit loss_fn gets the logits at every position
    d2l_sum, _ = seq2seq_batch_loss(net, batch, tgt_vocab["<bos>"], torch.device("cpu"),
                                    lambda *a: d2l_masked_loss(*a).sum())
    torch.testing.assert_close(d2l_sum, expected * tokens / Y.shape[1])


@pytest.mark.parametrize("attention", [False, True])
def test_adaptive_softmax_decoder(tmp_path, pairs, vocabs, attention):
    src_vocab, tgt_vocab = vocabs
    torch.manual_seed(6)
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 2, attention=attention,
                           adaptive_cutoffs=(50, 120)).eval()
    assert hasattr(net.decoder, "adaptive")
    batch = next(iter(nmt_loader(pairs, src_vocab, tgt_vocab, num_steps=10, batch_size=32)))
    X, X_len, Y, Y_len = batch
    log_probs, _ = net(X, teacher_forcing_inputs(Y, tgt_vocab["<bos>"]), X_len)  # (B, T, V)
    torch.testing.assert_close(log_probs.exp().sum(dim=2), torch.ones(Y.shape))  # a distribution per step
    # the training loss (the adaptive softmax's own NLL on the real tokens) is the masked
    # cross-entropy of those log-probabilities
    loss, _ = seq2seq_batch_loss(net, batch, tgt_vocab["<bos>"], torch.device("cpu"))
    torch.testing.assert_close(loss, MaskedSoftmaxCELoss()(log_probs, Y, Y_len))
    path = tmp_path / "adaptive.pt"
    save_translator(path, net, src_vocab, tgt_vocab)
    loaded, _, _ = load_translator(path)
    src = source_ids("i lost .", src_vocab, 10)
    assert greedy_search(loaded, src, tgt_vocab, 8) == greedy_search(net, src, tgt_vocab, 8)
    for bad in ((), (120, 50), (0, 10), (10, len(tgt_vocab)), ("a",)):
        with pytest.raises(ValueError, match="adaptive_cutoffs"):
            build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 1, attention=attention,
                             adaptive_cutoffs=bad)


def test_attention_decoder_weights_mask_the_padding_and_follow_the_steps(pairs, vocabs):
    """One (output step x source position) matrix per sentence: rows sum to 1, padded
    source positions get exactly 0, and decoding step by step gives the same rows."""
    src_vocab, tgt_vocab = vocabs
    torch.manual_seed(7)
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 2, attention=True).eval()
    X, X_len, Y, Y_len = next(iter(nmt_loader(pairs, src_vocab, tgt_vocab, num_steps=10, batch_size=16)))
    dec_X = teacher_forcing_inputs(Y, tgt_vocab["<bos>"])
    with torch.no_grad():
        net(X, dec_X, X_len)
        weights = net.decoder.attention_weights
        assert weights.shape == (16, 10, 10)
        torch.testing.assert_close(weights.sum(-1), torch.ones(16, 10))
        for b, n in enumerate(X_len.tolist()):
            assert torch.all(weights[b, :, n:] == 0) and torch.all(weights[b, :, :n] > 0)
        state = net.decoder.init_state(net.encoder(X, X_len), X_len)
        for t in range(10):
            _, state = net.decoder(dec_X[:, t:t + 1], state)
            assert net.decoder.attention_weights.shape == (16, 1, 10)
            torch.testing.assert_close(net.decoder.attention_weights[:, 0], weights[:, t])
    # the decoder uses the package's AdditiveAttention, no private copy
    from rnncourse.attention import AdditiveAttention
    assert isinstance(net.decoder.attention, AdditiveAttention)


def test_the_training_path_checks_a_minibatch_once(monkeypatch, pairs, vocabs):
    """seq2seq_batch_loss checks the target once (on the host, before the copy to the
    device) and the encoder the source once; the decoder checks nothing per call. Bad ids
    or lengths in a minibatch are still refused."""
    import rnncourse.seq2seq as seq2seq

    src_vocab, tgt_vocab = vocabs
    torch.manual_seed(7)
    net = build_translator(len(src_vocab), len(tgt_vocab), 8, 16, 1)
    batch = next(iter(nmt_loader(pairs, src_vocab, tgt_vocab, num_steps=10, batch_size=8)))
    calls = []
    check = seq2seq._check_tokens
    monkeypatch.setattr(seq2seq, "_check_tokens", lambda *a, **k: (calls.append(a[2]),
                                                                     check(*a, **k)))
    seq2seq_batch_loss(net, batch, tgt_vocab["<bos>"], torch.device("cpu"))
    assert sorted(calls) == ["the source X", "the target Y"]
    calls.clear()
    state = net.decoder.init_state(net.encoder(batch[0], batch[1]), batch[1])
    net.decoder(batch[2][:, :1], state)  # one decoding step
    assert calls == ["the source X"]
    X, X_len, Y, Y_len = batch
    bad_Y = Y.clone()
    bad_Y[0, 0] = len(tgt_vocab)
    with pytest.raises(ValueError, match="the target Y holds token ids outside"):
        seq2seq_batch_loss(net, (X, X_len, bad_Y, Y_len), tgt_vocab["<bos>"], "cpu")
    with pytest.raises(ValueError, match="valid lengths must lie in"):
        seq2seq_batch_loss(net, (X, X_len, Y, Y_len + Y.shape[1]), tgt_vocab["<bos>"], "cpu")
    with pytest.raises(ValueError, match="all zeros"):
        seq2seq_batch_loss(net, (X, X_len, Y, Y_len * 0), tgt_vocab["<bos>"], "cpu")
