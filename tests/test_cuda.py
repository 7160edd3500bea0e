"""The scratch cells and models on CUDA: equal to cuDNN's nn.RNN / nn.GRU / nn.LSTM, and they learn.

Every test runs twice: on the CPU (always) and on CUDA (marked ``cuda``: skipped, with the
reason, on a machine without a GPU; ``make gpu-test`` runs them). The CPU run checks the
same float32 comparison with the same tolerances, so the tolerances are known to hold for a
second, independently ordered float32 implementation (torch's CPU kernels), not guessed.

**TF32 is disabled in these tests** (``ieee_fp32`` below): on Ampere and later GPUs torch lets
cuDNN's RNNs use TF32 by default (``torch.backends.cudnn.rnn.fp32_precision == "tf32"``),
whose 10-bit mantissa gives errors near 1e-3, a thousand times float32's. The comparison
is about the scratch equations equalling cuDNN's, so both sides compute in IEEE float32.

Tolerances (float32, unit roundoff u = 6e-8). The outputs lie in [-1, 1] and come from
35 steps of gemms over K = 28 + 64 terms; rounding adds about sqrt(K) u ~ 1e-6 per step at
worst, and the recurrence, scaled to be contracting (see ``randomize_``), does not amplify
it. Measured on the CPU (scratch float32 against torch float32, and either against a float64
run of the same weights) the outputs differ by at most 5e-7, so ``atol = rtol = 2e-5``
leaves a factor of 40 for cuDNN's different summation order. Gradients are sums over
32 x 35 positions, so their error scales with their size: measured, at most 7.5e-6 of the
largest entry of a gradient (the LSTM's, against float64 too, so it is float32's error and
not a difference of equations); they are compared at ``rtol = 1e-4`` with
``atol = 1e-4 * max|grad|``, a factor of 13.
"""
import collections
import contextlib
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.models import CELLS, RNNModel, RNNModelScratch, copy_from_torch
from rnncourse.sampling import load_data_time_machine
from rnncourse.text import load_corpus_time_machine
from rnncourse.train import train_lm
from rnncourse.utils import set_seed

DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=pytest.mark.cuda)]
TORCH_LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
NUM_STEPS, BATCH, HIDDEN = 35, 32, 64
FORWARD_TOL = 2e-5
GRAD_RTOL, GRAD_ATOL_FRACTION = 1e-4, 1e-4


@contextlib.contextmanager
def ieee_fp32():
    """Plain IEEE float32 for cuDNN (RNNs included) and cuBLAS while the block runs; restored after."""
    settings = [(torch.backends.cuda.matmul, "fp32_precision"),
                (torch.backends.cudnn, "fp32_precision"),
                (torch.backends.cudnn.rnn, "fp32_precision")]
    old = [getattr(module, name) for module, name in settings]
    try:
        for module, name in settings:
            setattr(module, name, "ieee")
        yield
    finally:
        for (module, name), value in zip(settings, old):
            setattr(module, name, value)


@pytest.fixture(scope="module")
def time_machine_batch():
    """X (32, 35): consecutive stretches of The Time Machine's characters, and the vocabulary size."""
    corpus, vocab = load_corpus_time_machine(max_tokens=BATCH * NUM_STEPS + 1)
    X = torch.tensor(corpus[:BATCH * NUM_STEPS]).reshape(BATCH, NUM_STEPS)
    return X, len(vocab)


