"""Configuration errors that end the run with one message and no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest

__all__ = ["ConfigErrorRelay", "XaioConfigError", "config_error", "exit_on_config_error", "missing_extra"]


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


class ConfigErrorRelay:
    """Makes a configuration error (or a lost server) under xdist end the run once, with its exit code.

    A worker that ends its session with :func:`exit_on_config_error` would otherwise look crashed
    to the controller (which restarts it, replays the error, and loops). Here the worker turns the
    error into ``session.shouldstop``, which xdist hands to the controller as a clean stop with the
    message; the controller then ends with the usage-error exit code.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.session: pytest.Session | None = None
        self.error: str | None = None
        self.exitstatus = int(pytest.ExitCode.USAGE_ERROR)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        exc = excinfo.value
        if self.session is None or not isinstance(exc, pytest.exit.Exception):
            return
        if str(exc.msg).startswith("pytest-xaio:") and hasattr(self.config, "workerinput"):
            self.session.shouldstop = exc.msg

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when xdist is not installed
    def pytest_testnodedown(self, node: object, error: object) -> None:
        output = getattr(node, "workeroutput", None) or {}
        stop = output.get("shouldstop")
        if isinstance(stop, str) and stop.startswith("pytest-xaio:") and self.error is None:
            self.error = stop
            self.exitstatus = int(output.get("exitstatus") or pytest.ExitCode.USAGE_ERROR)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.error is not None and not hasattr(self.config, "workerinput"):
            session.exitstatus = self.exitstatus
