"""Loading the app under test: after the environment is exported, once per session per spec.

An app reads ``DATABASE_URL`` and friends when its modules are imported, so the import has to wait
until the plugin knows which database the session uses (``pytest_xaio.env``). The apps loaded this
session are kept by :class:`AppSession`; the clients that run an app's lifespan are here too.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol, cast

import pytest

from pytest_xaio.env import export_env, exported_env
from pytest_xaio.errors import config_error, missing_extra
from pytest_xaio.resolve import resolve_object
from pytest_xaio.runtime import XaioRuntime, session_object

if TYPE_CHECKING:
    from pytest_xaio.loop import AppLoop

__all__ = [
    "ASGIApp",
    "AppSession",
    "app_loop_transport",
    "default_base_url",
    "lifespan",
    "load_app",
    "loaded_apps",
    "open_async_client",
    "open_client",
    "prepare_env",
]

_BASE_URL = "http://testserver"

if TYPE_CHECKING:
    import httpx
    from starlette.testclient import TestClient


class ASGIApp(Protocol):
    """The app under test (``xaio_app``): an ASGI callable; its other attributes are the app's own
    (FastAPI's ``routes``, ``dependency_overrides``, ``state``...)."""

    def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
        /,
    ) -> Awaitable[None]: ...

    def __getattr__(self, name: str) -> Any: ...


class AppSession:
    """The apps this session loaded (by spec) and whether the JWT public key was exported."""

    def __init__(self, runtime: XaioRuntime) -> None:
        self.settings = runtime.settings
        self.apps: dict[str, ASGIApp] = {}
        self.public_key_exported = False


_app_key = pytest.StashKey[AppSession]()


def app_session(config: pytest.Config) -> AppSession:
    return session_object(config, _app_key, AppSession)


def loaded_apps(config: pytest.Config) -> list[ASGIApp]:
    """The apps loaded so far this session (none are loaded by asking)."""
    session = config.stash.get(_app_key, None)
    return [] if session is None else list(session.apps.values())


def load_app(config: pytest.Config, spec: str | None = None) -> ASGIApp:
    """The ASGI app named by ``spec`` (default: the ``xaio_app`` setting), imported once per session.

    ``spec`` is ``"package.module:app"`` or a factory call ``"package.module:create_app()"``.
    Raises a :func:`~pytest_xaio.errors.config_error` when it is not set or cannot be loaded.
    """
    session = app_session(config)
    spec = (spec or session.settings.app.app or "").strip()
    if not spec:
        config_error(
            "a test needs the app, but no app is configured",
            'set xaio_app = "package.module:app" (or "package.module:create_app()") in your pytest '
            "configuration, or pass --xaio-app",
        )
    if spec in session.apps:
        return session.apps[spec]
    prepare_env(config)
    app = resolve_object(spec, setting="xaio_app", rootdir=str(config.rootpath))
    if app is None or not callable(app):
        config_error(
            f"xaio_app {spec!r} is {type(app).__name__}, not an ASGI app",
            "point xaio_app at the FastAPI instance (module:app) or at a factory that returns it (module:create_app())",
        )
    session.apps[spec] = cast(ASGIApp, app)
    return session.apps[spec]


def prepare_env(config: pytest.Config) -> None:
    """Export what the app reads at import: DATABASE_URL, PG*, ``xaio_env`` lines, the JWT public key."""
    export_env(config)
    _export_public_key(config)


def _export_public_key(config: pytest.Config) -> None:
    """Put the session's RS*/ES* public key where the app reads it, before the app is imported."""
    session = app_session(config)
    name = session.settings.auth.jwt_public_key_env
    if not name or session.public_key_exported:
        return
    session.public_key_exported = True
    from pytest_xaio.auth import session_keys

    keys = session_keys(config)
    if keys is not None:
        exported_env(config).set(name, keys.public_key_pem)


