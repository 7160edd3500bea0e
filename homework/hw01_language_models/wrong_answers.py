"""Typical wrong answers to hw01, one or more per question.

tests/test_homework.py grades the solution notebook with each of these added in a new cell
right after the solution cell of its question (so it redefines the answer), and checks that
the submission loses points on that question and on no other. That is what shows that the
hidden tests tell right from wrong.
"""

WRONG_ANSWERS = [
    {
        "question": "q1",
        "name": "ties sorted alphabetically instead of in first-seen order",
        "code": '''
def build_vocab(tokens, min_freq=0, reserved_tokens=()):
    reserved = list(reserved_tokens)
    if "<unk>" in reserved or len(set(reserved)) != len(reserved):
        raise ValueError("bad reserved_tokens")
    counts = count_tokens(tokens)
    idx_to_token = ["<unk>"] + reserved
    for token, freq in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if freq >= min_freq and token not in idx_to_token:
            idx_to_token.append(token)
    return idx_to_token
''',
    },
    {
        "question": "q2",
        "name": "Laplace without the eps1/m term in the unigram estimate",
        "code": '''
def bigram_model(tokens, eps1, eps2):
    tokens = list(tokens)
    if not tokens or eps1 < 0 or eps2 < 0:
        raise ValueError("bad input")
    n = len(tokens)
    unigram_counts = collections.Counter(tokens)
    bigram_counts = collections.Counter(zip(tokens[:-1], tokens[1:]))
    context_counts = collections.Counter(tokens[:-1])

    def prob(x_next, x):
        if x_next not in unigram_counts:
            raise ValueError("unseen token")
        p1 = unigram_counts[x_next] / (n + eps1)
        if context_counts[x] == 0:
            return p1
        return (bigram_counts[(x, x_next)] + eps2 * p1) / (context_counts[x] + eps2)

    return prob
''',
    },
    {
        "question": "q3",
        "name": "the first token left out of the mean",
        "code": '''
def perplexity(model, tokens):
    tokens = list(tokens)
    if not tokens:
        raise ValueError("empty")
    logs = []
    for t in range(1, len(tokens)):
        p = model.prob(tokens[t], tuple(tokens[max(0, t - model.n + 1):t]))
        if p == 0:
            return math.inf
        logs.append(math.log(p))
    return math.exp(-sum(logs) / max(len(logs), 1))
''',
    },
    {
        "question": "q4",
        "name": "no random offset: the subsequences always start at 0",
        "code": '''
def random_batches(corpus, batch_size, num_steps):
    if batch_size < 1 or num_steps < 1 or len(corpus) < (num_steps - 1) + batch_size * num_steps + 1:
        raise ValueError("bad arguments")
    rest = list(corpus)
    starts = list(range(0, (len(rest) - 1) // num_steps * num_steps, num_steps))
    random.shuffle(starts)
    for i in range(len(starts) // batch_size):
        batch_starts = starts[i * batch_size:(i + 1) * batch_size]
        X = torch.tensor([rest[j:j + num_steps] for j in batch_starts], dtype=torch.long)
        Y = torch.tensor([rest[j + 1:j + 1 + num_steps] for j in batch_starts], dtype=torch.long)
        yield X, Y
''',
    },
    {
        "question": "q5",
        "name": "rows of a minibatch are consecutive subsequences, so rows do not continue",
        "code": '''
def sequential_batches(corpus, batch_size, num_steps):
    if batch_size < 1 or num_steps < 1 or len(corpus) < (num_steps - 1) + batch_size * num_steps + 1:
        raise ValueError("bad arguments")
    offset = random.randint(0, num_steps - 1)
    rest = list(corpus[offset:])
    num_batches = (len(rest) - 1) // (batch_size * num_steps)
    for i in range(num_batches):
        start = i * batch_size * num_steps
        X = torch.tensor(rest[start:start + batch_size * num_steps]).reshape(batch_size, num_steps)
        Y = torch.tensor(rest[start + 1:start + 1 + batch_size * num_steps]).reshape(batch_size, num_steps)
        yield X, Y
''',
    },
    # -- each passed the hidden tests before issue 16 (full marks); the hidden tests now catch them
    {
        "question": "q1",
        "name": "only the reserved tokens are skipped, so a literal '<unk>' in the text is listed twice",
        "code": '''
def build_vocab(tokens, min_freq=0, reserved_tokens=()):
    reserved = list(reserved_tokens)
    if "<unk>" in reserved or len(set(reserved)) != len(reserved):
        raise ValueError("reserved_tokens must not hold '<unk>' or a duplicate")
    counts = count_tokens(tokens)
    idx_to_token = ["<unk>"] + reserved
    for token, freq in sorted(counts.items(), key=lambda kv: kv[1], reverse=True):
        if freq >= min_freq and token not in reserved:
            idx_to_token.append(token)
    return idx_to_token
''',
    },
    {
        "question": "q2",
        "name": "eps checked with eps < 0, which lets NaN through (every probability NaN)",
        "code": '''
def bigram_model(tokens, eps1, eps2):
    tokens = list(tokens)
    if not tokens:
        raise ValueError("cannot fit a bigram model to an empty token sequence")
    if eps1 < 0 or eps2 < 0:
        raise ValueError("eps1 and eps2 must be >= 0")
    n = len(tokens)
    unigram_counts = collections.Counter(tokens)
    bigram_counts = collections.Counter(zip(tokens[:-1], tokens[1:]))
    context_counts = collections.Counter(tokens[:-1])
    m = len(unigram_counts)

    def prob(x_next, x):
        if x_next not in unigram_counts:
            raise ValueError(f"token {x_next!r} never occurs in training")
        p1 = 1 / m if math.isinf(eps1) else (unigram_counts[x_next] + eps1 / m) / (n + eps1)
        if math.isinf(eps2) or context_counts[x] == 0:
            return p1
        return (bigram_counts[(x, x_next)] + eps2 * p1) / (context_counts[x] + eps2)

    return prob
''',
    },
    {
        "question": "q4",
        "name": "offset drawn with random.randint(0, num_steps): randint includes its end",
        "code": '''
def random_batches(corpus, batch_size, num_steps):
    if batch_size < 1 or num_steps < 1 or len(corpus) < (num_steps - 1) + batch_size * num_steps + 1:
        raise ValueError("bad arguments")
    rest = list(corpus[random.randint(0, num_steps):])
    starts = list(range(0, (len(rest) - 1) // num_steps * num_steps, num_steps))
    random.shuffle(starts)
    for i in range(len(starts) // batch_size):
        batch_starts = starts[i * batch_size:(i + 1) * batch_size]
        X = torch.tensor([rest[j:j + num_steps] for j in batch_starts], dtype=torch.long)
        Y = torch.tensor([rest[j + 1:j + 1 + num_steps] for j in batch_starts], dtype=torch.long)
        yield X, Y
''',
    },
    {
        "question": "q5",
        "name": "the too-short check off by one (the target's extra token forgotten): an empty epoch, no error",
        "code": '''
def sequential_batches(corpus, batch_size, num_steps):
    if batch_size < 1 or num_steps < 1 or len(corpus) < (num_steps - 1) + batch_size * num_steps:
        raise ValueError("bad arguments")
    offset = random.randint(0, num_steps - 1)
    num_tokens = (len(corpus) - offset - 1) // batch_size * batch_size
    Xs = torch.tensor(corpus[offset:offset + num_tokens], dtype=torch.long).reshape(batch_size, -1)
    Ys = torch.tensor(corpus[offset + 1:offset + 1 + num_tokens], dtype=torch.long).reshape(batch_size, -1)
    for i in range(0, Xs.shape[1] // num_steps * num_steps, num_steps):
        yield Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]
''',
    },
]
