"""The console scripts `fergan` and `fer-classify`. Ctrl-C ends them with one line at any moment,
even while torch is still being imported, before a command's own handling is in place."""

from __future__ import annotations

import importlib
import sys

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT


def _run(module: str) -> None:
    try:
        importlib.import_module(module).main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted while starting; nothing was written\n")
        sys.exit(INTERRUPTED)


def fergan() -> None:
    _run("ferganaug.cli")


def fer_classify() -> None:
    _run("classifiers.cli")
