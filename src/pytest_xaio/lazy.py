"""PEP 562 lazy exports: a package names what it offers, and each name is imported on first use.

``pytest_xaio.db`` and ``pytest_xaio.externals`` offer helpers whose modules import heavy
libraries; loading the plugin imports the packages, so their helpers load only when a test asks.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``where`` maps each name to the module defining it.
    The value is kept in the package's namespace, so each name is imported once.

    Example::

        __getattr__ = lazy_exports(__name__, {"Snapshot": "pytest_xaio.db.snapshot"})
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
