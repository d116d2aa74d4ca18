"""What the app's DB dependency yields, so its override yields the same kind of session.

A SQLModel app's ``get_db`` yields ``sqlmodel.Session`` (routes call ``session.exec``); another app
builds its sessions from a ``sessionmaker(class_=..., expire_on_commit=False, ...)``; an async app
yields an ``AsyncSession``. The override (``xaio_db_dependency``) must hand over the same thing,
joined to the test's database. It is read from the dependency itself, in this order:

1. ``xaio_db_session_class`` (``module:Class``, or ``module:SessionLocal`` for a sessionmaker);
2. a ``sessionmaker``/``async_sessionmaker`` the dependency's code refers to (directly, or as an
   attribute of a module it refers to): its class and options;
3. the dependency's return annotation (``Generator[Session, None, None]``, ``AsyncIterator[AsyncSession]``);
4. a Session class the dependency's code names (``with Session(engine) as session``).

The sync override is made here; an async dependency is served by ``postgres/aio.py`` (the app's
async session on the test's async connection), which the client hands it to.
"""

from __future__ import annotations

import inspect
import typing
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pytest_xaio.errors import config_error

__all__ = ["SessionSpec", "detect_session", "session_override"]


@dataclass(frozen=True)
class SessionSpec:
    """The session the app's dependency yields: its class, the sessionmaker's options, sync or async."""

    session_class: type | None = None
    options: dict[str, Any] = field(default_factory=dict)
    is_async: bool = False
    driver: str | None = None  # the app engine's driver (postgresql+asyncpg), for async sessions


def _is_async_dependency(dependency: Any) -> bool:
    call = getattr(dependency, "__call__", None)  # noqa: B004  (a class instance used as a dependency)
    return any(
        inspect.isasyncgenfunction(f) or inspect.iscoroutinefunction(f) for f in (dependency, call) if f is not None
    )


def _from_maker(maker: Any, is_async: bool) -> SessionSpec:
    options = {k: v for k, v in dict(getattr(maker, "kw", {})).items() if k not in ("bind", "binds")}
    bind = dict(getattr(maker, "kw", {})).get("bind")
    url = getattr(bind, "url", None)
    driver = getattr(url, "drivername", None)
    return SessionSpec(maker.class_, options, is_async, driver)


def _makers() -> tuple[type, ...]:
    from sqlalchemy.orm import sessionmaker

    kinds: list[type] = [sessionmaker]
    try:
        from sqlalchemy.ext.asyncio import async_sessionmaker

        kinds.append(async_sessionmaker)
    except ImportError:  # pragma: no cover - SQLAlchemy without the asyncio extension
        pass
    return tuple(kinds)


def _referenced(dependency: Any, depth: int = 2) -> list[Any]:
    """Objects the dependency's code names: its globals, attributes of modules among them, and (a
    level deeper) what the functions it delegates to name (``async for s in db.get_session()``)."""
    func = inspect.unwrap(dependency)
    if not inspect.isfunction(func):
        return []
    try:
        names = inspect.getclosurevars(func)
    except (TypeError, ValueError):
        return []
    found: list[Any] = [*names.nonlocals.values(), *names.globals.values()]
    attributes = set(names.unbound) | set(func.__code__.co_names)
    for obj in list(found):
        if inspect.ismodule(obj):
            found.extend(getattr(obj, attr) for attr in sorted(attributes) if hasattr(obj, attr))
    if depth > 1:
        for obj in list(found):
            if inspect.isfunction(obj) and obj is not func:
                found.extend(_referenced(obj, depth - 1))
    return found


def _session_base(is_async: bool) -> type:
    if is_async:
        from sqlalchemy.ext.asyncio import AsyncSession

        return AsyncSession
    from sqlalchemy.orm import Session

    return Session


def _yielded_type(dependency: Any) -> type | None:
    try:
        hints = typing.get_type_hints(inspect.unwrap(dependency))
    except Exception:
        return None
    hint = hints.get("return")
    for arg in (*typing.get_args(hint), hint):
        if isinstance(arg, type):
            return arg
    return None


# What detect_session found, per dependency (held weakly: gone with the app's module) and per
# (named, rootdir): the overrides of every test of a session ask the same question.
_Found = dict[tuple[str | None, str | None], "SessionSpec"]
_detected: weakref.WeakKeyDictionary[Any, _Found] = weakref.WeakKeyDictionary()


def detect_session(dependency: Any, named: str | None = None, rootdir: str | None = None) -> SessionSpec:
    """The :class:`SessionSpec` for the app's dependency (see the module docstring for the order)."""
    try:
        per_dependency = _detected.setdefault(dependency, {})
    except TypeError:  # a dependency that takes no weak reference: read it each time
        return _detect_session(dependency, named, rootdir)
    key = (named, rootdir)
    if key not in per_dependency:
        per_dependency[key] = _detect_session(dependency, named, rootdir)
    return per_dependency[key]


def _detect_session(dependency: Any, named: str | None, rootdir: str | None) -> SessionSpec:
    is_async = _is_async_dependency(dependency)
    base = _session_base(is_async)
    makers = _makers()
    if named:
        from pytest_xaio.resolve import resolve_object

        obj = resolve_object(named, setting="xaio_db_session_class", rootdir=rootdir)
        if isinstance(obj, makers):
            return _from_maker(obj, is_async)
        if not (isinstance(obj, type) and issubclass(obj, base)):
            config_error(
                f"xaio_db_session_class {named!r} is {obj!r}, not a subclass of {base.__module__}.{base.__name__}",
                "name the Session class the app's dependency yields (module:Class), or its sessionmaker",
            )
        return SessionSpec(obj, {}, is_async)
    referenced = _referenced(dependency)
    for obj in referenced:
        if isinstance(obj, makers):
            return _from_maker(obj, is_async)
    yielded = _yielded_type(dependency)
    if yielded is not None and issubclass(yielded, base):
        return SessionSpec(yielded, {}, is_async)
    for obj in referenced:
        if isinstance(obj, type) and issubclass(obj, base):
            return SessionSpec(obj, {}, is_async)
    return SessionSpec(None, {}, is_async)


def session_override(database: Any, dependency: Any, named: str | None = None, rootdir: str | None = None) -> Any:
    """The callable to put in ``app.dependency_overrides[dependency]`` for a sync dependency.

    It yields the same sync session the app's dependency would, but is itself an async generator:
    FastAPI runs a sync generator dependency in its thread pool, two thread hops per request (in
    and out), while making a session does no I/O and closing it is one rollback to a savepoint on
    the test's own connection, which nothing else is waiting on. (Outside FastAPI:
    ``session = await override().__anext__()``.)

    Async dependencies are served by ``pytest_xaio.postgres.aio`` (the async session on the test's
    async connection); :func:`detect_session` still tells them apart.
    """
    spec = detect_session(dependency, named, rootdir)
    if spec.is_async:
        raise ValueError(f"{dependency!r} is an async dependency: pytest_xaio.postgres.aio serves it")

    async def _dependency() -> AsyncIterator[Any]:
        session = database.session(session_class=spec.session_class, **spec.options)
        try:
            yield session
        finally:
            session.close()

    return _dependency
