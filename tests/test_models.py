"""The scratch cells, the layer stack and the language models, against hand loops and torch.nn."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.models import (CELLS, GRUScratch, LSTMScratch, RecurrentStack, RNNModel, RNNModelScratch,
                              RNNScratch, copy_from_torch, scale_grad)
from rnncourse.text import load_corpus_time_machine

TORCH_LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


@pytest.fixture(scope="module")
def corpus():
    corpus, vocab = load_corpus_time_machine(max_tokens=2000)
    return corpus, len(vocab)


def batch(corpus, batch_size, num_steps, start=0):
    """X, Y (batch_size, num_steps): consecutive stretches of the Time Machine, Y shifted by one."""
    tokens = torch.tensor(corpus[start:start + batch_size * num_steps + 1])
    X = tokens[:-1].reshape(batch_size, num_steps)
    Y = tokens[1:].reshape(batch_size, num_steps)
    return X, Y


def one_hot_inputs(X, vocab_size, dtype=torch.float64):
    return F.one_hot(X.T, vocab_size).to(dtype)  # (num_steps, batch, vocab_size)


def randomize_(module, std=0.3, seed=0):
    """Weights and biases of a useful size (the N(0, 0.01²) init makes every cell nearly linear)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)
    return module


def scratch_cell(cell, num_inputs, num_hiddens):
    kwargs = {"reset_after": True} if cell == "gru" else {}
    return CELLS[cell](num_inputs, num_hiddens, **kwargs)


# --------------------------------------------------------------------------- parameters and shapes

EXPECTED_PARAMS = {
    "rnn": ["W_xh", "W_hh", "b_h"],
    "gru": ["W_xz", "W_hz", "b_z", "W_xr", "W_hr", "b_r", "W_xh", "W_hh", "b_h"],
    "lstm": ["W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xo", "W_ho", "b_o", "W_xc", "W_hc", "b_c"],
}


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_parameter_names_shapes_and_initialisation(cell):
    torch.manual_seed(0)
    d, h = 300, 200
    module = CELLS[cell](d, h)
    params = dict(module.named_parameters())
    assert sorted(params) == sorted(EXPECTED_PARAMS[cell])
    for name, p in params.items():
        if name.startswith("b_"):
            assert p.shape == (h,) and torch.all(p == 0)
        else:
            assert p.shape == ((d, h) if name.startswith("W_x") else (h, h))
            # N(0, 0.01²): 40 000+ draws give the std to well under 2 %
            assert abs(p.std().item() - 0.01) < 2e-4 and abs(p.mean().item()) < 2e-4


def test_gru_reset_after_adds_one_bias():
    names = dict(GRUScratch(5, 4, reset_after=True).named_parameters())
    assert sorted(names) == sorted(EXPECTED_PARAMS["gru"] + ["b_hn"])
    assert names["b_hn"].shape == (4,) and torch.all(names["b_hn"] == 0)


def test_model_output_layer_and_attributes():
    net = RNNModelScratch(28, 16, "gru", num_layers=3, bidirectional=True)
    assert (net.vocab_size, net.num_hiddens, net.num_layers, net.num_directions) == (28, 16, 3, 2)
    assert net.W_hq.shape == (32, 28) and net.b_q.shape == (28,)
    assert len(net.rnn.cells) == 6
    assert net.rnn.cells[0].W_xz.shape == (28, 16) and net.rnn.cells[2].W_xz.shape == (32, 16)
    torch_net = RNNModel(nn.LSTM(28, 16, num_layers=2), 28)
    assert (torch_net.vocab_size, torch_net.num_hiddens) == (28, 16)
    assert (torch_net.num_layers, torch_net.num_directions) == (2, 1)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_cell_shapes_on_text(cell, corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 4, 9)
    module = CELLS[cell](V, 16).double()
    outputs, state = module(one_hot_inputs(X, V))
    assert outputs.shape == (9, 4, 16)
    H = state[0] if cell == "lstm" else state
    assert H.shape == (4, 16)
    torch.testing.assert_close(outputs[-1], H)  # the output of the last step is the final state
    if cell == "lstm":
        assert state[1].shape == (4, 16)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, False), (1, True), (3, True)])
