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


def test_an_unexpected_error_says_it_is_ours_and_where_the_traceback_is():
    import click
    from click.testing import CliRunner

    from ferganaug.utils.cli import friendly_errors

    @click.command()
    @friendly_errors((ValueError,), "re-run")
    def broken() -> None:
        {}["missing"]

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "internal error (KeyError: 'missing'); this is a bug in ferganaug" in result.output
    log = result.output.rsplit("The traceback is in ", 1)[1].strip()
    assert "KeyError" in open(log).read()


def test_a_full_disk_names_the_file():
    import errno

    import click
    from click.testing import CliRunner

    from ferganaug.utils.cli import friendly_errors

    @click.command()
    @friendly_errors((ValueError,), "re-run to continue")
    def writes() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "out/model.pt")

    result = CliRunner().invoke(writes, [])
    assert result.exit_code == 1 and "No space left on device (out/model.pt); re-run to continue" in result.output


def test_ctrl_c_while_starting_is_one_line_and_exit_130(monkeypatch, capsys):
    import importlib

    import pytest

    from ferganaug import entry

    def interrupted_import(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", interrupted_import)
    with pytest.raises(SystemExit) as stop:
        entry.fergan()
    assert stop.value.code == 130
    assert capsys.readouterr().err == "interrupted while starting; nothing was written\n"
