"""Loading the app under test: after the environment is exported, once per session per spec.

An app reads ``DATABASE_URL`` and friends when its modules are imported, so the import has to wait
until the plugin knows which database the session uses (``XaioRuntime.export_env``).
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import traceback
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from pytest_xaio.errors import config_error, missing_extra
from pytest_xaio.runtime import get_runtime

__all__ = ["lifespan", "load_app", "open_async_client", "open_client", "prepare_env", "resolve_object"]

_STATE_KEY = "app.apps"
_BASE_URL = "http://testserver"


def load_app(config: pytest.Config, spec: str | None = None) -> Any:
    """The ASGI app named by ``spec`` (default: the ``xaio_app`` setting), imported once per session.

    ``spec`` is ``"package.module:app"`` or a factory call ``"package.module:create_app()"``.
    Raises a :func:`~pytest_xaio.errors.config_error` when it is not set or cannot be loaded.
    """
    runtime = get_runtime(config)
    spec = (spec or runtime.settings.app.app or "").strip()
    if not spec:
        config_error(
            "a test needs the app, but no app is configured",
            'set xaio_app = "package.module:app" (or "package.module:create_app()") in your pytest '
            "configuration, or pass --xaio-app",
        )
    apps: dict[str, Any] = runtime.state.setdefault(_STATE_KEY, {})
    if spec in apps:
        return apps[spec]
    prepare_env(config)
    app = resolve_object(spec, setting="xaio_app", rootdir=str(config.rootpath))
    if app is None or not callable(app):
        config_error(
            f"xaio_app {spec!r} is {type(app).__name__}, not an ASGI app",
            "point xaio_app at the FastAPI instance (module:app) or at a factory that returns it (module:create_app())",
        )
    apps[spec] = app
    return app


def prepare_env(config: pytest.Config) -> None:
    """Export what the app reads at import: DATABASE_URL, PG*, ``xaio_env`` lines, the JWT public key."""
    get_runtime(config).export_env()
    _export_public_key(config)


def resolve_object(spec: str, *, setting: str = "setting", rootdir: str | None = None) -> Any:
    """The object ``"package.module:attr.path"`` names; a trailing ``()`` calls it with no arguments.

    Attribute steps also look up keys of mappings, so ``"os:environ.SECRET_KEY"`` works. When the
    top-level package is not importable and ``rootdir`` is given, ``rootdir`` (and ``rootdir/src``)
    are appended to ``sys.path`` and the import is tried once more, as running from the project
    root would.
    """
    module_name, sep, path = spec.strip().partition(":")
    call = path.endswith("()")
    if call:
        path = path[:-2]
    if not sep or not module_name or not path:
        config_error(
            f"{setting} {spec!r} is not of the form package.module:attribute",
            f"write {setting} as package.module:name (for example myapp.main:app or myapp.main:create_app())",
        )
    module = _import(module_name, spec, setting, rootdir)
    obj: Any = module
    walked = module_name
    for part in path.split("."):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif _is_mapping(obj) and part in obj:
            obj = obj[part]
        else:
            hint = _names_like(obj)
            config_error(
                f"{setting} {spec!r}: {walked!r} has no attribute {part!r}",
                f"check the name after the colon{hint}",
            )
        walked = f"{walked}:{part}" if walked == module_name else f"{walked}.{part}"
    if call:
        try:
            obj = obj()
        except Exception as exc:
            config_error(
                f"{setting} {spec!r}: calling {path}() raised {_describe(exc)}",
                "fix the error in the factory (it is called with no arguments)",
            )
    return obj


def _import(module_name: str, spec: str, setting: str, rootdir: str | None) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        ours = module_name == missing or module_name.startswith(missing + ".")
        if ours and rootdir is not None and _add_rootdir(rootdir):
            return _import(module_name, spec, setting, None)
        _import_failed(exc, spec, setting, ours)
    except (Exception, SystemExit) as exc:
        _import_failed(exc, spec, setting, False)


def _add_rootdir(rootdir: str) -> bool:
    added = False
    for folder in (rootdir, os.path.join(rootdir, "src")):
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.append(folder)
            added = True
    if added:
        importlib.invalidate_caches()
    return added


def _import_failed(exc: BaseException, spec: str, setting: str, not_found: bool) -> Any:
    if not_found:
        fix = (
            f"check the module path in {setting}, and that the project is importable from the rootdir "
            "(install it, or set pytest's pythonpath = . or src)"
        )
    else:
        fix = "fix the error above in the app (it happened while importing it), then run again"
    where = _app_frame(exc)
    config_error(f"could not import {setting} {spec!r}: {_describe(exc)}{where}", fix)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _app_frame(exc: BaseException) -> str:
    """Where in the project's own code the error happened (the last frame outside importlib)."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "importlib" not in f.filename and not f.filename.endswith(("pytest_xaio/app.py", "pytest_xaio\\app.py"))
    ]
    if not frames:
        return ""
    last = frames[-1]
    return f"\n  at {last.filename}:{last.lineno}" + (f": {last.line}" if last.line else "")


