"""The database toolkit: migrations up and down, constraint checks, cleanup snapshots, a mock DB.

Example::

    from pytest_xaio.db import allowed_values, assert_accepts, assert_rejects
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_xaio.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_xaio.db.constraints import allowed_values, assert_accepts, assert_rejects
    from pytest_xaio.db.examples import xaio_example
    from pytest_xaio.db.mock import MockSession, RealDatabaseBlocked
    from pytest_xaio.db.snapshot import Snapshot, SnapshotDiff

__all__ = [
    "MockSession",
    "RealDatabaseBlocked",
    "Snapshot",
    "SnapshotDiff",
    "allowed_values",
    "assert_accepts",
    "assert_rejects",
    "xaio_example",
]

# Imported on first use (PEP 562), so loading the plugin does not load every helper.
_WHERE = {
    "allowed_values": "pytest_xaio.db.constraints",
    "assert_accepts": "pytest_xaio.db.constraints",
    "assert_rejects": "pytest_xaio.db.constraints",
    "xaio_example": "pytest_xaio.db.examples",
    "MockSession": "pytest_xaio.db.mock",
    "RealDatabaseBlocked": "pytest_xaio.db.mock",
    "Snapshot": "pytest_xaio.db.snapshot",
    "SnapshotDiff": "pytest_xaio.db.snapshot",
}


__getattr__ = lazy_exports(__name__, _WHERE)
