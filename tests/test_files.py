import pytest

from ferganaug.utils import files
from ferganaug.engine.run_folder import next_run_dir


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    files.atomic_write_json(target, {"v": 1})

    def boom(*_):
        raise RuntimeError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(RuntimeError):
        files.atomic_write_json(target, {"v": 2})
    assert target.read_text().strip().endswith("}")
    assert '"v": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_jsonl_ignores_torn_last_line(tmp_path):
    path = tmp_path / "s.jsonl"
    files.append_jsonl(path, {"a": 1})
    with open(path, "a") as f:
        f.write('{"a": 2')
    assert files.read_jsonl(path) == [{"a": 1}]


def test_run_dirs_are_numbered(tmp_path):
    a = next_run_dir(tmp_path, "deep-cnn builtin")
    b = next_run_dir(tmp_path, "x")
    assert a.name == "00000-deep-cnn_builtin"
    assert b.name == "00001-x"
