"""Attention pooling: the masked softmax (exact zeros on the padding, rows summing to 1,
equal to a softmax over the valid keys only), additive and scaled dot-product attention
against plain per-example loops, gradients by finite differences, and bad inputs."""
import math

import pytest
import torch

from rnncourse.attention import AdditiveAttention, DotProductAttention, masked_softmax


def _random_case(gen, per_query):
    B, Q, K = (int(torch.randint(1, 7, (1,), generator=gen)) for _ in range(3))
    scores = torch.randn(B, Q, K, generator=gen) * 5
    shape = (B, Q) if per_query else (B,)
    valid_lens = torch.randint(1, K + 1, shape, generator=gen)
    return scores, valid_lens


@pytest.mark.parametrize("per_query", [False, True])
def test_masked_weights_are_exactly_zero_and_rows_sum_to_one(per_query):
    gen = torch.Generator().manual_seed(1 + per_query)
    for _ in range(200):
        scores, valid_lens = _random_case(gen, per_query)
        weights = masked_softmax(scores, valid_lens)
        B, Q, K = scores.shape
        lens = valid_lens if per_query else valid_lens[:, None].expand(B, Q)
        for b in range(B):
            for q in range(Q):
                n = int(lens[b, q])
                assert torch.all(weights[b, q, n:] == 0)  # exactly, not nearly
                assert torch.all(weights[b, q, :n] > 0)
                # the valid part is a softmax over the valid keys only
                torch.testing.assert_close(weights[b, q, :n], torch.softmax(scores[b, q, :n], 0))
        torch.testing.assert_close(weights.sum(-1), torch.ones(B, Q))


def test_padding_values_do_not_change_the_weights():
    """Whatever the scores at padded positions (even huge), the weights are the same."""
    gen = torch.Generator().manual_seed(3)
    scores = torch.randn(4, 3, 6, generator=gen)
    valid_lens = torch.tensor([1, 3, 6, 2])
    noisy = scores.clone()
    for b, n in enumerate(valid_lens.tolist()):
        noisy[b, :, n:] = 1e4
    assert torch.equal(masked_softmax(scores, valid_lens), masked_softmax(noisy, valid_lens))


def test_all_valid_lengths_equal_torch_softmax():
    gen = torch.Generator().manual_seed(4)
    scores = torch.randn(3, 5, 7, generator=gen)
    expected = torch.softmax(scores, dim=-1)
    torch.testing.assert_close(masked_softmax(scores, None), expected)
    torch.testing.assert_close(masked_softmax(scores, torch.full((3,), 7)), expected)
    torch.testing.assert_close(masked_softmax(scores, torch.full((3, 5), 7)), expected)


def _loop_attention(score, queries, keys, values, valid_lens):
    """One example, one query at a time, over its valid keys only."""
    B, Q, _ = queries.shape
    out = torch.zeros(B, Q, values.shape[-1], dtype=values.dtype)
    for b in range(B):
        n = int(valid_lens[b])
        for q in range(Q):
            s = torch.stack([score(queries[b, q], keys[b, i]) for i in range(n)])
            out[b, q] = torch.softmax(s, 0) @ values[b, :n]
    return out


def test_dot_product_attention_equals_a_loop():
    gen = torch.Generator().manual_seed(5)
    queries, keys, values = (torch.randn(3, 4, 8, generator=gen), torch.randn(3, 6, 8, generator=gen),
                             torch.randn(3, 6, 5, generator=gen))
    valid_lens = torch.tensor([2, 6, 4])
    attention = DotProductAttention().eval()
    out = attention(queries, keys, values, valid_lens)
    assert out.shape == (3, 4, 5) and attention.attention_weights.shape == (3, 4, 6)
    expected = _loop_attention(lambda q, k: q @ k / math.sqrt(8), queries, keys, values, valid_lens)
    torch.testing.assert_close(out, expected)


