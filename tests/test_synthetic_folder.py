"""The synthetic folder's commit protocol under faults: torn manifest tails, a second writer,
temporary files of killed writes, and check / repair that never delete an image."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ferganaug.data.errors import DataError
from ferganaug.data.synthetic_folder import (
    LOCK, MANIFEST, ORPHANS, REJECTED, TORN, FolderLockedError, append_rows, check_folder, read_rows,
    repair_folder, repair_torn_tail, sweep_temp_files, writer_lock,
)


def _folder(tmp_path, n=3):
    """A consistent folder of n disgust faces."""
    (tmp_path / "disgust").mkdir(parents=True)
    rows = []
    for i in range(n):
        name = f"disgust/{i:06d}.png"
        Image.fromarray(np.full((48, 48), 10 * i, dtype=np.uint8)).save(tmp_path / name)
        rows.append({"file": name, "emotion": "disgust", "index": i})
    append_rows(tmp_path, rows)
    return tmp_path, rows


def test_a_consistent_folder_checks_clean(tmp_path):
    folder, rows = _folder(tmp_path)
    report = check_folder(folder)
    assert report.ok and report.rows == 3 and "consistent, 3 rows" in report.summary()


def test_torn_tail_at_every_byte_of_the_last_row_is_mended_without_losing_a_whole_row(tmp_path):
    folder, rows = _folder(tmp_path / "base")
    full = (folder / MANIFEST).read_bytes()
    last_start = full.rstrip(b"\n").rfind(b"\n") + 1
    for cut in range(last_start, len(full)):
        case = tmp_path / f"cut{cut}"
        case.mkdir()
        (case / MANIFEST).write_bytes(full[:cut])
        moved = repair_torn_tail(case)
        kept = read_rows(case)
        whole_last_row = cut == len(full) - 1  # only the newline was lost
        assert kept == (rows if whole_last_row else rows[:-1]), cut
        assert (case / MANIFEST).read_bytes().endswith(b"\n") or cut == last_start
        if cut > last_start and not whole_last_row:
            assert moved == cut - last_start and (case / TORN).read_bytes() == full[last_start:cut] + b"\n"
        append_rows(case, [{"file": "x.png"}])  # what a continued run then appends stands on its own line
        assert read_rows(case)[-1] == {"file": "x.png"}


def test_a_garbage_line_in_the_middle_names_its_line_and_the_repair(tmp_path):
    folder, _ = _folder(tmp_path)
    lines = (folder / MANIFEST).read_text().splitlines()
    lines.insert(1, "{not json")
    (folder / MANIFEST).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"manifest.jsonl, line 2: not a JSON object; `fergan synthesize --check --out"):
        read_rows(folder)
    assert check_folder(folder).bad_lines == [2]


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK).write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        with pytest.raises(FolderLockedError, match=f"being written by process {holder.pid} on {socket.gethostname()}"):
            with writer_lock(tmp_path):
                pass
        assert (tmp_path / LOCK).is_file()  # the holder's lock is left alone
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_dead_process_is_taken_over_and_released(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with writer_lock(tmp_path):
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK).exists()


def test_temp_files_of_killed_writes_are_swept(tmp_path):
    folder, _ = _folder(tmp_path)
    (folder / "disgust" / ".000003.png.abc123.tmp").write_bytes(b"half a png")
    assert check_folder(folder).temp_files == 1
    assert sweep_temp_files(folder) == 1 and check_folder(folder).ok


def test_repair_sets_problems_aside_and_deletes_no_image(tmp_path):
    folder, rows = _folder(tmp_path, n=5)
    (folder / "disgust" / "000001.png").unlink()  # a row whose image is gone
    (folder / "disgust" / "000002.png").write_bytes(b"not a png")  # an image that does not decode
    append_rows(folder, [rows[3]])  # a duplicate row
    Image.fromarray(np.zeros((48, 48), dtype=np.uint8)).save(folder / "disgust" / "000009.png")  # no row lists it
    with open(folder / MANIFEST, "ab") as f:
        f.write(b'{"file": "disgust/0000')  # a torn tail
    before = check_folder(folder)
    assert (before.missing, before.undecodable, before.duplicates, before.orphans) == (
        ["disgust/000001.png"], ["disgust/000002.png"], ["disgust/000003.png"], ["disgust/000009.png"])
    assert before.torn_tail_bytes > 0 and not before.ok
    images_before = {p.name for p in folder.rglob("*.png")}

    after = repair_folder(folder)
    assert after.ok, after.summary()
    assert [r["file"] for r in read_rows(folder)] == ["disgust/000000.png", "disgust/000003.png", "disgust/000004.png"]
    assert {p.name for p in folder.rglob("*.png")} == images_before  # moved aside, never deleted
    assert (folder / ORPHANS / "disgust" / "000009.png").is_file()
    assert len((folder / REJECTED).read_text().splitlines()) == 3  # the missing, the undecodable, the duplicate
    assert (folder / TORN).is_file()