def test_model_shapes(cell, num_layers, bidirectional, corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 3, 5)
    for net in (RNNModelScratch(V, 8, cell, num_layers, bidirectional),
                RNNModel(TORCH_LAYERS[cell](V, 8, num_layers=num_layers, bidirectional=bidirectional), V)):
        logits, state = net(X, net.begin_state(3))
        assert logits.shape == (5 * 3, V)
        dirs = 2 if bidirectional else 1
        for s in (state if cell == "lstm" else (state,)):
            assert s.shape == (num_layers * dirs, 3, 8)
        logits_default, _ = net(X)  # state=None means zeros
        torch.testing.assert_close(logits_default, logits)


def test_begin_state_follows_dtype_and_layout():
    net = RNNModelScratch(10, 6, "lstm", num_layers=2).double()
    H, C = net.begin_state(4)
    assert H.shape == C.shape == (2, 4, 6) and H.dtype == torch.float64
    assert not torch.any(H) and not torch.any(C)
    assert H.data_ptr() != C.data_ptr()
    torch_net = RNNModel(nn.GRU(10, 6, bidirectional=True), 10)
    assert torch_net.begin_state(4, torch.device("cpu")).shape == (2, 4, 6)


# --------------------------------------------------------------------------- same function as notes / torch.nn

def test_rnn_scratch_is_the_hand_loop(corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 3, 8)
    inputs = one_hot_inputs(X, V)
    cell = randomize_(RNNScratch(V, 5).double())
    H0 = torch.randn(3, 5, dtype=torch.float64)
    outputs, H = cell(inputs, H0)
    h = H0
    for t in range(8):
        h = torch.tanh(inputs[t] @ cell.W_xh + h @ cell.W_hh + cell.b_h)
        torch.testing.assert_close(outputs[t], h)
    torch.testing.assert_close(H, h)


def test_gru_scratch_is_the_notes_equations(corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 3, 8)
    inputs = one_hot_inputs(X, V)
    cell = randomize_(GRUScratch(V, 5).double())
    outputs, H = cell(inputs)
    h = torch.zeros(3, 5, dtype=torch.float64)
    for t in range(8):
        x = inputs[t]
        r = torch.sigmoid(x @ cell.W_xr + h @ cell.W_hr + cell.b_r)
        z = torch.sigmoid(x @ cell.W_xz + h @ cell.W_hz + cell.b_z)
        h_tilde = torch.tanh(x @ cell.W_xh + (r * h) @ cell.W_hh + cell.b_h)
        h = z * h + (1 - z) * h_tilde
        torch.testing.assert_close(outputs[t], h)
    torch.testing.assert_close(H, h)


