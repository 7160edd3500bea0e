"""Small helpers every chapter uses: seeding, device choice, a timer.

``try_gpu()`` falls back to the CPU when there is no GPU, so every chapter runs
anywhere. A run that is meant for the GPU (``make gpu-test``, the GPU workflow) sets
``RNNCOURSE_REQUIRE_CUDA=1``; then ``try_gpu()`` raises instead of falling back, so such
a run can never silently be a CPU run.
"""
from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator

import numpy as np
import torch

from .checks import check_int

__all__ = ["set_seed", "try_gpu", "Timer", "device_of", "place", "evaluating", "training"]


def set_seed(seed: int) -> None:
    """Seed Python's ``random`` (the minibatch samplers), NumPy and PyTorch (CPU and
    CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


REQUIRE_CUDA_VARIABLE = "RNNCOURSE_REQUIRE_CUDA"


def try_gpu(i: int = 0) -> torch.device:
    """``cuda:i`` when that GPU exists, otherwise the CPU.

    With the environment variable ``RNNCOURSE_REQUIRE_CUDA=1`` a missing GPU is an error
    (RuntimeError) rather than a fall-back to the CPU.
    """
    check_int("i (the GPU index)", i, minimum=0)
    if torch.cuda.is_available() and i < torch.cuda.device_count():
        return torch.device(f"cuda:{i}")
    required = os.environ.get(REQUIRE_CUDA_VARIABLE, "").strip()
    if required not in ("", "0"):
        found = (f"{torch.cuda.device_count()} CUDA device(s)"
                 if torch.cuda.is_available()
                 else f"no CUDA device (torch {torch.__version__}, built with CUDA "
                      f"{torch.version.cuda or 'none'})")
        raise RuntimeError(f"{REQUIRE_CUDA_VARIABLE}={required} asks for the GPU "
                           f"cuda:{i}, but PyTorch sees {found}; install a CUDA build "
                           "of torch (see `make gpu-test` in README.md) or unset "
                           f"{REQUIRE_CUDA_VARIABLE} to run on the CPU")
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


def device_of(module: torch.nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (or buffer); the CPU for a module
    with neither."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def place(module: torch.nn.Module,
          device: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``device``, with ``module`` moved there (``Module.to``, in
    place), or, for ``None``, where ``module`` already is."""
    if device is None:
        return device_of(module)
    device = torch.device(device)
    module.to(device)
    return device


@contextlib.contextmanager
def evaluating(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``with evaluating(net): ...`` runs ``net`` in eval mode (no dropout) without
    gradients, and puts back the mode it had, even when the block raises."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield module
    finally:
        module.train(was_training)


@contextlib.contextmanager
def training(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``with training(net): ...`` runs ``net`` in training mode and puts back the mode
    it had, even when the block raises (the training loops' counterpart of
    ``evaluating``)."""
    was_training = module.training
    module.train()
    try:
        yield module
    finally:
        module.train(was_training)
