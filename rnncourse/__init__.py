"""rnncourse: the tested code of the book *Sequence Models and Recurrent Neural Networks*.

One module per job; import what a chapter needs from its module, e.g.
``from rnncourse.text import Vocab``.

* ``data``      the corpus registry, verified downloads, the cache
* ``text``      reading corpora, tokenization, ``Vocab``
* ``sampling``  random and sequential minibatches of token sequences
* ``utils``     seeding, device choice, a timer
* ``plot``      figure helpers (a CJK font for Chinese text)
* ``book``      ``show_source`` and ``glue`` for the notebooks
"""

__version__ = "0.1.0"
