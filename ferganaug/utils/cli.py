"""Shared by both command lines: library errors about user input become one clean line."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
import traceback
from typing import Callable

import click

from ferganaug.faces import DETECTOR_NAMES


def friendly_errors(error_types: tuple[type[BaseException], ...], interrupted_hint: str) -> Callable:
    """Decorator: ``error_types`` raised by library code become click errors (exit 1, no
    traceback); Ctrl-C says how to continue; a full disk or an unwritable file says which; any
    other error is ours: it says so, and where its traceback was written."""

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
                raise  # click's own: already a message
            except error_types as err:
                raise click.ClickException(str(err)) from None
            except KeyboardInterrupt:
                raise click.ClickException(f"interrupted; {interrupted_hint}") from None
            except OSError as err:  # the environment: a full disk, a missing or unwritable file
                where = f" ({err.filename})" if err.filename else ""
                raise click.ClickException(f"{err.strerror or err}{where}; {interrupted_hint}") from None
            except Exception as err:  # noqa: BLE001 - the last resort is a message, not a traceback
                log_path = _write_traceback()
                raise click.ClickException(
                    f"internal error ({type(err).__name__}: {err}); this is a bug in ferganaug, not in your input. "
                    f"The traceback is in {log_path}"
                ) from None

        return wrapper

    return decorator


def _write_traceback() -> str:
    fd, path = tempfile.mkstemp(prefix="ferganaug-error-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {' '.join(sys.argv)}\n")
        traceback.print_exc(file=f)
    return path


detector_option = click.option(
    "--detector", type=click.Choice(DETECTOR_NAMES), default="haar",
    help="Face detector: haar (OpenCV's cascade, always installed) or mtcnn (landmarks, so crops are "
         "rotated upright; needs facenet-pytorch, see the README).",
)
