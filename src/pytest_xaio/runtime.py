"""The session core: the settings, one exit stack for everything started, and the summary lines.

Each concern keeps what it starts for the session (the Postgres server and its databases, Redis,
the exported environment, the loaded apps, the token factory...) in an object of its own, stored on
a ``pytest.StashKey`` of its own and made on first use through :func:`session_object`. Nothing here
knows about those concerns: this module imports only the standard library, pytest and the settings.

Everything started registers its teardown on :attr:`XaioRuntime.exit_stack`, which is closed once,
in reverse order, when the pytest session (or the xdist worker) ends.

:func:`freeze_start_up_objects` spares the session a cost of its start: the plugin calls it
before the conftest files are imported, once they are (with the app they import), and once the
tests are collected, and each time the objects made until then (modules, the app, its routes and
models) go to the garbage collector's permanent generation. A full collection looks at every object
it tracks: in the matrix benchmark's project (FastAPI, SQLAlchemy, Hypothesis) some 170,000 objects,
about 100 ms a time on this project's CI machine; the full collections of a session came to
0.45 s in its matrix session and 0.75-0.9 s in its Schemathesis one (one of them inside the tests),
and to 0.23-0.4 s and 0.37-0.5 s frozen. These objects live for the whole session anyway (a
collection once the tests are collected frees about 200 of them, which then wait for the session's
end), so freezing them loses next to nothing; they are unfrozen when the session ends, for a process
that runs several sessions (pytester's in-process runs). What a test notices: a reference cycle made
at import is not freed by its ``gc.collect()`` (docs/troubleshooting.md); ``xaio_gc_freeze = false``
turns the freezing off.
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


_unfreeze_key = pytest.StashKey[bool]()


def freeze_start_up_objects(config: pytest.Config, settings: XaioSettings) -> None:
    """Freeze what exists now out of the garbage collector's reach until the session ends (above)."""
    if not settings.app.gc_freeze:
        return
    gc.freeze()
    if not config.stash.get(_unfreeze_key, False):
        config.stash[_unfreeze_key] = True
        config.add_cleanup(gc.unfreeze)
