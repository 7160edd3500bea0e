"""Typical wrong answers to hw02, one or more per question (see hw01's wrong_answers.py)."""

WRONG_ANSWERS = [
    {
        "question": "q1",
        "name": "the recurrent weight transposed (H W_hh^T)",
        "code": '''
def rnn_step(X_t, H_prev, W_xh, W_hh, b_h):
    if X_t.shape[1] != W_xh.shape[0] or H_prev.shape != (X_t.shape[0], W_xh.shape[1]) \\
            or W_hh.shape != (W_xh.shape[1],) * 2 or b_h.shape != (W_xh.shape[1],):
        raise ValueError("shape mismatch")
    return torch.tanh(X_t @ W_xh + H_prev @ W_hh.T + b_h)
''',
    },
    {
        "question": "q2",
        "name": "clipping that always rescales to norm theta, even when the norm is below it",
        "code": '''
def clip_gradients(params, theta):
    if not 0 < theta < math.inf:
        raise ValueError("theta must be positive and finite")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
    for g in grads:
        g.mul_(theta / norm)
    return norm
''',
    },
    {
        "question": "q2",
        "name": "each parameter clipped on its own instead of the global norm",
        "code": '''
def clip_gradients(params, theta):
    if not 0 < theta < math.inf:
        raise ValueError("theta must be positive and finite")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads)).item()
    for g in grads:
        g_norm = g.norm().item()
        if g_norm > theta:
            g.mul_(theta / g_norm)
    return norm
''',
    },
    {
        "question": "q3",
        "name": "dL/dh_t without the path through h_{t+1} (no W_hh^T dL/dh_{t+1} term)",
        "code": '''
def bptt_linear_grads(W_hx, W_hh, W_qh, X, Y):
    T, q = X.shape[0], W_qh.shape[0]
    if bool(((Y < 0) | (Y >= q)).any()):
        raise ValueError("labels out of range")
    H, h = [], X.new_zeros(W_hh.shape[0])
    for t in range(T):
        h = W_hx @ X[t] + W_hh @ h
        H.append(h)
    O = torch.stack(H) @ W_qh.T
    dO = (torch.softmax(O, dim=1) - F.one_hot(Y, q).to(O.dtype)) / T
    dW_hx, dW_hh, dW_qh = torch.zeros_like(W_hx), torch.zeros_like(W_hh), torch.zeros_like(W_qh)
    for t in range(T):
        dh = W_qh.T @ dO[t]
        h_prev = H[t - 1] if t > 0 else X.new_zeros(W_hh.shape[0])
        dW_hx += torch.outer(dh, X[t])
        dW_hh += torch.outer(dh, h_prev)
        dW_qh += torch.outer(dO[t], H[t])
    return dW_hx, dW_hh, dW_qh
''',
    },
    {
        "question": "q4",
        "name": "the state reset to zeros for every minibatch instead of carried over",
        "code": '''
def heldout_perplexity(net, batches):
    if not batches:
        raise ValueError("no minibatches")
    was_training = net.training
    net.eval()
    total_loss, total_tokens = 0.0, 0
    with torch.no_grad():
        for X, Y in batches:
            logits, _ = net(X, net.begin_state(X.shape[0]))
            total_loss += F.cross_entropy(logits, Y.T.reshape(-1), reduction="sum").item()
            total_tokens += Y.numel()
    net.train(was_training)
    return math.exp(total_loss / total_tokens)
''',
    },
    {
        "question": "q4",
        "name": "the mean of the minibatches' mean losses (a shorter minibatch weighs as much as a full one)",
        "code": '''
def heldout_perplexity(net, batches):
    was_training = net.training
    net.eval()
    total, count, state = 0.0, 0, None
    try:
        with torch.no_grad():
            for X, Y in batches:
                if state is None:
                    state = net.begin_state(X.shape[0])
                logits, state = net(X, state)
                total += F.cross_entropy(logits, Y.T.reshape(-1)).item()  # the mean of each minibatch
                count += 1
    finally:
        net.train(was_training)
    if count == 0:
        raise ValueError("no minibatches: nothing to evaluate")
    return math.exp(total / count)
''',
    },
    # -- each passed the hidden tests before issue 16 (full marks); the hidden tests now catch them
    {
        "question": "q1",
        "name": "the new state written into H_prev in place (the caller's state overwritten)",
        "code": '''
def rnn_step(X_t, H_prev, W_xh, W_hh, b_h):
    num_inputs, num_hiddens = W_xh.shape
    if X_t.shape[1] != num_inputs or tuple(H_prev.shape) != (X_t.shape[0], num_hiddens) \\
            or tuple(W_hh.shape) != (num_hiddens, num_hiddens) or tuple(b_h.shape) != (num_hiddens,):
        raise ValueError(f"shapes do not fit W_xh {tuple(W_xh.shape)}")
    H_prev.copy_(torch.tanh(X_t @ W_xh + H_prev @ W_hh + b_h))
    return H_prev
''',
    },
    {
        "question": "q2",
        "name": "the norm returned as a 0-d tensor, not a Python float",
        "code": '''
def clip_gradients(params, theta):
    if not 0 < theta < math.inf:
        raise ValueError("theta must be positive and finite")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    if norm > theta:
        for g in grads:
            g.mul_(theta / norm)
    return norm
''',
    },
    {
        "question": "q3",
        "name": "softmax as exp(o) / sum(exp(o)), which overflows for large logits",
        "code": '''
def bptt_linear_grads(W_hx, W_hh, W_qh, X, Y):
    T, q = X.shape[0], W_qh.shape[0]
    if bool(((Y < 0) | (Y >= q)).any()):
        raise ValueError("labels out of range")
    H, h = [], X.new_zeros(W_hh.shape[0])
    for t in range(T):
        h = W_hx @ X[t] + W_hh @ h
        H.append(h)
    O = torch.stack(H) @ W_qh.T
    E = torch.exp(O)
    dO = (E / E.sum(dim=1, keepdim=True) - F.one_hot(Y, q).to(O.dtype)) / T
    dH = [None] * T
    dH[T - 1] = W_qh.T @ dO[T - 1]
    for t in range(T - 2, -1, -1):
        dH[t] = W_hh.T @ dH[t + 1] + W_qh.T @ dO[t]
    dW_hx, dW_hh, dW_qh = torch.zeros_like(W_hx), torch.zeros_like(W_hh), torch.zeros_like(W_qh)
    for t in range(T):
        h_prev = H[t - 1] if t > 0 else X.new_zeros(W_hh.shape[0])
        dW_hx += torch.outer(dH[t], X[t])
        dW_hh += torch.outer(dH[t], h_prev)
        dW_qh += torch.outer(dO[t], H[t])
    return dW_hx, dW_hh, dW_qh
''',
    },
    {
        "question": "q4",
        "name": "evaluated in the mode it found (no net.eval()): dropout stays on",
        "code": '''
def heldout_perplexity(net, batches):
    total_loss, total_tokens, state = 0.0, 0, None
    with torch.no_grad():
        for X, Y in batches:
            if state is None:
                state = net.begin_state(X.shape[0])
            logits, state = net(X, state)
            y = Y.T.reshape(-1)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            total_tokens += y.numel()
    if total_tokens == 0:
        raise ValueError("no minibatches: nothing to evaluate")
    return math.exp(total_loss / total_tokens)
''',
    },
]
