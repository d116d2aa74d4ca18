"""The matrix's client: one per app and session, its lifespan run once, one hop per request.

A matrix case only sends a request; building a client and running the app's startup and shutdown
for each of a hundred cases cost more than the requests themselves, and Starlette's ``TestClient``
crosses to the app's loop thread several times per request (start, each body chunk, close). This
client is an ``AsyncClient`` living on the app's loop (``open_async_client``, the app in-process
through the ASGI transport) behind a sync ``request()``: the whole request runs in one call on that
loop. Isolation is per test all the same: each case puts the app's DB dependency on its own test
database for the length of the test (``override_db_dependency``), the cookie jar is emptied, and
identities travel in each request's headers, so the client carries nothing from case to case.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack
from typing import Any

import pytest

from pytest_xaio.runtime import get_runtime, session_object

__all__ = ["AppLoopClient", "case_client"]


class AppLoopClient:
    """``request(method, url, **kwargs)`` as httpx's, each request sent whole on the app's loop."""

    def __init__(self, client: Any, loop: Any) -> None:
        self._client = client
        self._loop = loop

    @property
    def headers(self) -> Any:
        return self._client.headers

    @property
    def cookies(self) -> Any:
        return self._client.cookies

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        send: dict[str, Any] = {name: kwargs.pop(name) for name in ("follow_redirects", "auth") if name in kwargs}
        return self._loop.call(functools.partial(self._send, method, url, kwargs, send))

    async def _send(self, method: str, url: str, build: dict[str, Any], send: dict[str, Any]) -> Any:
        request = self._client.build_request(method, url, **build)
        await request.aread()  # the failure report shows the body that was sent
        return await self._client.send(request, **send)


# (app, client) per app spec ("" is xaio_app), opened on first use, closed when the session ends.
_clients_key = pytest.StashKey[dict[str, tuple[Any, Any]]]()


def _session_client(config: pytest.Config, spec: str) -> tuple[Any, Any]:
    from pytest_xaio.app import load_app, open_async_client
    from pytest_xaio.config import get_settings
    from pytest_xaio.errors import exit_on_config_error
    from pytest_xaio.loop import app_loop

    clients = session_object(config, _clients_key, lambda _runtime: {})
    if spec not in clients:
        with exit_on_config_error():
            app = load_app(config, spec or None)
        loop = app_loop(config)  # started (and registered for teardown) before the client, so closed after it
        # Entered on the app's loop, so the app and its lifespan run there as they do for xaio_client.
        opened = loop.wrap(open_async_client(app, base_url=get_settings(config).app.base_url))
        clients[spec] = (app, AppLoopClient(get_runtime(config).exit_stack.enter_context(opened), loop))
    return clients[spec]


def case_client(request: pytest.FixtureRequest, spec: str | None, sub_app: Any = None) -> Any:
    """The session's client for the app ``spec`` (None or xaio_app's own spec: ``xaio_app``), with the
    app's DB dependency (and a mounted ``sub_app``'s) on this test's database until the test ends."""
    from pytest_xaio.client import override_db_dependency
    from pytest_xaio.config import get_settings

    spec = (spec or "").strip()
    if spec == (get_settings(request.config).app.app or "").strip():
        spec = ""
    app, client = _session_client(request.config, spec)
    client.cookies.clear()  # a cookie one case's answer set is not the next case's credential
    stack = ExitStack()
    request.addfinalizer(stack.close)
    stack.enter_context(override_db_dependency(request, app))
    if sub_app is not None:
        # A mounted FastAPI app resolves its routes' dependencies through its own overrides.
        stack.enter_context(override_db_dependency(request, sub_app))
    return client
