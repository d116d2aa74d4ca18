"""Run third-party code that configures logging (an Alembic ``env.py``) without it spilling out.

A stock Alembic ``env.py`` calls ``logging.config.fileConfig(alembic.ini)``: that prints
``INFO [alembic.runtime.migration] Running upgrade ...`` lines into pytest's output and, with
``disable_existing_loggers``, silences the app's own loggers for the rest of the run. Inside
:func:`quiet_logging` those lines go to a buffer (kept for error messages) and afterwards every
logger is put back the way it was.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from typing import Any

__all__ = ["quiet_logging"]


def _loggers() -> dict[str, logging.Logger]:
    found = {name: obj for name, obj in logging.Logger.manager.loggerDict.items() if isinstance(obj, logging.Logger)}
    found[""] = logging.getLogger()
    return found


@contextlib.contextmanager
def quiet_logging() -> Iterator[io.StringIO]:
    """Buffer what the block logs to stderr; restore every logger's handlers, level and flags after."""
    saved: dict[str, tuple[list[logging.Handler], int, bool, bool]] = {
        name: (list(lg.handlers), lg.level, lg.disabled, lg.propagate) for name, lg in _loggers().items()
    }
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        for name, lg in _loggers().items():
            handlers, level, disabled, propagate = saved.get(name, ([], logging.NOTSET, False, True))
            for handler in lg.handlers:
                if handler not in handlers:
                    _close(handler)
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.disabled = disabled
            lg.propagate = propagate


def _close(handler: Any) -> None:
    with contextlib.suppress(Exception):
        handler.close()
