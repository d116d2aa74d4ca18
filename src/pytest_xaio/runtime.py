"""The session core: the settings, one exit stack for everything started, and the summary lines.

Each concern keeps what it starts for the session (the Postgres server and its databases, Redis,
the exported environment, the loaded apps, the token factory...) in an object of its own, stored on
a ``pytest.StashKey`` of its own and made on first use through :func:`session_object`. Nothing here
knows about those concerns: this module imports only the standard library, pytest and the settings.

Everything started registers its teardown on :attr:`XaioRuntime.exit_stack`, which is closed once,
in reverse order, when the pytest session (or the xdist worker) ends.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import TypeVar

import pytest

from pytest_xaio.config import XaioSettings

__all__ = ["XaioRuntime", "get_runtime", "runtime_key", "session_object"]

T = TypeVar("T")


class XaioRuntime:
    """What every concern shares: the settings, the exit stack, and lines for the terminal summary."""

    def __init__(self, config: pytest.Config | None, settings: XaioSettings) -> None:
        self.config = config
        self.settings = settings
        self.exit_stack = ExitStack()
        self._summary: list[str] = []

    def add_summary(self, line: str) -> None:
        """A line printed at the end of the run (servers used, templates built...)."""
        self._summary.append(line)

    def summary_lines(self) -> list[str]:
        return list(self._summary)

    def close(self) -> None:
        self.exit_stack.close()


runtime_key = pytest.StashKey[XaioRuntime]()


def get_runtime(config: pytest.Config) -> XaioRuntime:
    return config.stash[runtime_key]


def session_object(config: pytest.Config, key: pytest.StashKey[T], make: Callable[[XaioRuntime], T]) -> T:
    """The session's object under ``key``, made by ``make(runtime)`` the first time it is asked for."""
    try:
        return config.stash[key]
    except KeyError:
        obj = make(get_runtime(config))
        config.stash[key] = obj
        return obj
