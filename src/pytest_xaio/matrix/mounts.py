"""Walking an app's route table for the matrix: FastAPI's API routes, those of FastAPI sub-apps
mounted with ``app.mount()`` (under the mount's prefix), and a line for each thing the matrix does not
send requests to (websockets, other mounted apps, plain Starlette routes), so the end-of-run table
can name it instead of passing over it in silence.

FastAPI and Starlette are imported inside the functions (the plugin must load without them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FoundRoute", "fastapi_inside", "walk_app"]

_MAX_DEPTH = 8


@dataclass(frozen=True)
class FoundRoute:
    """An API route, the mount prefix in front of its path and the FastAPI app it belongs to."""

    route: Any
    prefix: str = ""
    owner: Any = field(default=None, repr=False, compare=False)  # the sub-app, None for the app's own routes

    @property
    def path(self) -> str:
        return self.prefix + str(self.route.path)


def fastapi_inside(app: Any) -> Any:
    """The FastAPI app itself, looking through middleware wrappers that keep it in ``.app``; else None."""
    from fastapi import FastAPI

    current = app
    for _ in range(20):
        if current is None:
            return None
        if isinstance(current, FastAPI):
            return current
        current = getattr(current, "app", None)
    return None


def walk_app(app: Any) -> tuple[list[FoundRoute], list[str]]:
    """The API routes of ``app`` (a FastAPI instance) and its mounted FastAPI sub-apps, in route order,
    and one line per route the matrix does not cover, saying why."""
    found: list[FoundRoute] = []
    notes: list[str] = []
    _walk(app, "", None, found, notes, 0)
    return found, notes


def _walk(app: Any, prefix: str, owner: Any, found: list[FoundRoute], notes: list[str], depth: int) -> None:
    from fastapi import routing
    from starlette.routing import Host, Mount, Route, WebSocketRoute

    own_docs = _docs_paths(app)
    for context in _contexts(app.routes):
        route = getattr(context, "original_route", context)
        path = prefix + str(getattr(context, "path", "") or "")
        if isinstance(route, routing.APIRoute):
            found.append(FoundRoute(context, prefix, owner))
        elif isinstance(route, WebSocketRoute):
            notes.append(
                f"websocket {path}: not covered (the matrix sends HTTP requests; test it with websocket_connect)"
            )
        elif isinstance(route, Mount):
            sub = fastapi_inside(route.app)
            mount_path = prefix + str(route.path)
            if sub is not None and "{" not in route.path and depth < _MAX_DEPTH:
                _walk(sub, mount_path, sub, found, notes, depth + 1)
            elif sub is not None:
                notes.append(f"mount {mount_path}: not covered (a mount path with parameters)")
            else:
                kind = type(route.app).__name__ if route.app is not None else "routes"
                notes.append(
                    f"mount {mount_path or '/'} ({kind}): not covered (the matrix reads FastAPI routes; "
                    "mount a FastAPI app there to have its routes tested)"
                )
        elif isinstance(route, Host):
            notes.append(f"host {route.host}: not covered (the matrix reads FastAPI routes, not Host routing)")
        elif isinstance(route, Route) and str(route.path) not in own_docs:
            methods = ",".join(sorted(m for m in (route.methods or ()) if m != "HEAD")) or "ANY"
            notes.append(f"{methods} {path}: not covered (a Starlette Route, not a FastAPI APIRoute)")


def _contexts(routes: Sequence[Any]) -> Iterator[Any]:
    """Routes, with those of included routers (newer FastAPI keeps these as route contexts)."""
    from fastapi import routing

    iter_contexts = getattr(routing, "iter_route_contexts", None)
    if iter_contexts is None:
        yield from routes
        return
    yield from iter_contexts(routes)


def _docs_paths(app: Any) -> set[str]:
    """FastAPI's own pages (OpenAPI schema, Swagger UI, ReDoc): not the app's API."""
    names = ("openapi_url", "docs_url", "redoc_url", "swagger_ui_oauth2_redirect_url")
    return {str(getattr(app, name)) for name in names if getattr(app, name, None)}