def default_base_url(app: Any) -> str:
    """``http://testserver``, unless the app's ``TrustedHostMiddleware`` would refuse that host: then
    the first host it allows (``*.example.com`` gives ``test.example.com``)."""
    for middleware in getattr(app, "user_middleware", None) or ():
        if getattr(getattr(middleware, "cls", None), "__name__", "") != "TrustedHostMiddleware":
            continue
        kwargs = dict(getattr(middleware, "kwargs", None) or getattr(middleware, "options", None) or {})
        args = tuple(getattr(middleware, "args", ()) or ())
        hosts = list(kwargs.get("allowed_hosts", args[0] if args else None) or ["*"])
        if "*" in hosts or "testserver" in hosts:
            return _BASE_URL
        first = str(hosts[0])
        return "http://" + ("test" + first[1:] if first.startswith("*.") else first)
    return _BASE_URL


# --- clients with the app's lifespan running (the fixtures in client.py and the matrix use these) ------
@contextmanager
def open_client(
    app: Any,
    *,
    headers: Mapping[str, str] | None = None,
    raise_server_exceptions: bool = True,
    base_url: str | None = None,
    loop: AppLoop | None = None,
) -> Iterator[TestClient]:
    """A ``TestClient`` for ``app`` with its lifespan running (startup on enter, shutdown on exit).

    With ``loop`` (the session's :class:`~pytest_xaio.loop.AppLoop`) the lifespan and every request
    run on that loop instead of a new one per client, so loop-bound objects the app keeps between
    tests (a module-level async engine's pool) stay usable. ``base_url`` defaults to
    :func:`default_base_url` (``http://testserver``, or a host the app's ``TrustedHostMiddleware`` allows).
    """
    base_url = base_url or default_base_url(app)
    try:
        from starlette.testclient import TestClient
    except ImportError:
        missing_extra("fastapi", "fastapi", "the xaio HTTP clients")
    if loop is None:
        with TestClient(
            app, base_url=base_url, raise_server_exceptions=raise_server_exceptions, headers=dict(headers or {})
        ) as client:
            yield client
        return
    client = TestClient(
        app, base_url=base_url, raise_server_exceptions=raise_server_exceptions, headers=dict(headers or {})
    )
    # TestClient runs requests on ``client.portal`` when one is set (its public attribute); entering
    # the client would start a portal of its own, so the lifespan is run here on the app's loop.
    client.portal = loop.client_portal()
    try:
        with loop.wrap(lifespan(client.app, state=client.app_state)):
            yield client
    finally:
        client.portal = None
        client.close()


