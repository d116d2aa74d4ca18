"""The matrix's client: one per app and session, its lifespan run once, one hop per request.

A matrix case only sends a request; building a client and running the app's startup and shutdown
for each of a hundred cases cost more than the requests themselves, and Starlette's ``TestClient``
crosses to the app's loop thread several times per request (start, each body chunk, close). This
client is an ``AsyncClient`` living on the app's loop (the app in-process, its lifespan run once)
behind a sync ``request()``: the whole request runs in one call on that loop. Isolation is per test
all the same: each case puts the app's DB dependency on its own test database for the length of the
test (``override_db_dependency``), the cookie jar is emptied, and identities travel in each
request's headers, so the client carries nothing from case to case.

Two things here are leaner than the general-purpose clients, because a matrix case pays them on
every request: the request crosses to the loop in one ``AppLoop.call`` (a plain coroutine handed
to the loop, no task group), and the transport
(:class:`AppTransport`) calls the app with the whole request body at once and knows its loop is
asyncio (httpx's ``ASGITransport`` tries to import sniffio on every request to find out).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from contextlib import ExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.runtime import get_runtime, session_object

if TYPE_CHECKING:
    from pytest_xaio.loop import AppLoop

__all__ = ["AppLoopClient", "AppTransport", "case_client"]


class AppLoopClient:
    """``request(method, url, **kwargs)`` as httpx's, each request sent whole on the app's loop."""

    def __init__(self, client: Any, loop: AppLoop) -> None:
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
        return self._loop.call(self._send, method, url, kwargs, send)

    async def _send(self, method: str, url: str, build: dict[str, Any], send: dict[str, Any]) -> Any:
        request = self._client.build_request(method, url, **build)
        await request.aread()  # the failure report shows the body that was sent
        return await self._client.send(request, **send)


class AppTransport:
    """An httpx async transport that calls an ASGI app in-process on an asyncio loop, as httpx's
    ``ASGITransport`` does with ``raise_app_exceptions=True``: the app's exception reaches the
    caller, who reports it as the 500 it is."""

    def __init__(self, app: Any, library: Any) -> None:
        self.app = app
        self._response = library.Response

    async def __aenter__(self) -> AppTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def handle_async_request(self, request: Any) -> Any:
        url = request.url
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "server": (url.host, url.port),
            "client": ("127.0.0.1", 123),
            "root_path": "",
        }
        status: int | None = None
        headers: list[Any] = []
        parts: list[bytes] = []
        complete = asyncio.Event()
        body_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if body_sent:  # the app waits for a disconnect: it comes once the answer is complete
                await complete.wait()
                return {"type": "http.disconnect"}
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if chunk and request.method != "HEAD":
                    parts.append(chunk)
                if not message.get("more_body", False):
                    complete.set()

        await self.app(scope, receive, send)
        if status is None:
            raise RuntimeError(f"the app sent no response to {request.method} {url.path}")
        return self._response(status, headers=headers, content=b"".join(parts))


@asynccontextmanager
async def _open_client(app: Any, base_url: str | None) -> AsyncIterator[Any]:
    """The app's lifespan around an ``AsyncClient`` (httpx2 when installed, else httpx) on :class:`AppTransport`."""
    from pytest_xaio.app import _with_state, default_base_url, lifespan
    from pytest_xaio.httplib import http_library

    library = http_library("the endpoint matrix")
    async with lifespan(app) as state:
        transport = AppTransport(_with_state(app, state), library)
        async with library.AsyncClient(
            transport=transport, base_url=base_url or default_base_url(app), follow_redirects=True
        ) as client:
            yield client


# (app, client) per app spec ("" is xaio_app), opened on first use, closed when the session ends.
_clients_key = pytest.StashKey[dict[str, tuple[Any, Any]]]()


def _session_client(config: pytest.Config, spec: str) -> tuple[Any, Any]:
    from pytest_xaio.app import load_app
    from pytest_xaio.config import get_settings
    from pytest_xaio.errors import exit_on_config_error
    from pytest_xaio.loop import app_loop

    clients = session_object(config, _clients_key, lambda _runtime: {})
    if spec not in clients:
        with exit_on_config_error():
            app = load_app(config, spec or None)
        loop = app_loop(config)  # started (and registered for teardown) before the client, so closed after it
        # Entered on the app's loop, so the app and its lifespan run there as they do for xaio_client.
        opened = loop.wrap(_open_client(app, get_settings(config).app.base_url))
        client = get_runtime(config).exit_stack.enter_context(opened)
        clients[spec] = (app, AppLoopClient(client, loop))
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
