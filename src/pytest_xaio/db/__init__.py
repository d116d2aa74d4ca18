"""The database toolkit: migrations up and down, constraint checks, cleanup snapshots, a mock DB.

Example::

    from pytest_xaio.db import allowed_values, assert_accepts, assert_rejects
"""

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
