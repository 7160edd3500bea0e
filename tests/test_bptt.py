"""The hand-derived backward pass of the linear RNN against autograd, and the gradient-norm helpers."""
import math

import pytest
import torch
import torch.nn.functional as F

from rnncourse.bptt import (bptt_linear, hidden_grad_norms, linear_rnn_forward, linear_rnn_hidden_grads,
                            scale_spectral_radius, spectral_radius)
from rnncourse.text import load_corpus_time_machine


def random_problem(seed, T, d, h, q):
    g = torch.Generator().manual_seed(seed)
    W_hx = torch.randn(h, d, generator=g, dtype=torch.float64) * 0.5
    W_hh = torch.randn(h, h, generator=g, dtype=torch.float64) * (0.9 / math.sqrt(h))
    W_qh = torch.randn(q, h, generator=g, dtype=torch.float64) * 0.5
    X = torch.randn(T, d, generator=g, dtype=torch.float64)
    Y = torch.randint(0, q, (T,), generator=g)
    return W_hx, W_hh, W_qh, X, Y


def autograd_loss(W_hx, W_hh, W_qh, X, Y):
    """The same model written independently: matrix-vector products, mean cross-entropy."""
    h = torch.zeros(W_hh.shape[0], dtype=X.dtype)
    hs, losses = [], []
    for t in range(X.shape[0]):
        h = W_hx @ X[t] + W_hh @ h
        h.retain_grad()
        hs.append(h)
        losses.append(F.cross_entropy((W_qh @ h).unsqueeze(0), Y[t:t + 1]))
    return torch.stack(losses).mean(), hs


@pytest.mark.parametrize("seed,T,d,h,q", [(0, 1, 3, 4, 5), (1, 7, 5, 3, 4), (2, 20, 4, 8, 6),
                                         (3, 35, 10, 16, 10)])
def test_bptt_linear_matches_autograd(seed, T, d, h, q):
    W_hx, W_hh, W_qh, X, Y = random_problem(seed, T, d, h, q)
    params = [W.clone().requires_grad_() for W in (W_hx, W_hh, W_qh)]
    loss, hs = autograd_loss(*params, X, Y)
    loss.backward()
    grads = bptt_linear(W_hx, W_hh, W_qh, X, Y)
    for mine, p in zip(grads, params):
        assert mine.shape == p.shape
        torch.testing.assert_close(mine, p.grad, rtol=1e-10, atol=1e-12)
    dH = linear_rnn_hidden_grads(W_hx, W_hh, W_qh, X, Y)
    torch.testing.assert_close(dH, torch.stack([h_t.grad for h_t in hs]), rtol=1e-10, atol=1e-12)


def test_bptt_linear_on_characters_of_the_time_machine():
    """One-hot characters in, the next character as the label: a real sequence."""
    corpus, vocab = load_corpus_time_machine(max_tokens=41)
    V = len(vocab)
    X = F.one_hot(torch.tensor(corpus[:-1]), V).double()  # (40, V)
    Y = torch.tensor(corpus[1:])
    g = torch.Generator().manual_seed(4)
    W_hx, W_hh, W_qh = (torch.randn(*shape, generator=g, dtype=torch.float64) * 0.3
                        for shape in ((12, V), (12, 12), (V, 12)))
    params = [W.clone().requires_grad_() for W in (W_hx, W_hh, W_qh)]
    autograd_loss(*params, X, Y)[0].backward()
    for mine, p in zip(bptt_linear(W_hx, W_hh, W_qh, X, Y), params):
        torch.testing.assert_close(mine, p.grad, rtol=1e-10, atol=1e-12)
    # only the columns of characters that occur get a gradient in W_hx
    unseen = sorted(set(range(V)) - set(corpus[:-1]))
    assert unseen and bptt_linear(W_hx, W_hh, W_qh, X, Y)[0][:, unseen].abs().max() == 0


def test_linear_rnn_forward_is_the_recursion():
    W_hx, W_hh, W_qh, X, _ = random_problem(5, 6, 3, 4, 2)
    H, O = linear_rnn_forward(W_hx, W_hh, W_qh, X)
    assert H.shape == (6, 4) and O.shape == (6, 2)
    # unrolled: h_t = Σ_{s<=t} W_hh^(t-s) W_hx x_s
    for t in range(6):
        h_t = sum(torch.linalg.matrix_power(W_hh, t - s) @ W_hx @ X[s] for s in range(t + 1))
        torch.testing.assert_close(H[t], h_t)
        torch.testing.assert_close(O[t], W_qh @ h_t)


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5])
def test_hidden_grad_norms_follow_the_spectral_radius(radius):
    # an orthogonal matrix times r has every singular value r: ‖(W_hhᵀ)^k g‖ = r^k ‖g‖ exactly
    g = torch.Generator().manual_seed(6)
    Q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    W_hh = scale_spectral_radius(Q, radius)
    assert spectral_radius(W_hh) == pytest.approx(radius, rel=1e-10)
    T = 30
    norms = hidden_grad_norms(W_hh, T)
    expected = torch.tensor([radius ** (T - t) for t in range(1, T + 1)], dtype=torch.float64)
    torch.testing.assert_close(norms, expected)


