"""The neutral request and response every transport hook converts to and from, and the two ways a
user describes a fake host: a route table or an ASGI app.

Standard library only: this module is imported even when the fakes are off.
"""

from __future__ import annotations

import json as jsonlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

__all__ = ["AsgiFake", "Fake", "FakeRequest", "FakeResponse", "RouteTable", "as_fake", "decode_form"]


@dataclass
class FakeRequest:
    """One outbound request as a fake sees it (headers have lower-case names)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body or b"null")

    def form(self) -> dict[str, Any]:
        """The body (or for GET the query) decoded as a form, with Stripe-style ``a[b][0]`` nesting."""
        raw = urlsplit(self.url).query if self.method in ("GET", "DELETE") else self.text()
        return decode_form(raw)

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


@dataclass
class FakeResponse:
    """What a fake answers: a status, headers and a body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> FakeResponse:
        all_headers = {"content-type": "application/json"}
        all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
        return cls(status, all_headers, jsonlib.dumps(data).encode())

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> FakeResponse:
        return cls(status, {"content-type": f"{content_type}; charset=utf-8"}, text.encode())

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Unknown"

    def header_items(self) -> list[tuple[str, str]]:
        items = [(k, v) for k, v in self.headers.items() if k.lower() != "content-length"]
        return [*items, ("content-length", str(len(self.body)))]


@runtime_checkable
class Fake(Protocol):
    """Anything with ``handle(request) -> FakeResponse`` can answer a host."""

    def handle(self, request: FakeRequest) -> FakeResponse: ...


def decode_form(raw: str) -> dict[str, Any]:
    """``a=1&m[k]=v&items[0][price]=p&expand[]=x`` → nested dicts and lists, as Stripe reads them."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        head, _, brackets = key.partition("[")
        rest = re.findall(r"\[([^\]]*)\]", "[" + brackets) if brackets else []
        node: Any = result
        path = [head, *rest]
        for i, part in enumerate(path):
            last = i == len(path) - 1
            nxt_is_list = not last and (path[i + 1] == "" or path[i + 1].isdigit())
            if isinstance(node, list):
                idx = len(node) if part == "" else int(part)
                while len(node) <= idx:
                    node.append(None)
                if last:
                    node[idx] = value
                else:
                    if node[idx] is None:
                        node[idx] = [] if nxt_is_list else {}
                    node = node[idx]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if nxt_is_list else {})
    return result


Handler = Callable[..., Any]


class RouteTable:
    """A fake host described as ``{"GET /v1/items/{id}": handler_or_value}``.

    A handler is called with the :class:`FakeRequest` and the path parameters as keyword arguments
    and returns a :class:`FakeResponse`, a ``(status, json)`` pair, or anything JSON-serialisable
    (answered with 200). A value that is not callable is answered as is. Unmatched requests get a
    404 that names the route table, so a missing route is obvious in the test's output.
    """

    def __init__(self, routes: Mapping[str, Any], name: str = "route table") -> None:
        self.name = name
        self.requests: list[FakeRequest] = []
        self._routes: list[tuple[str, re.Pattern[str], Any]] = []
        for spec, target in routes.items():
            method, _, path = spec.strip().partition(" ") if " " in spec.strip() else ("*", "", spec)
            pattern = re.sub(
                r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(path.strip()).replace(r"\{", "{").replace(r"\}", "}")
            )
            self._routes.append((method.upper(), re.compile(f"^{pattern}$"), target))

    def handle(self, request: FakeRequest) -> FakeResponse:
        self.requests.append(request)
        for method, pattern, target in self._routes:
            match = pattern.match(request.path)
            if match and method in ("*", request.method):
                result = target(request, **match.groupdict()) if callable(target) else target
                return to_response(result)
        return FakeResponse.json({"error": f"no route for {request.method} {request.path} in {self.name}"}, 404)


def to_response(result: Any) -> FakeResponse:
    if isinstance(result, FakeResponse):
        return result
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
        return FakeResponse.json(result[1], result[0])
    if isinstance(result, (bytes, str)):
        return FakeResponse(200, {}, result.encode() if isinstance(result, str) else result)
    return FakeResponse.json(result)


AsgiApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]


class AsgiFake:
    """A fake host answered by an ASGI app (a small FastAPI or Starlette app, for instance)."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app
        self.requests: list[FakeRequest] = []

    async def ahandle(self, request: FakeRequest) -> FakeResponse:
        self.requests.append(request)
        parts = urlsplit(request.url)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": parts.scheme,
            "path": parts.path or "/",
            "raw_path": (parts.path or "/").encode(),
            "query_string": parts.query.encode(),
            "headers": [(k.encode(), v.encode()) for k, v in request.headers.items()],
            "server": (request.host, request.port),
            "client": ("127.0.0.1", 0),
            "root_path": "",
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}

        response = FakeResponse(500, {}, b"")
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.status = int(message["status"])
                response.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, send)
        response.body = b"".join(chunks)
        return response

    def handle(self, request: FakeRequest) -> FakeResponse:
        """Sync callers: run the app on a loop of its own (in a thread when this one runs a loop)."""
        import asyncio  # here, not at the top: the plugin's start-up should not pay for asyncio
        import concurrent.futures

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ahandle(request))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.ahandle(request)).result()


def as_fake(target: Any, name: str = "fake") -> Fake:
    """A :class:`Fake` from a fake object, a route table (a mapping) or an ASGI app."""
    if isinstance(target, Mapping):
        return RouteTable(target, name)
    if hasattr(target, "handle"):
        return target  # type: ignore[no-any-return]
    if callable(target):
        return AsgiFake(target)
    raise TypeError(f"a fake must be a route table (dict), an ASGI app or have handle(request); got {target!r}")