@asynccontextmanager
async def open_async_client(
    app: Any,
    *,
    headers: Mapping[str, str] | None = None,
    raise_server_exceptions: bool = True,
    base_url: str | None = None,
    loop: AppLoop | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``AsyncClient`` (httpx2 when installed, else httpx: the library Starlette's TestClient uses)
    talking to ``app`` in-process, with the app's lifespan running.

    With ``loop`` the app runs on the session's app loop whatever loop the test runs on; each request
    crosses over to it (see :mod:`pytest_xaio.loop`). Without it the app runs on the caller's loop.
    """
    from pytest_xaio.httplib import http_library

    library = http_library("xaio_async_client")
    base_url = base_url or default_base_url(app)
    if loop is None:
        async with lifespan(app) as state:
            transport = library.ASGITransport(app=_with_state(app, state), raise_app_exceptions=raise_server_exceptions)
            async with library.AsyncClient(
                transport=transport, base_url=base_url, headers=dict(headers or {}), follow_redirects=True
            ) as client:
                yield client
        return
    async with loop.awrap(lifespan(app)) as state:
        inner = library.ASGITransport(app=_with_state(app, state), raise_app_exceptions=raise_server_exceptions)
        async with library.AsyncClient(
            transport=app_loop_transport(library, inner, loop),
            base_url=base_url,
            headers=dict(headers or {}),
            follow_redirects=True,
        ) as client:
            yield client


def app_loop_transport(library: Any, inner: Any, loop: AppLoop) -> Any:
    """An async transport of ``library`` (httpx or a library with its API) that runs ``inner`` (an
    ASGI transport) on the app's loop: the request body is read on the caller's loop, the app runs
    on its own, and the raw response bytes come back."""

    class _AppLoopTransport(library.AsyncBaseTransport):  # type: ignore[misc]
        def __init__(self) -> None:
            self.app = inner.app  # what ASGITransport exposes, so ``transport.app.dependency_overrides`` works

        async def handle_async_request(self, request: Any) -> Any:
            content = await request.aread()
            relayed = library.Request(
                request.method, request.url, headers=request.headers, content=content, extensions=request.extensions
            )

            async def run() -> tuple[int, Any, bytes, dict[str, Any]]:
                response = await inner.handle_async_request(relayed)
                try:
                    body = b"".join([chunk async for chunk in response.aiter_raw()])
                finally:
                    await response.aclose()
                return response.status_code, response.headers, body, dict(response.extensions)

            status, headers, body, extensions = await loop.acall(run)
            return library.Response(status, headers=headers, content=body, extensions=extensions)

        async def aclose(self) -> None:
            await loop.acall(inner.aclose)

    return _AppLoopTransport()


@asynccontextmanager
async def lifespan(app: Any, state: dict[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:
    """Run the ASGI lifespan protocol around the block and give the state the app's lifespan set
    (``state``, when given, is the dict it fills: a ``TestClient``'s ``app_state``).

    On asyncio the app's lifespan runs as a plain task, so startup and shutdown may happen in
    different tasks of the same loop (pytest-asyncio runs a fixture's setup and teardown that way);
    other backends use a task group.
    """
    import asyncio

    import anyio

    state = {} if state is None else state
    to_app, app_inbox = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
    app_outbox, from_app = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
    crashed: list[BaseException] = []
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}

    async def run() -> None:
        try:
            await app(scope, app_inbox.receive, app_outbox.send)
        except Exception as exc:
            crashed.append(exc)
        finally:
            app_outbox.close()

    async def exchange(kind: str) -> bool:
        """Send lifespan.<kind>; True when the app answered complete, False when it has no lifespan."""
        await to_app.send({"type": f"lifespan.{kind}"})
        try:
            message = await from_app.receive()
        except anyio.EndOfStream:
            if crashed:
                raise crashed[0]
            return False  # the app returned without answering: it does not do lifespan
        if message["type"] == f"lifespan.{kind}.failed":
            raise RuntimeError(f"the app's lifespan {kind} failed: {message.get('message', '')}")
        return True

    async def body() -> AsyncIterator[dict[str, Any]]:
        if not await exchange("startup"):
            yield state
            return
        try:
            yield state
        finally:
            await exchange("shutdown")

    try:
        asyncio.get_running_loop()
        on_asyncio = True
    except RuntimeError:
        on_asyncio = False
    if on_asyncio:
        task = asyncio.get_running_loop().create_task(run())
        try:
            async for value in body():
                yield value
        finally:
            to_app.close()
            await task
            _close_streams(app_inbox, from_app)
    else:
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            try:
                async for value in body():
                    yield value
            finally:
                to_app.close()
        _close_streams(app_inbox, from_app)


def _close_streams(*streams: Any) -> None:
    """Close the receiving ends too: an unclosed anyio stream is a ResourceWarning (an error under -W error)."""
    for stream in streams:
        stream.close()


def _with_state(app: Any, state: dict[str, Any]) -> Any:
    return _StateApp(app, state)


class _StateApp:
    """The app, plus the lifespan state Starlette hands each request (httpx's ASGITransport leaves it
    out). Other attributes are the app's, so ``transport.app.dependency_overrides`` is still the app's."""

    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        self.app = app
        self._state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and "state" not in scope:
            scope = {**scope, "state": dict(self._state)}
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)