def test_hidden_grad_norms_agree_with_autograd():
    g = torch.Generator().manual_seed(7)
    W_hh = torch.randn(5, 5, generator=g, dtype=torch.float64) * 0.5
    grad_last = torch.randn(5, generator=g, dtype=torch.float64)
    T = 9
    h = torch.randn(5, generator=g, dtype=torch.float64).requires_grad_()
    hs = [h]
    for _ in range(T - 1):
        hs.append(W_hh @ hs[-1])
    for h_t in hs:
        h_t.retain_grad()
    (hs[-1] @ grad_last).backward()  # a loss with ∂L/∂h_T = grad_last
    expected = torch.stack([torch.linalg.vector_norm(h_t.grad) for h_t in hs])
    torch.testing.assert_close(hidden_grad_norms(W_hh, T, grad_last), expected)


def test_scale_spectral_radius_scales_every_eigenvalue():
    g = torch.Generator().manual_seed(8)
    W = torch.randn(6, 6, generator=g, dtype=torch.float64)
    scaled = scale_spectral_radius(W, 2.0)
    ratio = torch.linalg.eigvals(scaled).abs().sort().values / torch.linalg.eigvals(W).abs().sort().values
    torch.testing.assert_close(ratio, torch.full((6,), 2.0 / spectral_radius(W), dtype=torch.float64))


def test_bad_input_errors():
    W_hx, W_hh, W_qh, X, Y = random_problem(9, 5, 3, 4, 2)
    with pytest.raises(ValueError, match="W_hh must be"):
        bptt_linear(W_hx, W_hh[:, :3], W_qh, X, Y)
    with pytest.raises(ValueError, match="W_qh must be"):
        bptt_linear(W_hx, W_hh, W_qh.T, X, Y)
    with pytest.raises(ValueError, match="X must be"):
        bptt_linear(W_hx, W_hh, W_qh, X[:, :2], Y)
    # a wrong dtype is a wrong type: TypeError (ValueError before the rnncourse.checks
    # convention)
    with pytest.raises(TypeError, match="Y must be a LongTensor"):
        bptt_linear(W_hx, W_hh, W_qh, X, Y.double())
    with pytest.raises(ValueError, match="Y must be a LongTensor"):
        bptt_linear(W_hx, W_hh, W_qh, X, Y[:3])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, q = 2\)"):
        bptt_linear(W_hx, W_hh, W_qh, X, Y + 2)
    with pytest.raises(ValueError, match="square"):
        hidden_grad_norms(W_hx, 3)
    with pytest.raises(ValueError, match="num_steps"):
        hidden_grad_norms(W_hh, 0)
    with pytest.raises(ValueError, match="grad_last"):
        hidden_grad_norms(W_hh, 3, torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="spectral radius 0"):
        scale_spectral_radius(torch.zeros(3, 3), 1.0)
    with pytest.raises(ValueError, match="square"):
        spectral_radius(W_hx)


def test_bad_input_types_raise_type_errors():
    W_hx, W_hh, W_qh, X, Y = random_problem(9, 5, 3, 4, 2)
    with pytest.raises(TypeError, match="X must be a 2-D float tensor"):
        linear_rnn_forward(W_hx, W_hh, W_qh, X.long())
    with pytest.raises(TypeError, match="W_hx must be a 2-D float tensor, got list"):
        linear_rnn_hidden_grads(W_hx.tolist(), W_hh, W_qh, X, Y)
    with pytest.raises(TypeError, match="num_steps must be an integer"):
        hidden_grad_norms(W_hh, 3.0)
    with pytest.raises(TypeError, match="num_steps must be an integer"):
        hidden_grad_norms(W_hh, True)
    with pytest.raises(TypeError, match="W must be a square matrix"):
        spectral_radius([[1.0]])
    with pytest.raises(ValueError, match="radius must be at least 0"):
        scale_spectral_radius(W_hh, -1.0)
