"""The one exception type data readers raise for bad user input."""

from __future__ import annotations


class DataError(ValueError):
    """Bad or unreadable input data. The message names the file, the row and what was expected."""
