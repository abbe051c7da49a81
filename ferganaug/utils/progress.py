"""Progress bars that draw only on a terminal."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm


def progress_bar(iterable: Any = None, *, enabled: bool, **kwargs: Any) -> tqdm:
    """A tqdm bar when ``enabled`` and its stream (stderr unless ``file=``) is a terminal.
    Redirected to a log file, a bar would write a carriage-return frame per update, thousands a
    minute, burying the one line per epoch or step that the log is read for."""
    return tqdm(iterable, disable=None if enabled else True, **kwargs)
