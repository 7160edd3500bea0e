"""Record (or recompute) chapter 5's training recipe, exactly.

Chapter 5 trains ``RNNModelScratch(len(vocab), 256)`` on the first 10,000 characters of
The Time Machine with ``lr=4.0, theta=0.25``, minibatches of 32 x 35, validation on
fixed minibatches, once with sequential and once with random sampling (``set_seed(1)``
before each). This script runs that recipe for a fixed number of epochs on the CPU with
one thread and prints (or writes) the per-epoch perplexities and gradient norms (float
``repr``: exact) and a sha256 of the final weights' bytes.

``tests/data/ch5_recipe_65df1c6.json`` was made by running it against commit 65df1c6
(before issue 15's restructure of the training loop)::

    PYTHONPATH=<checkout of 65df1c6> python tests/data/record_ch5_recipe.py OUT.json

``tests/test_train.py`` reruns ``recipe()`` on the current package and asserts equality.
The call below uses only what both versions accept.
"""
from __future__ import annotations

import hashlib
import json
import sys

import torch

NUM_EPOCHS = 3


def _weights_sha256(net: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def recipe(num_epochs: int = NUM_EPOCHS) -> dict:
    from rnncourse.models import RNNModelScratch
    from rnncourse.ngram import train_valid_test_split
    from rnncourse.sampling import SeqDataLoader
    from rnncourse.text import load_corpus_time_machine
    from rnncourse.train import FixedBatches, train_lm
    from rnncourse.utils import set_seed

    torch.set_num_threads(1)
    set_seed(0)
    corpus, vocab = load_corpus_time_machine()
    train, valid, _ = train_valid_test_split(corpus)
    train_small = train[:10_000]
    batch_size, num_steps, num_hiddens = 32, 35, 256
    lr, theta = 4.0, 0.25
    valid_batches = FixedBatches(SeqDataLoader(valid, batch_size, num_steps))
    results = {}
    for name, use_random_iter in (("sequential", False), ("random", True)):
        set_seed(1)
        net = RNNModelScratch(len(vocab), num_hiddens)
        loader = SeqDataLoader(train_small, batch_size, num_steps, use_random_iter)
        history = train_lm(net, loader, vocab, lr, num_epochs, "cpu", theta=theta,
                           valid_iter=valid_batches)
        results[name] = {
            "perplexity": [repr(p) for p in history["perplexity"]],
            "grad_norm": [repr(g) for g in history["grad_norm"]],
            "valid_perplexity": [repr(p) for p in history["valid_perplexity"]],
            "weights_sha256": _weights_sha256(net),
        }
    return {"num_epochs": num_epochs, "results": results}


if __name__ == "__main__":
    recorded = recipe()
    text = json.dumps(recorded, indent=1) + "\n"
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as file:
            file.write(text)
    print(text)