def test_additive_attention_equals_a_loop():
    torch.manual_seed(6)
    queries, keys, values = torch.randn(2, 3, 5), torch.randn(2, 4, 7), torch.randn(2, 4, 3)
    valid_lens = torch.tensor([3, 1])
    attention = AdditiveAttention(key_size=7, query_size=5, num_hiddens=9).eval()
    out = attention(queries, keys, values, valid_lens)
    W_q, W_k, w_v = attention.W_q.weight, attention.W_k.weight, attention.w_v.weight[0]

    def score(q, k):
        return w_v @ torch.tanh(W_q @ q + W_k @ k)
    with torch.no_grad():
        torch.testing.assert_close(out, _loop_attention(score, queries, keys, values, valid_lens))
    weights = attention.attention_weights
    assert weights.shape == (2, 3, 4) and torch.all(weights[1, :, 1:] == 0)
    torch.testing.assert_close(attention.attend(queries, attention.project_keys(keys), values, valid_lens), out)


def test_gradients_match_finite_differences():
    gen = torch.Generator().manual_seed(7)
    scores = torch.randn(3, 2, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    valid_lens = torch.tensor([[1, 5], [3, 2], [4, 4]])
    assert torch.autograd.gradcheck(lambda s: masked_softmax(s, valid_lens), (scores,))
    torch.manual_seed(7)
    additive = AdditiveAttention(4, 3, 6).double()
    q = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    lens = torch.tensor([2, 5])
    assert torch.autograd.gradcheck(lambda q, k, v: additive(q, k, v, lens), (q, k, v))
    dot = DotProductAttention()
    k4 = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k, v: dot(q, k, v, lens), (q, k4, v))


def test_dropout_acts_on_the_weights_in_training_only():
    torch.manual_seed(8)
    queries, keys, values = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    attention = DotProductAttention(dropout=0.5)
    attention.eval()
    a, b = attention(queries, keys, values), attention(queries, keys, values)
    assert torch.equal(a, b)
    attention.train()
    assert not torch.equal(attention(queries, keys, values), a)


def test_bad_inputs_name_the_argument():
    scores = torch.randn(2, 3, 4)
    for bad in (torch.tensor([0, 2]), torch.tensor([5, 2]), torch.tensor([[1, 2, 0], [1, 1, 1]])):
        with pytest.raises(ValueError, match="valid_lens"):
            masked_softmax(scores, bad)
    for bad in (torch.tensor([1, 2, 3]), torch.tensor([[1, 2], [3, 4]]), torch.tensor(2)):
        with pytest.raises(ValueError, match="valid_lens"):
            masked_softmax(scores, bad)
    with pytest.raises(ValueError, match="valid_lens"):
        masked_softmax(scores, torch.tensor([1.5, 2.0]))
    with pytest.raises(ValueError, match="scores"):
        masked_softmax(torch.randn(3, 4), None)
    with pytest.raises(ValueError, match="scores"):
        masked_softmax(torch.ones(2, 3, 4, dtype=torch.long), None)
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    with pytest.raises(ValueError, match="keys"):
        DotProductAttention()(q, torch.randn(2, 5, 3), v)
    with pytest.raises(ValueError, match="values"):
        DotProductAttention()(q, k, torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match="queries"):
        DotProductAttention()(torch.randn(3, 4), k, v)
    with pytest.raises(ValueError, match="batch"):
        DotProductAttention()(torch.randn(1, 3, 4), k, v)
    with pytest.raises(ValueError, match="keys"):
        AdditiveAttention(3, 4, 8)(q, k, v)  # keys of size 4, not 3
    with pytest.raises(ValueError, match="queries"):
        AdditiveAttention(4, 3, 8)(q, k, v)  # queries of size 4, not 3
    with pytest.raises(ValueError, match="num_hiddens"):
        AdditiveAttention(4, 4, 0)
    with pytest.raises(ValueError, match="dropout"):
        DotProductAttention(dropout=1.0)