def _is_mapping(obj: Any) -> bool:
    return hasattr(obj, "keys") and hasattr(obj, "__getitem__") and hasattr(obj, "__contains__")


def _names_like(obj: Any) -> str:
    names = sorted(n for n in dir(obj) if not n.startswith("_"))[:12]
    return f"; available names: {', '.join(names)}" if names else ""


def _export_public_key(config: pytest.Config) -> None:
    """Put the session's RS*/ES* public key where the app reads it, before the app is imported."""
    runtime = get_runtime(config)
    name = runtime.settings.auth.jwt_public_key_env
    if not name or runtime.state.get("app.public_key_exported"):
        return
    runtime.state["app.public_key_exported"] = True
    from pytest_xaio.auth import session_keys

    keys = session_keys(config)
    if keys is None:
        return
    previous = os.environ.get(name)
    os.environ[name] = keys.public_key_pem

    def _restore() -> None:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous

    runtime.exit_stack.callback(_restore)


# --- clients with the app's lifespan running (the fixtures in client.py and the matrix use these) ------
@contextmanager
def open_client(
    app: Any,
    *,
    headers: Mapping[str, str] | None = None,
    raise_server_exceptions: bool = True,
    base_url: str = _BASE_URL,
) -> Iterator[Any]:
    """A ``TestClient`` for ``app`` with its lifespan running (startup on enter, shutdown on exit)."""
    try:
        from starlette.testclient import TestClient
    except ImportError:
        missing_extra("fastapi", "fastapi", "the xaio HTTP clients")
    with TestClient(
        app, base_url=base_url, raise_server_exceptions=raise_server_exceptions, headers=dict(headers or {})
    ) as client:
        yield client


@asynccontextmanager
async def open_async_client(
    app: Any,
    *,
    headers: Mapping[str, str] | None = None,
    raise_server_exceptions: bool = True,
    base_url: str = _BASE_URL,
) -> AsyncIterator[Any]:
    """An ``httpx.AsyncClient`` talking to ``app`` in-process, with the app's lifespan running."""
    try:
        import httpx
    except ImportError:
        missing_extra("httpx", "fastapi", "xaio_async_client")
    async with lifespan(app) as state:
        transport = httpx.ASGITransport(app=_with_state(app, state), raise_app_exceptions=raise_server_exceptions)
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, headers=dict(headers or {}), follow_redirects=True
        ) as client:
            yield client


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Run the ASGI lifespan protocol around the block and give the state the app's lifespan set.

    On asyncio the app's lifespan runs as a plain task, so startup and shutdown may happen in
    different tasks of the same loop (pytest-asyncio runs a fixture's setup and teardown that way);
    other backends use a task group.
    """
    import asyncio

    import anyio

    state: dict[str, Any] = {}
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
    else:
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            try:
                async for value in body():
                    yield value
            finally:
                to_app.close()


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
