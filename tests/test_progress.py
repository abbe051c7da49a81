"""Progress bars draw on a terminal only: a redirected log keeps its one line per epoch."""

import io

from ferganaug.utils.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drawn(stream: io.StringIO, enabled: bool) -> str:
    for _ in progress_bar(range(50), enabled=enabled, file=stream, desc="work", mininterval=0):
        pass
    return stream.getvalue()


def test_a_terminal_gets_the_bar():
    assert "work" in _drawn(_Terminal(), enabled=True)


def test_a_log_file_gets_no_bar_frames():
    assert _drawn(io.StringIO(), enabled=True) == ""


def test_disabled_draws_nothing_even_on_a_terminal():
    assert _drawn(_Terminal(), enabled=False) == ""
