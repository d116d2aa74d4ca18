"""Redis fixtures: this test's clean logical DB (``xaio_redis_url``) and a client on it (``xaio_redis``).

The session's server is started on first use by :class:`RedisSession` (providers in ``redis.py``);
a run that never asks for Redis neither imports the client library nor starts a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_xaio.config import get_settings
from pytest_xaio.errors import exit_on_config_error
from pytest_xaio.markers import use_fixture_first, uses_fixture
from pytest_xaio.postgres import redact_url
from pytest_xaio.redis import RedisServer, no_redis_reason, redis_module, start_redis
from pytest_xaio.runtime import XaioRuntime, session_object

if TYPE_CHECKING:
    import redis

__all__ = ["RedisSession", "redis_session", "xaio_redis", "xaio_redis_url"]


class RedisSession:
    """The session's Redis server, started (or found missing) once, on first use."""

    def __init__(self, runtime: XaioRuntime) -> None:
        self._runtime = runtime
        self._server: RedisServer | None = None
        self._started = False

    def server(self) -> RedisServer | None:
        """The session's Redis server, or None when no provider is available (tests then skip)."""
        if not self._started:
            self._started = True
            self._server = start_redis(self._runtime.settings, self._runtime.exit_stack)
            if self._server is not None:
                self._runtime.add_summary(f"xaio: redis {self._server.provider} {redact_url(self._server.url)}")
        return self._server

    def server_if_started(self) -> RedisServer | None:
        """The session's Redis if something already asked for it (never starts one)."""
        return self._server


_redis_key = pytest.StashKey[RedisSession]()


def redis_session(config: pytest.Config) -> RedisSession:
    return session_object(config, _redis_key, RedisSession)


# --- fixtures -----------------------------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give the flush to the tests that can write to the session's Redis: those using ``xaio_redis_url``,
    and every test when the app is handed the Redis URL (``{redis_url}`` in ``xaio_env``)."""
    app_uses_redis = any("{redis_url}" in line for line in get_settings(config).postgres.env)
    for item in items:
        if app_uses_redis or uses_fixture(item, "xaio_redis_url"):
            use_fixture_first(item, "_xaio_redis_flush")


@pytest.fixture
def _xaio_redis_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty the owned DB after the test once the session has a Redis. Set up first (see
    ``pytest_collection_modifyitems``), so it is torn down last and the app's shutdown writes are flushed too."""
    yield
    # Only a server already started this session: a test that never touched Redis must not start one.
    server = redis_session(request.config).server_if_started()
    if server is not None:
        with exit_on_config_error():
            server.flush()


@pytest.fixture(scope="session")
def _xaio_redis_server(pytestconfig: pytest.Config) -> RedisServer | None:
    """The session's Redis server (None when no provider is available)."""
    with exit_on_config_error():
        return redis_session(pytestconfig).server()


@pytest.fixture
def xaio_redis_url(pytestconfig: pytest.Config, _xaio_redis_server: RedisServer | None, _xaio_redis_flush: None) -> str:
    """URL of this test's logical Redis DB; it is empty when the test starts and flushed after it.

    Skipped, with a message saying how to get a server, when no Redis provider is available.

    Example::

        def test_cache(xaio_redis_url, monkeypatch):
            monkeypatch.setenv("REDIS_URL", xaio_redis_url)
            assert xaio_redis_url.startswith("redis://")
    """
    if _xaio_redis_server is None:
        pytest.skip(no_redis_reason(get_settings(pytestconfig)))
    return _xaio_redis_server.url


@pytest.fixture
def xaio_redis(xaio_redis_url: str) -> Iterator[redis.Redis]:
    """A ``redis.Redis`` client (``decode_responses=True``) on this test's clean logical DB.

    Example::

        def test_counter(xaio_redis):
            xaio_redis.incr("visits")
            assert xaio_redis.get("visits") == "1"
    """
    with exit_on_config_error():
        rmod = redis_module()
    client: redis.Redis = rmod.Redis.from_url(xaio_redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()
