"""FastAPI's dependency tree built once per override, not once per request.

While ``app.dependency_overrides`` is not empty, FastAPI's ``solve_dependencies`` rebuilds every
sub-dependency of the route on every request, overridden or not: for each one ``get_dependant``
reads the callable's signature and analyses its parameters again. Every client of this plugin puts
the app's DB dependency in ``dependency_overrides`` (:mod:`pytest_xaio.app_db`), so every request
of every test paid for it: on the 15-route app of ``bench/bench_matrix.py`` about six rebuilds per
request and a fifth of the app's time per request.

:func:`remember_dependants` makes ``get_dependant`` remember what it built for those calls, keyed
by the callable (the override in force, or the app's own) and the other arguments. The result is
what FastAPI would build, by FastAPI's own function from the same arguments; FastAPI only reads it,
as it reads the dependants it keeps on each route for every request. Only calls made by
``solve_dependencies`` are remembered: when FastAPI builds a route, it changes the dependant it was
given afterwards, and a shared one would carry that change to other routes.

A user's own override made anew in each test (a lambda) adds an entry per test; the oldest entries
go once :data:`MAX_ENTRIES` are held, so the memory stays bounded and nothing is ever wrong, only
built again.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pytest_xaio.patching import Patcher

__all__ = ["MAX_ENTRIES", "remember_dependants"]

#: Dependants held at most; the least recently used go first.
MAX_ENTRIES = 2048


def _key(kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """A hashable key for ``get_dependant``'s keyword arguments (the callable by identity), or None."""
    parts: list[Any] = []
    for name in sorted(kwargs):
        value = kwargs[name]
        if name == "call":
            value = id(value)
        elif isinstance(value, list):  # the OAuth scopes
            value = tuple(value)
        parts.append((name, value))
    key = tuple(parts)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _remembering(original: Callable[..., Any], solve_code: Any) -> Callable[..., Any]:
    cache: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = OrderedDict()

    def get_dependant(*args: Any, **kwargs: Any) -> Any:
        # Only solve_dependencies' per-request rebuilds; a route's own dependant is built elsewhere.
        if args or sys._getframe(1).f_code is not solve_code or "call" not in kwargs:
            return original(*args, **kwargs)
        key = _key(kwargs)
        if key is None:
            return original(**kwargs)
        call = kwargs["call"]
        held = cache.get(key)
        if held is not None and held[0] is call:  # the callable is kept alive below: its id is its own
            cache.move_to_end(key)
            return held[1]
        built = original(**kwargs)
        cache[key] = (call, built)
        if len(cache) > MAX_ENTRIES:
            cache.popitem(last=False)
        return built

    get_dependant.xaio_remembering = True  # type: ignore[attr-defined]
    return get_dependant


def remember_dependants(patcher: Patcher) -> bool:
    """Patch FastAPI (when it is imported) so its per-request rebuilds are remembered, until
    ``patcher`` is undone; False when FastAPI is not there or its internals are not as expected."""
    module = sys.modules.get("fastapi.dependencies.utils")
    original = getattr(module, "get_dependant", None)
    solve = getattr(module, "solve_dependencies", None)
    solve_code = getattr(solve, "__code__", None)
    if module is None or not callable(original) or solve_code is None:
        return False
    if getattr(original, "xaio_remembering", False):
        return True  # an enclosing session (a pytester run in-process) patched it already
    patcher.setattr(module, "get_dependant", _remembering(original, solve_code))
    return True
