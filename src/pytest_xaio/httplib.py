"""The one HTTP client library both xaio clients use: httpx2 when installed, else httpx.

Starlette 1.x's ``TestClient`` (``xaio_client``) is built on httpx2 when it is installed and warns
that plain httpx is deprecated; ``xaio_async_client`` follows the same choice, so one run never
mixes the two libraries' response and exception types. Either library alone is enough.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pytest_xaio.errors import missing_extra

__all__ = ["LIBRARIES", "http_library"]

#: In order of preference (Starlette's own order).
LIBRARIES = ("httpx2", "httpx")


def http_library(what: str = "the xaio HTTP clients") -> ModuleType:
    """The httpx2 module when it imports, else httpx; a missing-extra error when neither does."""
    for name in LIBRARIES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    missing_extra("httpx2", "fastapi", what)
