"""rnncourse: the tested code of the book *Sequence Models and Recurrent Neural
Networks*.

One module per job; import what a chapter needs from its module, e.g.
``from rnncourse.text import Vocab``.

* ``data``        the corpus registry, verified downloads, the cache
* ``text``        reading corpora, tokenization, ``Vocab``
* ``sampling``    random and sequential minibatches of token sequences
* ``ngram``       n-gram models (Laplace, interpolated, Kneser–Ney), the softmax
                  bigram, the train/valid/test split, Zipf fits
* ``timeseries``  the noisy sine, lag features, 1-step/multi-step/k-step prediction
* ``models``      scratch RNN/GRU/LSTM cells, deep and bidirectional stacks, language
                  models
* ``train``       language-model training: the epoch (``train_epoch``), ``train_lm``,
                  perplexity
* ``loop``        the generic loop ``fit``, ``TrainConfig``, clipping, the ``Monitor``
                  (statistics, time budget, divergence guard)
* ``checkpoint``  language models and translators in files, and back
* ``generate``    ``predict``: text from a prefix, greedy or sampled
* ``memory_tasks`` delayed recall: where gated cells keep what a plain RNN loses
* ``bptt``        the hand-derived backward pass of a linear RNN, gradient norms
* ``cloze``       fill-in-the-blank data and models (where bidirectional RNNs are right)
* ``translation`` the English–French pairs, arrays and minibatches, the split grouped
                  by English sentence
* ``bleu``        the notes' sentence BLEU and standard corpus BLEU (equal to sacrebleu)
* ``attention``   the masked softmax, dot-product and additive attention
* ``seq2seq``     encoder–decoders (plain and with attention), their losses, training
* ``decoding``    greedy, beam and exhaustive search, BLEU of a translator
* ``utils``       seeding, device choice, a timer
* ``plot``        figure helpers (a CJK font for Chinese text)
* ``book``        ``show_source``, ``glue`` and ``check`` for the notebooks
* ``autograde``   the homework grader's guard: forbidden code watched, answers recorded
* ``cli``         the command line ``rnncourse`` (``python -m rnncourse``): train,
                  generate, evaluate, data, train-translator, translate
"""

__version__ = "0.1.0"
