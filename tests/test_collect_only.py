"""``pytest --collect-only`` (IDE test discovery) on the example app starts no server and connects to none.

The "servers" here are listening sockets of the test's own: if the plugin connected to one during
collection, the connection would be waiting in the socket's backlog afterwards.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "saas_app"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def _connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _collect(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(
        sys.executable, "-m", "pytest", str(EXAMPLE), "--collect-only", "-q", "-p", "no:cacheprovider", *args
    )


def test_collect_only_connects_to_no_database_or_redis(pytester: pytest.Pytester, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    result = _collect(
        pytester,
        f"--xaio-postgres-url=postgresql://postgres@127.0.0.1:{port}/postgres",
        "--xaio-redis=url",
        f"--xaio-redis-url=redis://127.0.0.1:{port}",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    # the endpoint matrix read the app's routes (the app imported with the placeholder env)
    result.stdout.fnmatch_lines(["tests/test_endpoints.py::test_endpoints[[]GET /health*", "* tests collected *"])
    result.stdout.no_fnmatch_line("xaio: postgres*")
    assert not _connected(listener), "collection connected to the database or Redis URL"


def test_collect_only_does_not_start_the_embedded_server(pytester: pytest.Pytester, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache dir would go: the embedded cluster cannot be made here\n")
    cache = blocker / "cache"
    result = _collect(pytester, "--xaio-postgres=embedded", "--xaio-redis=none", "-o", f"xaio_cache_dir={cache}")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["tests/test_migrations.py::*", "* tests collected *"])
    assert not cache.exists()


def test_without_collect_only_the_same_settings_do_reach_the_server(
    pytester: pytest.Pytester, listener: socket.socket
) -> None:
    """The check above can fail: a real run with the same URL does connect (and then stops with a usage error)."""
    port = listener.getsockname()[1]
    listener.close()  # nothing listens now: the run must say it cannot connect
    result = pytester.run(
        sys.executable,
        "-m",
        "pytest",
        str(EXAMPLE / "tests" / "test_health.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        f"--xaio-postgres-url=postgresql://postgres@127.0.0.1:{port}/postgres",
        "--xaio-redis=none",
    )
    assert result.ret != 0
    result.stderr.fnmatch_lines([f"*cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:{port}/postgres*"])