def forward_and_grads(module, inputs, state, is_lstm):
    """Outputs, final state, and the gradients of a loss that uses outputs and the final state."""
    module.zero_grad()
    outputs, final = module(inputs, state)
    finals = final if is_lstm else (final,)
    loss = (outputs ** 2).sum() + sum((s * torch.arange(s.numel(), dtype=s.dtype).reshape(s.shape)).sum()
                                      for s in finals)
    loss.backward()
    return outputs.detach(), [s.detach() for s in finals]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_cells_equal_torch_nn_forward_and_gradients(cell, corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 4, 10)
    inputs = one_hot_inputs(X, V)
    layer = randomize_(TORCH_LAYERS[cell](V, 6).double(), seed=1)
    mine = scratch_cell(cell, V, 6).double()
    copy_from_torch(mine, layer)
    g = torch.Generator().manual_seed(2)
    H0 = torch.randn(4, 6, generator=g, dtype=torch.float64)
    C0 = torch.randn(4, 6, generator=g, dtype=torch.float64)
    if cell == "lstm":
        out_t, fin_t = forward_and_grads(layer, inputs, (H0[None], C0[None]), True)
        out_m, fin_m = forward_and_grads(mine, inputs, (H0, C0), True)
    else:
        out_t, fin_t = forward_and_grads(layer, inputs, H0[None], False)
        out_m, fin_m = forward_and_grads(mine, inputs, H0, False)
    torch.testing.assert_close(out_m, out_t, rtol=1e-12, atol=1e-12)
    for a, b in zip(fin_m, fin_t):
        torch.testing.assert_close(a, b[0], rtol=1e-12, atol=1e-12)
    # gradients: the scratch bias of a gate is b_ih + b_hh, so its gradient equals each of theirs
    W_ih, W_hh = layer.weight_ih_l0.grad, layer.weight_hh_l0.grad
    gates = W_ih.shape[0] // 6
    gW_x, gW_h, gb = W_ih.T.chunk(gates, dim=1), W_hh.T.chunk(gates, dim=1), layer.bias_ih_l0.grad.chunk(gates)
    gb_hh = layer.bias_hh_l0.grad.chunk(gates)
    names = {"rnn": [("xh", "hh", "h")],
             "gru": [("xr", "hr", "r"), ("xz", "hz", "z"), ("xh", "hh", "h")],
             "lstm": [("xi", "hi", "i"), ("xf", "hf", "f"), ("xc", "hc", "c"), ("xo", "ho", "o")]}[cell]
    for k, (wx, wh, b) in enumerate(names):
        torch.testing.assert_close(getattr(mine, "W_" + wx).grad, gW_x[k], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(getattr(mine, "W_" + wh).grad, gW_h[k], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(getattr(mine, "b_" + b).grad, gb[k], rtol=1e-10, atol=1e-12)
        if not (cell == "gru" and b == "h"):
            torch.testing.assert_close(getattr(mine, "b_" + b).grad, gb_hh[k], rtol=1e-10, atol=1e-12)
    if cell == "gru":
        torch.testing.assert_close(mine.b_hn.grad, gb_hh[2], rtol=1e-10, atol=1e-12)


def test_notes_gru_is_not_torch_gru(corpus):
    """The notes' GRU resets before the matrix product; nn.GRU after it: different functions."""
    tokens, V = corpus
    X, _ = batch(tokens, 2, 6)
    layer = randomize_(nn.GRU(V, 5).double(), std=0.5)
    after = GRUScratch(V, 5, reset_after=True).double()
    copy_from_torch(after, layer)
    before = GRUScratch(V, 5).double()
    with torch.no_grad():
        for name, p in before.named_parameters():
            p.copy_(getattr(after, name))
        before.b_h += after.b_hn  # so the two differ only in where the reset gate acts
    with torch.no_grad():
        diff = (before(one_hot_inputs(X, V))[0] - after(one_hot_inputs(X, V))[0]).abs().max()
    assert diff > 1e-3
    with pytest.raises(ValueError, match="reset_after=True"):
        copy_from_torch(before, layer)


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def random_state(net, batch_size, seed):
    """A state of net's layout filled with N(0, 1) numbers."""
    g = torch.Generator().manual_seed(seed)
    states = [torch.randn(s.shape, generator=g, dtype=s.dtype) for s in as_tuple(net.begin_state(batch_size))]
    return tuple(states) if len(states) == 2 else states[0]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_scratch_model_equals_torch_model(cell, num_layers, bidirectional, corpus):
    tokens, V = corpus
    X, Y = batch(tokens, 3, 7, start=100)
    layer = TORCH_LAYERS[cell](V, 5, num_layers=num_layers, bidirectional=bidirectional)
    torch_net = randomize_(RNNModel(layer, V).double(), seed=3)
    kwargs = {"reset_after": True} if cell == "gru" else {}
    net = RNNModelScratch(V, 5, cell, num_layers, bidirectional, **kwargs).double()
    copy_from_torch(net, torch_net)
    state = random_state(torch_net, 3, seed=4)
    results = {}
    for name, model in (("torch", torch_net), ("scratch", net)):
        logits, final = model(X, state)
        loss = F.cross_entropy(logits, Y.T.reshape(-1)) + sum((s ** 2).sum() for s in as_tuple(final))
        loss.backward()
        results[name] = (logits.detach(), [s.detach() for s in as_tuple(final)])
    torch.testing.assert_close(results["scratch"][0], results["torch"][0], rtol=1e-12, atol=1e-12)
    for a, b in zip(results["scratch"][1], results["torch"][1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(net.W_hq.grad, torch_net.linear.weight.grad.T, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(net.b_q.grad, torch_net.linear.bias.grad, rtol=1e-10, atol=1e-12)
    # every cell of the stack: the input weights of the first gate in torch's order (r, i or the only one)
    first_gate = {"rnn": "W_xh", "gru": "W_xr", "lstm": "W_xi"}[cell]
    dirs = 2 if bidirectional else 1
    for i, scratch_cell_i in enumerate(net.rnn.cells):
        suffix = f"_l{i // dirs}" + ("_reverse" if i % dirs else "")
        torch_grad = getattr(layer, "weight_ih" + suffix).grad  # (gates * 5, inputs)
        torch.testing.assert_close(getattr(scratch_cell_i, first_gate).grad, torch_grad[:5].T,
                                   rtol=1e-10, atol=1e-12)


def test_logits_are_time_major_and_causal(corpus):
    """Row t*batch + b belongs to step t of sequence b and depends only on X[b, :t+1];
    a bidirectional model also sees the future."""
    tokens, V = corpus
    X, _ = batch(tokens, 3, 6)
    X2 = X.clone()
    X2[1, 4] = (X[1, 4] + 1) % V  # change sequence 1 at step 4
    for bidirectional in (False, True):
        net = randomize_(RNNModelScratch(V, 8, "gru", bidirectional=bidirectional).double())
        with torch.no_grad():
            changed = (net(X)[0] - net(X2)[0]).abs().amax(dim=1).reshape(6, 3) > 1e-12  # [t, b]
        expected = torch.zeros(6, 3, dtype=torch.bool)
        expected[4:, 1] = True
        if bidirectional:
            expected[:, 1] = True
        assert torch.equal(changed, expected)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_carried_state_equals_one_long_call(cell, corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 2, 12)
    for net in (randomize_(RNNModelScratch(V, 6, cell, num_layers=2).double()),
                randomize_(RNNModel(TORCH_LAYERS[cell](V, 6, num_layers=2), V).double())):
        with torch.no_grad():
            long_logits, long_state = net(X)
            first, state = net(X[:, :5])
            second, state = net(X[:, 5:], state)
        # time-major rows: the first 5 * 2 rows are steps 0..4
        torch.testing.assert_close(torch.cat([first, second]), long_logits)
        for a, b in zip(state if cell == "lstm" else (state,), long_state if cell == "lstm" else (long_state,)):
            torch.testing.assert_close(a, b)


def test_recurrent_stack_for_per_position_outputs(corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 2, 9)
    stack = randomize_(RecurrentStack("lstm", V, 4, num_layers=2, bidirectional=True).double())
    torch_layer = randomize_(nn.LSTM(V, 4, num_layers=2, bidirectional=True).double(), seed=5)
    copy_from_torch(stack, torch_layer)
    outputs, (H, C) = stack(one_hot_inputs(X, V))
    expected, (H_t, C_t) = torch_layer(one_hot_inputs(X, V))
    assert outputs.shape == (9, 2, 8)
    torch.testing.assert_close(outputs, expected)
    torch.testing.assert_close(H, H_t)
    torch.testing.assert_close(C, C_t)


def test_dropout_acts_between_layers_in_training_only(corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 4, 6)
    net = randomize_(RNNModelScratch(V, 16, "rnn", num_layers=2, dropout=0.5).double())
    ref = RNNModelScratch(V, 16, "rnn", num_layers=2).double()
    ref.load_state_dict(net.state_dict())
    net.eval()
    ref.eval()
    torch.testing.assert_close(net(X)[0], ref(X)[0])
    net.train()
    torch.manual_seed(0)
    assert not torch.allclose(net(X)[0], ref(X)[0])
    one_layer = randomize_(RNNModelScratch(V, 16, "rnn", dropout=0.5).double())  # nothing between layers
    logits_train = one_layer(X)[0]
    one_layer.eval()
    torch.testing.assert_close(logits_train, one_layer(X)[0])


def test_scratch_model_learns_the_time_machine(corpus):
    """A few dozen SGD steps on one minibatch take the loss well below the uniform ln(V)."""
    tokens, V = corpus
    X, Y = batch(tokens, 8, 20, start=500)
    torch.manual_seed(0)
    net = RNNModelScratch(V, 32, "rnn", init_std=0.1)
    opt = torch.optim.SGD(net.parameters(), lr=2.0)
    losses = []
    for _ in range(60):
        logits, _ = net(X)
        loss = F.cross_entropy(logits, Y.T.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(torch.log(torch.tensor(float(V))).item(), abs=0.05)
    assert losses[-1] < 0.5 * losses[0]


# --------------------------------------------------------------------------- truncated and randomized BPTT

def hand_rnn_loss(cell, inputs, factors):
    """The RNN with the gradient into H_{t-1} scaled by factors[t], written with detach() directly."""
    h = torch.zeros(inputs.shape[1], cell.num_hiddens, dtype=inputs.dtype)
    loss = 0
    for t in range(inputs.shape[0]):
        if factors[t] == 0:
            h = h.detach()
        elif factors[t] != 1:
            h = factors[t] * h + (1 - factors[t]) * h.detach()
        h = torch.tanh(inputs[t] @ cell.W_xh + h @ cell.W_hh + cell.b_h)
        loss = loss + (h * torch.arange(h.numel(), dtype=h.dtype).reshape(h.shape)).sum() / h.numel()
    return loss


def grads_of(cell, loss):
    return torch.autograd.grad(loss, [cell.W_xh, cell.W_hh, cell.b_h])


def module_loss(cell, inputs):
    outputs, _ = cell(inputs)
    step = outputs[0]  # (batch, num_hiddens)
    weights = torch.arange(step.numel(), dtype=step.dtype).reshape(step.shape) / step.numel()
    return (outputs * weights).sum()


@pytest.fixture(scope="module")
def rnn_problem(corpus):
    tokens, V = corpus
    X, _ = batch(tokens, 3, 12, start=40)
    cell = randomize_(RNNScratch(V, 6).double(), std=0.6)
    return cell, one_hot_inputs(X, V)


def test_truncated_bptt_equals_detached_hand_computation(rnn_problem):
    cell, inputs = rnn_problem
    truncated = RNNScratch(cell.num_inputs, 6, bptt="truncated", bptt_k=4).double()
    truncated.load_state_dict(cell.state_dict())
    cut = [0.0 if t in (4, 8) else 1.0 for t in range(12)]  # cut before steps 4 and 8
    expected = grads_of(cell, hand_rnn_loss(cell, inputs, cut))
    got = grads_of(truncated, module_loss(truncated, inputs))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    full = grads_of(cell, module_loss(cell, inputs))
    torch.testing.assert_close(full[1], grads_of(cell, hand_rnn_loss(cell, inputs, [1.0] * 12))[1])
    assert (full[1] - got[1]).abs().max() > 1e-4  # the cut gradients are really missing
    # the forward values do not depend on the mode
    torch.testing.assert_close(truncated(inputs)[0], cell(inputs)[0], rtol=0, atol=0)


def test_randomized_bptt_scales_by_the_drawn_factors(rnn_problem):
    cell, inputs = rnn_problem
    rand = RNNScratch(cell.num_inputs, 6, bptt="randomized", bptt_pi=0.5).double()
    rand.load_state_dict(cell.state_dict())
    for seed in range(3):
        torch.manual_seed(seed)
        factors = rand.grad_factors(12)
        torch.manual_seed(seed)  # the forward pass draws the same factors
        got = grads_of(rand, module_loss(rand, inputs))
        expected = grads_of(cell, hand_rnn_loss(cell, inputs, factors))
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(rand(inputs)[0], cell(inputs)[0], rtol=0, atol=0)


def test_randomized_bptt_is_unbiased(rnn_problem):
    """E[gradient] over every pattern of ξ_1..ξ_{T-1} (probabilities π and 1 - π) = the full gradient."""
    cell, inputs = rnn_problem
    inputs = inputs[:5]
    pi = 0.25
    expected_grad = [torch.zeros_like(p) for p in (cell.W_xh, cell.W_hh, cell.b_h)]
    for pattern in range(2 ** 4):
        keep = [(pattern >> i) & 1 for i in range(4)]
        prob = 1.0
        for k in keep:
            prob *= pi if k else 1 - pi
        factors = [1.0] + [1 / pi if k else 0.0 for k in keep]
        for acc, g in zip(expected_grad, grads_of(cell, hand_rnn_loss(cell, inputs, factors))):
            acc += prob * g
    full = grads_of(cell, hand_rnn_loss(cell, inputs, [1.0] * 5))
    for a, b in zip(expected_grad, full):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_randomized_factors_statistics_and_reproducibility():
    cell = RNNScratch(3, 2, bptt="randomized", bptt_pi=0.2)
    torch.manual_seed(1)
    draws = torch.tensor([cell.grad_factors(101)[1:] for _ in range(200)])  # 20 000 factors
    assert draws.unique().tolist() == pytest.approx([0.0, 5.0])
    assert abs((draws > 0).float().mean().item() - 0.2) < 0.015  # 4.5 standard errors
    assert abs(draws.mean().item() - 1.0) < 0.075
    torch.manual_seed(7)
    a = cell.grad_factors(30)
    torch.manual_seed(7)
    assert cell.grad_factors(30) == a


def test_truncation_only_while_training(rnn_problem):
    cell, inputs = rnn_problem
    rand = RNNScratch(cell.num_inputs, 6, bptt="randomized").double()
    rand.load_state_dict(cell.state_dict())
    rand.eval()
    assert rand.grad_factors(12) is None
    rng = torch.get_rng_state()
    with torch.no_grad():
        rand.train()
        assert rand.grad_factors(12) is None
        rand(inputs)
    assert torch.equal(torch.get_rng_state(), rng)  # generation consumes no random numbers
    rand.eval()
    torch.testing.assert_close(grads_of(rand, module_loss(rand, inputs)),
                               grads_of(cell, module_loss(cell, inputs)))


def test_scale_grad_keeps_value_and_scales_gradient():
    x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    weights = torch.arange(4.0, dtype=torch.float64)
    for xi in (0.5, 1.0, 3.0):
        y = scale_grad(x, xi)
        assert torch.equal(y, x)
        (grad,) = torch.autograd.grad((y * weights).sum(), x)
        torch.testing.assert_close(grad, xi * weights)
    y = scale_grad(x, 0.0)
    assert torch.equal(y, x) and not y.requires_grad


def test_bptt_option_reaches_the_cells_through_the_model(corpus):
    net = RNNModelScratch(corpus[1], 8, "rnn", num_layers=2, bptt="truncated", bptt_k=3)
    assert all(c.bptt == "truncated" and c.bptt_k == 3 for c in net.rnn.cells)


# --------------------------------------------------------------------------- bad input

def test_cell_bad_inputs():
    cell = RNNScratch(5, 4)
    with pytest.raises(ValueError, match=r"\(num_steps, batch, num_inputs=5\).*got shape \(3, 5\)"):
        cell(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 6\)"):
        cell(torch.zeros(2, 3, 6))
    with pytest.raises(TypeError, match="dtype torch.float32, got torch.int64"):
        cell(torch.zeros(2, 3, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="must be a tensor"):
        cell([[0.0] * 5])
    with pytest.raises(ValueError, match=r"state must have shape \(batch=3, num_hiddens=4\), got shape \(1, 3, 4"):
        cell(torch.zeros(2, 3, 5), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match=r"state must have shape"):
        GRUScratch(5, 4)(torch.zeros(2, 3, 5), torch.zeros(3, 5))
    lstm = LSTMScratch(5, 4)
    with pytest.raises(TypeError, match=r"tuple \(H, C\)"):
        lstm(torch.zeros(2, 3, 5), torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"state C must have shape"):
        lstm(torch.zeros(2, 3, 5), (torch.zeros(3, 4), torch.zeros(2, 4)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="bptt must be one of 'full', 'truncated', 'randomized', got 'partial'"):
        RNNScratch(5, 4, bptt="partial")
    with pytest.raises(ValueError, match="bptt_k must be at least 1, got 0"):
        RNNScratch(5, 4, bptt="truncated", bptt_k=0)
    for pi in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"bptt_pi must lie in \(0, 1\]"):
            RNNScratch(5, 4, bptt="randomized", bptt_pi=pi)
    with pytest.raises(ValueError, match="cell must be one of 'rnn', 'gru', 'lstm', got 'transformer'"):
        RNNModelScratch(28, 8, cell="transformer")
    with pytest.raises(ValueError, match="num_layers"):
        RNNModelScratch(28, 8, num_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        RNNModelScratch(28, 8, dropout=1.0)
    with pytest.raises(TypeError, match="nn.RNN, nn.GRU or nn.LSTM"):
        RNNModel(nn.Linear(28, 8), 28)
    with pytest.raises(ValueError, match="input_size must equal vocab_size=28.*got 27"):
        RNNModel(nn.GRU(27, 8), 28)
    with pytest.raises(ValueError, match="batch_first=False"):
        RNNModel(nn.GRU(28, 8, batch_first=True), 28)


@pytest.mark.parametrize("make", [lambda: RNNModelScratch(28, 8, "lstm", num_layers=2),
                                  lambda: RNNModel(nn.LSTM(28, 8, num_layers=2), 28)])
def test_model_bad_inputs(make):
    net = make()
    X = torch.randint(0, 28, (3, 5))
    with pytest.raises(TypeError, match="LongTensor of token ids.*got torch.float32"):
        net(X.float())
    with pytest.raises(ValueError, match=r"shape \(batch, num_steps\), got shape \(5,\)"):
        net(X[0])
    with pytest.raises(ValueError, match=r"\[0, vocab_size=28\), got ids from 0 to 28"):
        net(torch.tensor([[0, 28]]))
    with pytest.raises(ValueError, match=r"got ids from -1"):
        net(torch.tensor([[-1, 3]]))
    with pytest.raises(TypeError, match=r"tuple \(H, C\)"):
        net(X, torch.zeros(2, 3, 8))
    H, C = net.begin_state(3)
    with pytest.raises(ValueError, match=r"= \(2, 3, 8\), got shape \(2, 4, 8\)"):
        net(X, (H, torch.zeros(2, 4, 8)))
    with pytest.raises(ValueError, match=r"got shape \(3, 8\)"):
        net(X, (H[0], C[0]))


def test_copy_from_torch_errors():
    with pytest.raises(TypeError, match="nn.LSTM"):
        copy_from_torch(LSTMScratch(5, 4), nn.GRU(5, 4))
    with pytest.raises(ValueError, match="size mismatch"):
        copy_from_torch(RNNScratch(5, 4), nn.RNN(5, 3))
    with pytest.raises(ValueError, match="tanh"):
        copy_from_torch(RNNScratch(5, 4), nn.RNN(5, 4, nonlinearity="relu"))
    with pytest.raises(ValueError, match="layer=1"):
        copy_from_torch(RNNScratch(5, 4), nn.RNN(5, 4), layer=1)
    with pytest.raises(ValueError, match="num_layers=1"):
        copy_from_torch(RecurrentStack("rnn", 5, 4), nn.RNN(5, 4, num_layers=2))
    with pytest.raises(TypeError, match="RNNModel"):
        copy_from_torch(RNNModelScratch(5, 4), nn.RNN(5, 4))
    with pytest.raises(TypeError, match="RecurrentStack takes weights from an nn.RNN"):
        copy_from_torch(RecurrentStack("rnn", 5, 4), nn.Linear(5, 4))
    with pytest.raises(TypeError, match="copies into"):
        copy_from_torch(nn.Linear(5, 4), nn.RNN(5, 4))


# ---- gate activations (chapters 8 and 9 draw them)

from rnncourse.models import gate_activations  # noqa: E402


def test_gate_activations_reproduce_the_states():
    """The recorded gates, put back into the cell's equations, give its hidden states."""
    torch.manual_seed(0)
    inputs = torch.randn(12, 3, 5, dtype=torch.float64)
    gru = GRUScratch(5, 4, init_std=0.5).double()
    H0 = torch.randn(3, 4, dtype=torch.float64)
    g = gate_activations(gru, inputs, H0)
    out, _ = gru(inputs, H0)
    H_prev = torch.cat([H0[None], out[:-1]])
    H_tilde = torch.tanh(inputs @ gru.W_xh + gru.b_h + (g["R"] * H_prev) @ gru.W_hh)
    torch.testing.assert_close(g["Z"] * H_prev + (1 - g["Z"]) * H_tilde, out)
    lstm = LSTMScratch(5, 4, init_std=0.5).double()
    state = (torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64))
    g = gate_activations(lstm, inputs, state)
    out, (_, C_T) = lstm(inputs, state)
    H_prev = torch.cat([state[0][None], out[:-1]])
    C = state[1]
    for t in range(12):
        C_tilde = torch.tanh(inputs[t] @ lstm.W_xc + H_prev[t] @ lstm.W_hc + lstm.b_c)
        C = g["F"][t] * C + g["I"][t] * C_tilde
        torch.testing.assert_close(g["O"][t] * torch.tanh(C), out[t])
    torch.testing.assert_close(C, C_T)
    assert set(g) == {"I", "F", "O"} and all(v.shape == (12, 3, 4) for v in g.values())


def test_gate_activations_follow_the_biases_and_refuse_other_cells():
    lstm = LSTMScratch(3, 2)
    with torch.no_grad():
        lstm.b_f.fill_(50.0)
    assert torch.all(gate_activations(lstm, torch.randn(4, 1, 3))["F"] > 0.999)
    with pytest.raises(TypeError, match="GRUScratch or LSTMScratch"):
        gate_activations(RNNScratch(3, 2), torch.randn(4, 1, 3))


def test_cells_check_alone_but_not_again_inside_a_stack(monkeypatch):
    """A cell used alone checks its arguments; inside a RecurrentStack the stack checks
    them once, on entry, and its cells do not check again at every call."""
    import rnncourse.models as models
    calls = []
    real = models._check_inputs
    monkeypatch.setattr(models, "_check_inputs", lambda *a: calls.append(a[-1]) or real(*a))
    for cell in ("rnn", "gru", "lstm"):
        calls.clear()
        CELLS[cell](5, 4)(torch.zeros(2, 3, 5))
        assert calls == [CELLS[cell].__name__]
        calls.clear()
        RecurrentStack(cell, 5, 4, num_layers=2, bidirectional=True)(torch.zeros(2, 3, 5))
        assert calls == ["RecurrentStack"]
    with pytest.raises(ValueError, match=r"RecurrentStack: C must have shape"):
        RecurrentStack("lstm", 5, 4)(torch.zeros(2, 3, 5), (torch.zeros(1, 3, 4), torch.zeros(3, 4)))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_a_cell_of_a_stack_called_on_its_own_checks_its_arguments(cell):
    """The cells skip their checks only while their stack's forward runs: called directly,
    taken out of the stack, or after the stack's forward raised, a cell checks again."""
    stack = RecurrentStack(cell, 5, 4, num_layers=2)
    name = CELLS[cell].__name__
    with pytest.raises(ValueError, match=f"{name}: inputs must have shape"):
        stack.cells[0](torch.zeros(2, 3, 7))  # a direct call of a cell still in the stack
    with pytest.raises(ValueError, match="RecurrentStack: inputs must have shape"):
        stack(torch.zeros(2, 3, 7))  # the stack refuses ...
    with pytest.raises(ValueError, match=f"{name}: inputs must have shape"):
        stack.cells[1](torch.zeros(2, 3, 5))  # ... and its cells check afterwards
    alone = stack.cells[0]
    del stack
    with pytest.raises(ValueError, match=f"{name}: inputs must have shape"):
        alone(torch.zeros(2, 3, 7))
    outputs, _ = RecurrentStack(cell, 5, 4, num_layers=2)(torch.zeros(2, 3, 5))
    assert outputs.shape == (2, 3, 4)


def test_constructor_type_errors():
    """A wrong type is a TypeError, a bool is not a number (the rnncourse.checks
    convention)."""
    with pytest.raises(TypeError, match="bptt_k must be an integer"):
        RNNScratch(5, 4, bptt_k=2.5)
    with pytest.raises(TypeError, match="bptt_k must be an integer"):
        RNNScratch(5, 4, bptt_k=True)
    with pytest.raises(TypeError, match="num_hiddens must be an integer"):
        LSTMScratch(5, "4")
    with pytest.raises(ValueError, match="num_inputs must be at least 1"):
        GRUScratch(0, 4)
    with pytest.raises(TypeError, match="reset_after must be True or False"):
        GRUScratch(5, 4, reset_after=1)
    with pytest.raises(TypeError, match="num_layers must be an integer"):
        RecurrentStack("rnn", 5, 4, num_layers=2.0)
    with pytest.raises(TypeError, match="bidirectional must be True or False"):
        RecurrentStack("rnn", 5, 4, bidirectional="yes")
    with pytest.raises(TypeError, match="vocab_size must be an integer"):
        RNNModel(nn.RNN(4, 4), 4.0)