def randomize_(layer: nn.Module, seed: int = 0) -> nn.Module:
    """Weights that make the cells nonlinear but the recurrence contracting.

    One-hot inputs pick one row of W_ih: std 1 puts the gates' pre-activations at N(0, 1),
    where tanh and sigmoid bend. W_hh with std 0.6 / sqrt(h) has spectral radius about 0.6,
    so rounding errors shrink from step to step instead of growing (the default N(0, 1/h)
    init of torch is near radius 1). Biases std 0.3.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            std = 1.0 if "weight_ih" in name else 0.6 / math.sqrt(HIDDEN) if "weight_hh" in name else 0.3
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return layer


def forward_and_grads(module, inputs, state):
    """Outputs, final state and the gradients of a loss that weighs every output and state entry."""
    outputs, final = module(inputs, state)
    finals = final if isinstance(final, tuple) else (final,)
    weights = torch.linspace(-1, 1, outputs.numel(), device=outputs.device).reshape(outputs.shape)
    loss = (outputs * weights).sum() + sum((s * s).sum() for s in finals)
    grads = torch.autograd.grad(loss, list(module.parameters()))
    return outputs.detach(), [s.detach() for s in finals], grads


def torch_grads_as_scratch(cell: str, layer: nn.Module, grads) -> dict[str, torch.Tensor]:
    """torch's gradients in the scratch cell's layout: (d, h) blocks of W_ih^T, (h, h) of W_hh^T, bias sums."""
    g = dict(zip([name for name, _ in layer.named_parameters()], grads))
    gates = {"rnn": ["h"], "gru": ["r", "z", "h"], "lstm": ["i", "f", "c", "o"]}[cell]  # torch's order
    W_x, W_h = g["weight_ih_l0"].T.chunk(len(gates), dim=1), g["weight_hh_l0"].T.chunk(len(gates), dim=1)
    b_ih, b_hh = g["bias_ih_l0"].chunk(len(gates)), g["bias_hh_l0"].chunk(len(gates))
    out = {}
    for k, gate in enumerate(gates):
        out[f"W_x{gate}"] = W_x[k]
        out[f"W_h{gate}"] = W_h[k]
        # one scratch bias per gate receives the gradient of b_ih (and, equal to it, of b_hh) ...
        out[f"b_{gate}"] = b_ih[k]
    if cell == "gru":  # ... except the GRU candidate, whose b_hn sits inside the reset gate
        out["b_hn"] = b_hh[2]
    return out


def assert_grads_close(mine: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    assert set(mine) == set(theirs)
    for name, grad in theirs.items():
        atol = GRAD_ATOL_FRACTION * grad.abs().max().item()
        torch.testing.assert_close(mine[name], grad, rtol=GRAD_RTOL, atol=atol, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("device", DEVICES)
def test_scratch_cell_equals_cudnn_forward_and_backward(cell, device, time_machine_batch):
    X, V = time_machine_batch
    layer = randomize_(TORCH_LAYERS[cell](V, HIDDEN), seed=1).to(device)
    if device == "cuda":  # the point of the test: the torch side runs cuDNN's fused kernels
        assert torch.backends.cudnn.is_available() and torch.backends.cudnn.enabled
    kwargs = {"reset_after": True} if cell == "gru" else {}
    mine = CELLS[cell](V, HIDDEN, **kwargs).to(device)
    copy_from_torch(mine, layer)
    inputs = F.one_hot(X.T, V).float().to(device)  # (num_steps, batch, vocab_size)
    g = torch.Generator().manual_seed(2)
    H0, C0 = (torch.randn(BATCH, HIDDEN, generator=g).to(device) for _ in range(2))
    with ieee_fp32():
        if cell == "lstm":
            out_t, fin_t, grads_t = forward_and_grads(layer, inputs, (H0[None], C0[None]))
            out_m, fin_m, grads_m = forward_and_grads(mine, inputs, (H0, C0))
        else:
            out_t, fin_t, grads_t = forward_and_grads(layer, inputs, H0[None])
            out_m, fin_m, grads_m = forward_and_grads(mine, inputs, H0)
    assert out_m.device.type == out_t.device.type == device
    torch.testing.assert_close(out_m, out_t, rtol=FORWARD_TOL, atol=FORWARD_TOL)
    for a, b in zip(fin_m, fin_t, strict=True):
        torch.testing.assert_close(a, b[0], rtol=FORWARD_TOL, atol=FORWARD_TOL)
    mine_grads = dict(zip([name for name, _ in mine.named_parameters()], grads_m))
    assert_grads_close(mine_grads, torch_grads_as_scratch(cell, layer, grads_t))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("device", DEVICES)
def test_two_layer_scratch_model_equals_torch_model(cell, device, time_machine_batch):
    """The whole language model (one-hot, two layers, output layer) against RNNModel on cuDNN."""
    X, V = time_machine_batch
    set_seed(3)
    torch_net = RNNModel(TORCH_LAYERS[cell](V, HIDDEN, num_layers=2), V).to(device)
    kwargs = {"reset_after": True} if cell == "gru" else {}
    net = RNNModelScratch(V, HIDDEN, cell, num_layers=2, **kwargs).to(device)
    copy_from_torch(net, torch_net)
    X = X.to(device)
    with ieee_fp32():
        logits_t, _ = torch_net(X)
        logits_m, _ = net(X)
        loss_t = F.cross_entropy(logits_t, X.T.reshape(-1))
        loss_m = F.cross_entropy(logits_m, X.T.reshape(-1))
        grad_t = torch.autograd.grad(loss_t, torch_net.linear.weight)[0]
        grad_m = torch.autograd.grad(loss_m, net.W_hq)[0]
    torch.testing.assert_close(logits_m, logits_t, rtol=FORWARD_TOL, atol=FORWARD_TOL)
    torch.testing.assert_close(loss_m, loss_t, rtol=FORWARD_TOL, atol=FORWARD_TOL)
    torch.testing.assert_close(grad_m, grad_t.T, rtol=GRAD_RTOL, atol=GRAD_ATOL_FRACTION * grad_t.abs().max().item())


def unigram_perplexity(corpus) -> float:
    """Perplexity of the best context-free model: every character predicted by its frequency."""
    counts = collections.Counter(corpus)
    n = sum(counts.values())
    return math.exp(-sum(c / n * math.log(c / n) for c in counts.values()))


def train_short(device: str) -> tuple[list[float], float]:
    """The training run of tests/test_train.py (scratch RNN, 32 hidden units, 8 epochs on 10,000 characters)."""
    train_iter, vocab = load_data_time_machine(batch_size=32, num_steps=35, max_tokens=10000)
    set_seed(0)
    net = RNNModelScratch(len(vocab), num_hiddens=32)
    history = train_lm(net, train_iter, vocab, lr=3.0, num_epochs=8, device=device)
    assert next(net.parameters()).device.type == device
    return history["perplexity"], unigram_perplexity(train_iter.corpus)


@pytest.mark.parametrize("device", DEVICES)
def test_short_training_reaches_the_cpu_bound(device):
    """The bound of tests/test_train.py: beat the unigram model by 10%, i.e. use the context."""
    ppl, unigram = train_short(device)
    assert ppl[-1] < 0.9 * unigram
    assert ppl[-1] < ppl[0]


@pytest.mark.cuda
def test_training_on_cuda_tracks_the_cpu_run():
    """Same seed, same data: the GPU run's perplexity stays within 5% of the CPU run's.

    The runs differ only in rounding (TF32 stays at torch's default here, as in the chapters),
    which eight epochs of SGD amplify a little, not by 5%.
    """
    cuda_ppl, _ = train_short("cuda")
    cpu_ppl, _ = train_short("cpu")
    assert cuda_ppl[-1] == pytest.approx(cpu_ppl[-1], rel=0.05)
