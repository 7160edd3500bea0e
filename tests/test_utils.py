"""rnncourse.utils: set_seed, try_gpu (and RNNCOURSE_REQUIRE_CUDA), Timer; and `make gpu-test`'s refusal."""
import os
import pathlib
import random
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from rnncourse.utils import REQUIRE_CUDA_VARIABLE, Timer, set_seed, try_gpu

REPO = pathlib.Path(__file__).resolve().parents[1]
HAS_CUDA = torch.cuda.is_available()


def test_set_seed_repeats_python_numpy_and_torch():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3).tolist()

    set_seed(7)
    first = draw()
    set_seed(7)
    assert draw() == first
    set_seed(8)
    assert draw() != first


def test_try_gpu_picks_the_gpu_or_falls_back_to_the_cpu(monkeypatch):
    monkeypatch.delenv(REQUIRE_CUDA_VARIABLE, raising=False)
    assert try_gpu() == (torch.device("cuda:0") if HAS_CUDA else torch.device("cpu"))
    # a GPU index past the last one falls back to the CPU as well
    assert try_gpu(torch.cuda.device_count()) == torch.device("cpu")


@pytest.mark.parametrize("value", ["1", "yes"])
def test_require_cuda_makes_a_missing_gpu_an_error(monkeypatch, value):
    monkeypatch.setenv(REQUIRE_CUDA_VARIABLE, value)
    missing = torch.cuda.device_count()  # 0 on a CPU machine; one past the last GPU on a GPU machine
    with pytest.raises(RuntimeError, match=f"{REQUIRE_CUDA_VARIABLE}={value} asks for the GPU cuda:{missing}"):
        try_gpu(missing)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a GPU, so try_gpu() does not fall back")
def test_require_cuda_on_a_cpu_machine_says_what_is_missing_and_what_to_do(monkeypatch):
    monkeypatch.setenv(REQUIRE_CUDA_VARIABLE, "1")
    with pytest.raises(RuntimeError) as error:
        try_gpu()
    message = str(error.value)
    assert "no CUDA device" in message and torch.__version__ in message
    assert "make gpu-test" in message and f"unset {REQUIRE_CUDA_VARIABLE}" in message


@pytest.mark.parametrize("value", ["", "0"])
def test_require_cuda_unset_or_zero_falls_back(monkeypatch, value):
    monkeypatch.setenv(REQUIRE_CUDA_VARIABLE, value)
    assert try_gpu(torch.cuda.device_count()) == torch.device("cpu")


@pytest.mark.parametrize("bad, error", [("0", TypeError), (1.0, TypeError), (True, TypeError),
                                        (-1, ValueError)])
def test_try_gpu_rejects_bad_indices(bad, error):
    with pytest.raises(error, match="GPU index"):
        try_gpu(bad)


def test_timer_measures_wall_clock():
    with Timer() as t:
        time.sleep(0.05)
    assert 0.05 <= t.seconds < 5


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a GPU: make gpu-test would run, not refuse")
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_gpu_test_refuses_without_cuda():
    """`make gpu-test` on a CPU machine stops at once, before any test, with the reason.

    ``-o .venv/.installed`` (make's --assume-old) keeps make from re-installing the venv
    when requirements.txt is newer than its stamp: this test must never install anything.
    ``BIN=`` points make at the environment running this test, wherever it lives.
    """
    # MAKEFLAGS from an outer make (`make -n test`, say) would turn this into a dry run
    dropped = {REQUIRE_CUDA_VARIABLE, "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PATH"] = "/usr/bin:/bin"  # no nvidia-smi here either way
    result = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed",
                             f"BIN={pathlib.Path(sys.executable).parent}", "gpu-test"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "gpu-test: no usable CUDA GPU" in result.stderr
    assert "torch.cuda.is_available() is False" in result.stderr
    assert "use `make test`" in result.stderr
    assert "== gpu-test: unit tests" not in result.stdout  # it stopped before running anything


def test_place_moves_a_module_to_a_given_device_or_keeps_it_where_it_is():
    from rnncourse.utils import place

    net = torch.nn.Linear(2, 3)
    assert place(net) == torch.device("cpu")  # None: where the module is
    assert place(net, "cpu") == torch.device("cpu")  # a string becomes a torch.device
    assert all(p.device == torch.device("cpu") for p in net.parameters())
    if HAS_CUDA:
        assert place(net, "cuda:0") == torch.device("cuda:0")
        assert all(p.is_cuda for p in net.parameters())  # moved, in place
        assert place(net) == torch.device("cuda:0")
