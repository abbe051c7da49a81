"""Claim files: exactly one holder, a claim never taken while it is being written, stale ones taken over."""

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time

from ferganaug.utils import locks


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)


def test_a_claim_is_whole_from_the_moment_it_exists_and_leaves_no_private_file(tmp_path):
    path = tmp_path / "cell.claim"
    assert locks.try_claim(path)
    assert locks.holder_of(path) == locks.me()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell.claim"]
    assert not locks.try_claim(path)  # held by a live process, this one included
    locks.release(path)
    assert not path.exists()


def test_an_empty_claim_being_written_is_not_taken_but_an_old_one_is(tmp_path):
    path = tmp_path / ".lock"
    path.touch()  # what a claimant on a filesystem without hard links shows before its first write
    assert not locks.try_claim(path)
    assert path.read_text() == ""
    old = time.time() - 2 * locks.EMPTY_CLAIM_GRACE_S
    os.utime(path, (old, old))
    assert locks.try_claim(path)
    assert locks.holder_of(path) == locks.me()


def test_a_dead_holder_is_taken_over_and_a_live_or_foreign_one_is_not(tmp_path):
    dead = tmp_path / "dead.claim"
    dead.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    assert locks.try_claim(dead) and locks.holder_of(dead) == locks.me()

    foreign = tmp_path / "foreign.claim"
    foreign.write_text(json.dumps({"pid": _dead_pid(), "host": "another-host"}))
    assert not locks.try_claim(foreign)
    assert locks.holder_of(foreign)["host"] == "another-host"


def test_release_leaves_another_holders_claim(tmp_path):
    path = tmp_path / "cell.claim"
    path.write_text(json.dumps({"pid": 1, "host": socket.gethostname()}))
    locks.release(path)
    assert path.exists()


def _contend(path: str, start, finish, results) -> None:
    start.wait()
    results.put(locks.try_claim(path))
    finish.wait()  # the winner stays alive until all have tried, so its claim is never stale


def test_many_processes_at_once_make_exactly_one_holder(tmp_path):
    context = multiprocessing.get_context("spawn")
    for round_no in range(3):
        path = str(tmp_path / f"race-{round_no}.claim")
        start, finish, results = context.Barrier(6), context.Barrier(6), context.Queue()
        workers = [context.Process(target=_contend, args=(path, start, finish, results)) for _ in range(6)]
        for w in workers:
            w.start()
        won = [results.get(timeout=60) for _ in workers]
        for w in workers:
            w.join(30)
        assert won.count(True) == 1, won
