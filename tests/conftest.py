"""Test set-up: read the corpora from ../shared/data (or $RNNCOURSE_DATA_DIR); never the network."""
import os
import pathlib

import pytest
import torch

_SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "RNNCOURSE_DATA_DIR" not in os.environ and (_SHARED / "timemachine.txt").exists():
    os.environ["RNNCOURSE_DATA_DIR"] = str(_SHARED)


# ----------------------------------------------------------------------------- the `cuda` marker
# Tests marked `cuda` run on a GPU (`make gpu-test`); on a machine without one they are
# skipped, with the reason shown by `pytest -rs`. The marker is registered in pyproject.toml.

def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    reason = (f"needs CUDA: torch {torch.__version__} sees no GPU here "
              f"(built with CUDA {torch.version.cuda or 'none'}); run `make gpu-test` on a CUDA machine")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _no_execution_log(monkeypatch):
    """Unit tests that run record_device (or notebooks) are not chapter executions: keep
    them out of the count that `make test` takes of the book's (RNNCOURSE_EXECUTION_LOG)."""
    monkeypatch.delenv("RNNCOURSE_EXECUTION_LOG", raising=False)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Extract archives into a fresh cache, so tests never depend on a user's cache."""
    old = os.environ.get("RNNCOURSE_CACHE_DIR")
    os.environ["RNNCOURSE_CACHE_DIR"] = str(tmp_path_factory.mktemp("rnncourse-cache"))
    yield
    if old is None:
        os.environ.pop("RNNCOURSE_CACHE_DIR", None)
    else:
        os.environ["RNNCOURSE_CACHE_DIR"] = old


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test models are small: one thread is as fast, and keeps results independent of the core count."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
