"""Shared by both command lines: library errors about user input become one clean line."""

from __future__ import annotations

import functools
from typing import Callable

import click


def friendly_errors(error_types: tuple[type[BaseException], ...], interrupted_hint: str) -> Callable:
    """Decorator: ``error_types`` raised by library code become click errors (exit 1, no
    traceback); Ctrl-C says how to continue."""

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except error_types as err:
                raise click.ClickException(str(err)) from None
            except KeyboardInterrupt:
                raise click.ClickException(f"interrupted; {interrupted_hint}") from None

        return wrapper

    return decorator
