"""Fixtures shared by the whole suite. Helpers that build data live beside it as plain modules
(toy_data.py: tiny learnable datasets; data_fixtures.py: dataset files in every format)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # toy_data, data_fixtures

from toy_data import toy_faces  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def isolated_data_cache(tmp_path_factory: pytest.TempPathFactory):
    """Decoded datasets go to a cache of this test run, never to the user's ~/.cache."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("FERGANAUG_CACHE", str(tmp_path_factory.mktemp("data-cache")))
    yield
    monkeypatch.undo()


@pytest.fixture(scope="session", autouse=True)
def cores_shared_among_workers():
    """Under pytest-xdist (`-n N`), each worker's torch gets its share of the cores: OpenMP threads
    of several workers on the same cores spin-wait for each other."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        from ferganaug.utils.threads import torch_threads

        with torch_threads(max(1, (os.cpu_count() or 1) // workers)):
            yield
    else:
        yield


@pytest.fixture
def toy_spec(monkeypatch: pytest.MonkeyPatch):
    """Every dataset spec the classifier workflow loads reads as the tiny learnable toy dataset
    (the class is where a bright square sits), which is returned."""
    import classifiers.workflow

    data = toy_faces()
    monkeypatch.setattr(classifiers.workflow, "load_dataset", lambda spec, **kw: data)
    return data


@pytest.fixture(scope="module")
def one_torch_thread():
    """One OpenMP thread for a module. On 2 shared cores, OpenMP threads spin-wait for each other
    while other jobs hold the CPU: measured 62 s with 2 threads against 18 s with 1 for
    test_models.py and test_pretrained.py."""
    from ferganaug.utils.threads import torch_threads

    with torch_threads(1):
        yield
