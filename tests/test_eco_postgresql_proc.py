"""pytest-postgresql's ``postgresql_proc`` handed to pytest-xaio with ``server_from``, for real.

``postgresql_proc`` runs initdb and pg_ctl, which refuse to run as root. As root this test runs the
session as the machine's unprivileged ``postgres`` account (runuser), from a venv made from the
system's Python (the dev venv's interpreter sits under /root, which that account cannot read), in a
folder that account owns; as any other user it runs directly. The server is the system's pg_ctl on
a free port, started and stopped by pytest-postgresql.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eco_venvs import ROOT, cached_venv, clean_env, pins

ACCOUNT = "postgres"

CONFTEST = """
from pytest_postgresql import factories
from pytest_xaio.postgres.factories import server_from

postgresql_proc = factories.postgresql_proc(executable={pg_ctl!r}, host="127.0.0.1", port={port}, user="postgres")
xaio_postgres = server_from("postgresql_proc")
"""

TESTS = """
import os

def test_server_is_the_fixtures(xaio_postgres, postgresql_proc):
    assert xaio_postgres.provider == "pytest-postgresql:postgresql_proc"
    assert (xaio_postgres.host, xaio_postgres.port) == ("127.0.0.1", {port})
    assert postgresql_proc.port == {port}

def test_databases_are_made_there(xaio_db, xaio_database):
    xaio_db.execute("INSERT INTO projects (name) VALUES ('demo')")
    assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (1,)
    assert xaio_db.execute("SELECT inet_server_port()").fetchone() == ({port},)
    assert xaio_db.execute("SHOW data_directory").fetchone()[0] != ""
    assert xaio_database.name.startswith("xaio_")

def test_rolled_back(xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (0,)

def test_not_root():
    assert os.geteuid() != 0
"""


def _pg_ctl() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or [p for p in [shutil.which("pg_ctl")] if p]
    if not found:
        pytest.skip("no PostgreSQL server binaries (pg_ctl) on this machine for pytest-postgresql to start")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_account() -> list[str]:
    """The command prefix that runs as an account initdb accepts."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: no way to run initdb as another account")
    try:
        __import__("pwd").getpwnam(ACCOUNT)
    except KeyError:
        pytest.skip(f"running as root and there is no {ACCOUNT!r} account to run initdb as")
    return ["runuser", "-u", ACCOUNT, "--"]


@pytest.fixture
def project() -> Iterator[Path]:
    """A folder the session's account owns (pytester's folders under /tmp/pytest-of-root are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="xaio-pgproc-", dir="/var/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_postgresql_proc_is_the_server(project: Path) -> None:
    pg_ctl = _pg_ctl()
    prefix = _as_account()
    python = cached_venv(
        "pgproc", str(ROOT), pins(["pytest", "pytest-postgresql", "psycopg", "psycopg-binary"]), base="/usr/bin/python3"
    )
    port = _free_port()
    (project / "migrations").mkdir()
    (project / "migrations" / "V001__init.sql").write_text("CREATE TABLE projects (id serial PRIMARY KEY, name text);")
    (project / "pytest.ini").write_text("[pytest]\nxaio_migrations = migrations\n")
    (project / "conftest.py").write_text(CONFTEST.format(pg_ctl=pg_ctl, port=port))
    (project / "test_handoff.py").write_text(TESTS.format(port=port))
    if prefix:
        subprocess.run(["chown", "-R", ACCOUNT, str(project)], check=True)
    env = clean_env()
    env.update(HOME=str(project), XAIO_CACHE_DIR=str(project / "cache"), TMPDIR=str(project))
    command = [*prefix, str(python), "-m", "pytest", "-p", "no:cacheprovider", "-v", "-W", "error"]
    start = time.monotonic()
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False, timeout=600)
    result = pytest.RunResult(
        done.returncode, done.stdout.splitlines(), done.stderr.splitlines(), time.monotonic() - start
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([f"xaio: postgres * pytest-postgresql:postgresql_proc 127.0.0.1:{port}, template *"])
    # pytest-postgresql stopped its server at the end of the session: the port is free again.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
