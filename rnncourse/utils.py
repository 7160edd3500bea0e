"""Small helpers every chapter uses: seeding, device choice, a timer."""
from __future__ import annotations

import random
import time

import numpy as np
import torch

__all__ = ["set_seed", "try_gpu", "Timer"]


def set_seed(seed: int) -> None:
    """Seed Python's ``random`` (the minibatch samplers), NumPy and PyTorch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def try_gpu(i: int = 0) -> torch.device:
    """``cuda:i`` when that GPU exists, otherwise the CPU."""
    if torch.cuda.is_available() and i < torch.cuda.device_count():
        return torch.device(f"cuda:{i}")
    return torch.device("cpu")


class Timer:
    """Wall-clock timer: ``with Timer() as t: ...`` then ``t.seconds``."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> "Timer":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start
