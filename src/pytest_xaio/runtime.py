"""The session core: the settings, one exit stack for everything started, and the summary lines.

Each concern keeps what it starts for the session (the Postgres server and its databases, Redis,
the exported environment, the loaded apps, the token factory...) in an object of its own, stored on
a ``pytest.StashKey`` of its own and made on first use through :func:`session_object`. Nothing here
knows about those concerns: this module imports only the standard library, pytest and the settings.

Everything started registers its teardown on :attr:`XaioRuntime.exit_stack`, which is closed once,
in reverse order, when the pytest session (or the xdist worker) ends.

:func:`freeze_start_up_objects` spares the tests a cost of the session's start: once the tests
are collected, the objects made until then (the modules imported, the app, its routes and models)
go to the garbage collector's permanent generation. A full collection looks at every object it
tracks; in the matrix benchmark's project (a FastAPI app, SQLAlchemy, Hypothesis) that is some
170,000 objects and 120-150 ms on this project's CI machine, and one such collection fell inside
each run of its hundred matrix cases, a third of their time. The start-up objects live for the
whole session anyway (a collection at that point frees about 200 of them), so freezing them loses
nothing; they are unfrozen when the session ends, for a process that runs several sessions
(pytester's in-process runs). ``xaio_gc_freeze = false`` turns it off.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import ExitStack
from typing import TypeVar

import pytest

from pytest_xaio.config import XaioSettings

__all__ = ["XaioRuntime", "freeze_start_up_objects", "get_runtime", "runtime_key", "session_object"]

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


def freeze_start_up_objects(runtime: XaioRuntime) -> None:
    """Freeze what exists now out of the garbage collector's reach until the session ends (above)."""
    if not runtime.settings.app.gc_freeze or runtime.config is None:
        return
    gc.freeze()
    runtime.config.add_cleanup(gc.unfreeze)
