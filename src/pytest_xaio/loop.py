"""The app's event loop: one asyncio loop in a thread of its own, per pytest session (or xdist worker).

An async app keeps loop-bound objects between requests: a module-level ``create_async_engine``
pools asyncpg connections whose futures belong to the loop that opened them. Starlette's
``TestClient`` starts a new loop per client and pytest-asyncio a new loop per test, so the second
test would get ``Future attached to a different loop``. Here the app, its lifespan, both clients,
the endpoint matrix and the async isolation connection always run on this one loop; tests reach it
from the main thread (sync tests, ``xaio_db``) or from their own loop (pytest-asyncio, anyio), which
may be anything: each call crosses over and waits for the answer.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_xaio.runtime import XaioRuntime, session_object

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

__all__ = ["AppLoop", "app_loop"]

_T = TypeVar("_T")


class AppLoop:
    """A running asyncio loop in a daemon thread; ``call`` from sync code, ``acall`` from any loop.

    Crossing over is the cost every request and database statement of a test pays, so ``call`` and
    ``submit`` hand a plain coroutine to the loop (``asyncio.run_coroutine_threadsafe``: about half
    the cost of the blocking portal's task group); the portal is kept for context managers and for
    what Starlette's ``TestClient`` asks of it beyond calls (:meth:`client_portal`).
    """

    def __init__(self) -> None:
        import asyncio

        from anyio.from_thread import start_blocking_portal

        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal("asyncio")
        self.portal = self._portal_cm.__enter__()
        self._thread_id: int | None = self.portal.call(threading.get_ident)
        self.asyncio_loop: asyncio.AbstractEventLoop = self.portal.call(asyncio.get_running_loop)

    @property
    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread_id

    def call(self, func: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run ``await func(*args)`` on the app's loop and wait for it (from a thread that is not the loop's)."""
        return self.submit(func, *args).result()

    def submit(self, func: Callable[..., Awaitable[_T]], *args: Any) -> Future[_T]:
        """Start ``await func(*args)`` on the app's loop without waiting; its future."""
        return self.run_soon(func, *args)

    def run_soon(self, func: Callable[..., Any], *args: Any) -> Future[Any]:
        """Start ``func(*args)`` on the app's loop, awaited when it returns an awaitable; its future."""
        import asyncio

        if self.in_loop_thread:  # waiting for it here would wait forever
            raise RuntimeError("pytest-xaio: the app loop cannot wait for itself; await the coroutine instead")
        return asyncio.run_coroutine_threadsafe(_run(func, args), self.asyncio_loop)

    def client_portal(self) -> Any:
        """What a Starlette ``TestClient`` runs requests on (``client.portal``): its calls cross over as
        :meth:`call` does, anything else goes to the blocking portal."""
        return _ClientPortal(self)

    async def acall(self, func: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """The same from async code running on another loop (pytest-asyncio's, anyio's): awaits the answer."""
        if self.in_loop_thread:
            return await func(*args)
        return await _wait(self.submit(func, *args))

    def wrap(self, cm: AbstractAsyncContextManager[_T]) -> AbstractContextManager[_T]:
        """An async context manager entered and left on the app's loop, as a sync one."""
        return self.portal.wrap_async_context_manager(cm)

    @asynccontextmanager
    async def awrap(self, cm: AbstractAsyncContextManager[_T]) -> AsyncIterator[_T]:
        """The same for async code on another loop: entering and leaving do not block that loop."""
        import anyio.to_thread

        sync_cm = self.wrap(cm)
        value = await anyio.to_thread.run_sync(sync_cm.__enter__)
        try:
            yield value
        except BaseException:
            exc_info = sys.exc_info()
            if not await anyio.to_thread.run_sync(sync_cm.__exit__, *exc_info):
                raise
        else:
            await anyio.to_thread.run_sync(sync_cm.__exit__, None, None, None)

    def close(self) -> None:
        self._portal_cm.__exit__(None, None, None)


async def _run(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    result = func(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class _ClientPortal:
    """The part of anyio's ``BlockingPortal`` a ``TestClient`` calls per request, on :class:`AppLoop`."""

    def __init__(self, loop: AppLoop) -> None:
        self._loop = loop

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        return self._loop.run_soon(func, *args).result()

    def start_task_soon(self, func: Callable[..., Any], *args: Any, name: object = None) -> Future[Any]:
        return self._loop.run_soon(func, *args)

    def __getattr__(self, name: str) -> Any:  # start_task (websockets), wrap_async_context_manager ...
        return getattr(self._loop.portal, name)


async def _wait(future: Future[_T]) -> _T:
    """Wait for a future of another thread without blocking the current loop, whatever runs it."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # trio (through anyio): wait in a worker thread
        import anyio.to_thread

        return await anyio.to_thread.run_sync(future.result)
    return await asyncio.wrap_future(future)


_loop_key = pytest.StashKey[AppLoop]()


def _start(runtime: XaioRuntime) -> AppLoop:
    loop = AppLoop()
    runtime.exit_stack.callback(loop.close)
    return loop


def app_loop(config: pytest.Config) -> AppLoop:
    """The session's app loop, started on first use and stopped when the session ends.

    Everything started on it afterwards (the isolation connection) is registered later on the same
    exit stack, so it is closed first, while the loop still runs.
    """
    return session_object(config, _loop_key, _start)
