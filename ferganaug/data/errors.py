"""The one exception type data readers raise for bad user input, and helpers that raise it."""

from __future__ import annotations

from pathlib import Path

MAX_SKIP_EXAMPLES = 5  # skipped-row messages a reader keeps in info["skipped_examples"]


class DataError(ValueError):
    """Bad or unreadable input data. The message names the file, the row and what was expected."""


class BadRows:
    """Bad rows of one input, one message each.

    Strict mode (``skip_bad=False``) raises DataError with the first message; with
    ``skip_bad=True`` the rows are counted (``count``) and the first MAX_SKIP_EXAMPLES
    messages kept (``examples``).
    """

    def __init__(self, skip_bad: bool) -> None:
        self.skip_bad = skip_bad
        self.count = 0
        self.examples: list[str] = []

    def add(self, message: str) -> None:
        if not self.skip_bad:
            raise DataError(message)
        self.count += 1
        if len(self.examples) < MAX_SKIP_EXAMPLES:
            self.examples.append(message)


def check_file(path: Path, expected: str) -> None:
    """DataError unless ``path`` is a file; ``expected`` ends the message for a folder."""
    if not path.exists():
        raise DataError(f"no such file or folder: {path}")
    if not path.is_file():
        raise DataError(f"{path}: is a folder, expected {expected}")


def check_folder(path: Path, expected: str) -> None:
    """DataError unless ``path`` is a folder; ``expected`` ends the message for a file."""
    if not path.exists():
        raise DataError(f"no such file or folder: {path}")
    if not path.is_dir():
        raise DataError(f"{path}: is a file, expected {expected}")
