"""Typical wrong answers to hw04, one or more per question (see hw01's wrong_answers.py)."""

WRONG_ANSWERS = [
    {
        "question": "q1",
        "name": "off by one: position valid_len kept (t <= valid_len)",
        "code": '''
def sequence_mask(X, valid_len, value=0):
    valid_len = torch.as_tensor(valid_len)
    if X.dim() < 2 or valid_len.shape != (X.shape[0],) or bool((valid_len < 0).any()):
        raise ValueError("bad input")
    keep = torch.arange(X.shape[1])[None, :] <= valid_len[:, None]
    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))
    return torch.where(keep, X, torch.tensor(value, dtype=X.dtype))
''',
    },
    {
        "question": "q2",
        "name": "a masked loss averaged over padding (d2l: each sentence over all num_steps)",
        "code": '''
def masked_ce_loss(pred, label, valid_len):
    valid_len = torch.as_tensor(valid_len)
    if int(valid_len.sum()) == 0:
        raise ValueError("no real token")
    per_token = F.cross_entropy(pred.transpose(1, 2), label, reduction="none")
    real = torch.arange(label.shape[1])[None, :] < valid_len[:, None]
    return (per_token * real).mean(dim=1).mean()
''',
    },
    {
        "question": "q3",
        "name": "BLEU without the brevity penalty",
        "code": '''
def bleu(pred_seq, label_seq, k=2):
    pred_tokens, label_tokens = pred_seq.split(), label_seq.split()
    if not label_tokens:
        raise ValueError("the label is empty")
    if not pred_tokens:
        return 0.0
    score = 1.0
    for n in range(1, min(k, len(pred_tokens)) + 1):
        label_grams = [tuple(label_tokens[i:i + n]) for i in range(len(label_tokens) - n + 1)]
        matches = 0
        for i in range(len(pred_tokens) - n + 1):
            gram = tuple(pred_tokens[i:i + n])
            if gram in label_grams:
                matches += 1
                label_grams.remove(gram)
        score *= (matches / (len(pred_tokens) - n + 1)) ** (0.5 ** n)
    return score
''',
    },
    {
        "question": "q3",
        "name": "unclipped n-gram matches (a repeated token counted every time)",
        "code": '''
def bleu(pred_seq, label_seq, k=2):
    pred_tokens, label_tokens = pred_seq.split(), label_seq.split()
    if not label_tokens:
        raise ValueError("the label is empty")
    if not pred_tokens:
        return 0.0
    score = math.exp(min(0.0, 1 - len(label_tokens) / len(pred_tokens)))
    for n in range(1, min(k, len(pred_tokens)) + 1):
        label_grams = {tuple(label_tokens[i:i + n]) for i in range(len(label_tokens) - n + 1)}
        pred_grams = [tuple(pred_tokens[i:i + n]) for i in range(len(pred_tokens) - n + 1)]
        score *= (sum(g in label_grams for g in pred_grams) / len(pred_grams)) ** (0.5 ** n)
    return score
''',
    },
    {
        "question": "q4",
        "name": "'1: every n-gram of the prediction occurs in the label'",
        "code": 'q4_answer = "a"',
    },
    {
        "question": "q5",
        "name": "no length normalisation: candidates ranked by their total log-probability",
        "code": '''
def beam_search(net, src_tokens, tgt_vocab, num_steps, beam_size, alpha=0.75):
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError("beam_size must be >= 1")
    eos = tgt_vocab["<eos>"]
    was_training = net.training
    net.eval()
    finished = []
    with torch.no_grad():
        state = first_state(net, list(src_tokens))
        live_ids, live_sums, last = [[]], torch.zeros(1, dtype=torch.float64), [tgt_vocab["<bos>"]]
        for step in range(num_steps):
            log_probs, state = next_log_probs(net, last, state)
            totals = (live_sums[:, None] + log_probs).reshape(-1)
            best = torch.topk(totals, min(beam_size, totals.numel()))
            rows, ids_kept, sums_kept = [], [], []
            for total, flat in zip(best.values.tolist(), best.indices.tolist()):
                row, y = divmod(flat, log_probs.shape[1])
                ids = live_ids[row] + [y]
                if y == eos or step == num_steps - 1:
                    finished.append((ids, total))
                else:
                    rows.append(row)
                    ids_kept.append(ids)
                    sums_kept.append(total)
            if not rows:
                break
            state = net.decoder.select_state(state, torch.tensor(rows))
            live_ids, live_sums = ids_kept, torch.tensor(sums_kept, dtype=torch.float64)
            last = [ids[-1] for ids in ids_kept]
    net.train(was_training)
    ids, total = max(finished, key=lambda c: c[1])
    tokens = tgt_vocab.to_tokens(ids[:-1] if ids[-1] == eos else ids)
    return tokens, total / len(ids) ** alpha
''',
    },
    {
        "question": "q6",
        "name": "softmax over the padding too, then the padding zeroed (rows no longer sum to 1)",
        "code": '''
def masked_softmax(scores, valid_lens):
    if scores.dim() != 3:
        raise ValueError("scores must be 3-d")
    weights = torch.softmax(scores, dim=-1)
    if valid_lens is None:
        return weights
    B, Q, K = scores.shape
    valid_lens = torch.as_tensor(valid_lens)
    if valid_lens.shape == (B,):
        valid_lens = valid_lens[:, None].expand(B, Q)
    elif valid_lens.shape != (B, Q):
        raise ValueError("valid_lens has the wrong shape")
    if bool(((valid_lens < 1) | (valid_lens > K)).any()):
        raise ValueError("valid lengths must lie in [1, K]")
    keep = torch.arange(K)[None, None, :] < valid_lens[:, :, None]
    return weights * keep
''',
    },
    {
        "question": "q1",
        "name": "valid_len used as a tensor without torch.as_tensor (the question allows a list)",
        "code": '''
def sequence_mask(X, valid_len, value=0):
    if X.dim() < 2 or valid_len.shape != (X.shape[0],) or bool((valid_len < 0).any()):
        raise ValueError("bad input")
    keep = torch.arange(X.shape[1])[None, :] < valid_len[:, None]
    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))
    return torch.where(keep, X, torch.tensor(value, dtype=X.dtype))
''',
    },
    {
        "question": "q1",
        "name": "a float64 X returned as float32",
        "code": '''
def sequence_mask(X, valid_len, value=0):
    valid_len = torch.as_tensor(valid_len)
    if X.dim() < 2 or valid_len.shape != (X.shape[0],) or bool((valid_len < 0).any()):
        raise ValueError("bad input")
    out = X.clone()
    for b in range(X.shape[0]):
        out[b, int(valid_len[b]):] = value
    return out.to(torch.float32) if X.is_floating_point() else out
''',
    },
    {
        "question": "q5",
        "name": "the net always left in training mode (an eval-mode net comes back training)",
        "code": '''
def beam_search(net, src_tokens, tgt_vocab, num_steps, beam_size, alpha=0.75):
    """The best (tokens, score) of a beam search, scored by (1 / L**alpha) * sum log p."""
    if not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be an integer >= 1, got {beam_size!r}")
    eos = tgt_vocab["<eos>"]
    was_training = net.training
    net.eval()
    finished = []  # (ids, total log p)
    with torch.no_grad():
        state = first_state(net, list(src_tokens))
        live_ids, live_sums, last = [[]], torch.zeros(1, dtype=torch.float64), [tgt_vocab["<bos>"]]
        for step in range(num_steps):
            log_probs, state = next_log_probs(net, last, state)  # (n, V)
            totals = (live_sums[:, None] + log_probs).reshape(-1)
            best = torch.topk(totals, min(beam_size, totals.numel()))
            rows, ids_kept, sums_kept = [], [], []
            for total, flat in zip(best.values.tolist(), best.indices.tolist()):
                row, y = divmod(flat, log_probs.shape[1])
                ids = live_ids[row] + [y]
                if y == eos or step == num_steps - 1:
                    finished.append((ids, total))
                else:
                    rows.append(row)
                    ids_kept.append(ids)
                    sums_kept.append(total)
            if not rows:
                break
            state = net.decoder.select_state(state, torch.tensor(rows))
            live_ids, live_sums = ids_kept, torch.tensor(sums_kept, dtype=torch.float64)
            last = [ids[-1] for ids in ids_kept]
    net.train()  # back to training mode, whatever mode it was in
    ids, total = max(finished, key=lambda c: c[1] / len(c[0]) ** alpha)
    tokens = tgt_vocab.to_tokens(ids[:-1] if ids[-1] == eos else ids)
    return tokens, total / len(ids) ** alpha
''',
    },
    {
        "question": "q3",
        "name": "the empty prediction checked first: bleu('', '') is 0.0, not the empty label's ValueError",
        "code": '''
def bleu(pred_seq, label_seq, k=2):
    pred_tokens, label_tokens = pred_seq.split(), label_seq.split()
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred == 0:
        return 0.0
    if len_label == 0:
        raise ValueError("the label is empty")
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        label_counts = {}
        for i in range(len_label - n + 1):
            gram = tuple(label_tokens[i:i + n])
            label_counts[gram] = label_counts.get(gram, 0) + 1
        matches = 0
        for i in range(len_pred - n + 1):
            gram = tuple(pred_tokens[i:i + n])
            if label_counts.get(gram, 0) > 0:
                matches += 1
                label_counts[gram] -= 1
        score *= (matches / (len_pred - n + 1)) ** (0.5 ** n)
    return score
''',
    },
]
