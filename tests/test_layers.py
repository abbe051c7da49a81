"""The architecture's import rules, checked in fresh interpreters."""

import subprocess
import sys

import pytest


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_classifiers_does_not_pull_in_the_gan_or_clis():
    loaded = _modules_after("import classifiers")
    assert not any(m.startswith("ferganaug.gan") for m in loaded)
    assert "classifiers.cli" not in loaded and "ferganaug.cli" not in loaded


@pytest.mark.parametrize("module", ["ferganaug", "ferganaug.emotions"])
def test_ferganaug_top_level_is_import_light(module):
    loaded = _modules_after(f"import {module}")
    assert "torch" not in loaded and "classifiers" not in loaded


def test_data_layer_does_not_import_classifiers():
    loaded = _modules_after("import ferganaug.data.spec, ferganaug.data.augment, ferganaug.data.audit")
    assert not any(m.startswith("classifiers") for m in loaded)


def test_gan_never_imports_classifiers():
    loaded = _modules_after("import ferganaug.gan.train, ferganaug.gan.networks, ferganaug.gan.expression")
    assert not any(m.startswith("classifiers") for m in loaded)


def test_run_engine_is_layer_zero():
    loaded = _modules_after("import ferganaug.engine, ferganaug.engine.config")
    assert not any(m.startswith(("classifiers", "ferganaug.gan", "ferganaug.study", "ferganaug.evaluate")) for m in loaded)
