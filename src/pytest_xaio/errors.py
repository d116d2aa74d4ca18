"""Configuration errors that end the run with one message and no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest

__all__ = ["XaioConfigError", "config_error", "exit_on_config_error", "missing_extra"]


#: Bad configuration: the message names the problem and the fix. (``pytest.UsageError`` is final.)
XaioConfigError = pytest.UsageError


def config_error(problem: str, fix: str) -> NoReturn:
    raise pytest.UsageError(f"pytest-xaio: {problem}\n  fix: {fix}")


def missing_extra(module: str, extra: str, what: str) -> NoReturn:
    config_error(
        f"{what} needs the Python package {module!r}, which is not installed",
        f"pip install 'pytest-xaio[{extra}]'",
    )


@contextmanager
def exit_on_config_error() -> Iterator[None]:
    """Inside a fixture a UsageError would be reported as a test error with a traceback; a bad
    configuration fails every test the same way, so end the session with the message instead."""
    try:
        yield
    except pytest.UsageError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
