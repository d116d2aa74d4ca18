"""One narrow hook per HTTP library, at the point where a request leaves for the network.

Each hook turns the library's request into a :class:`FakeRequest`, asks the :class:`Externals`
switchboard who answers, and either returns the fake's answer as the library's own response type or
calls the original method (local and allowed hosts). Only the transport layer is patched, so
everything above it (auth, redirects, retries, the Stripe SDK's error mapping) runs for real:

- httpx 0.28 and httpx2: ``HTTPTransport.handle_request`` / ``AsyncHTTPTransport.handle_async_request``
  (Starlette's TestClient and ``ASGITransport`` use other transports and are never touched);
- urllib3 (and so requests and the Stripe SDK's default client): ``HTTPConnectionPool.urlopen``;
- urllib.request (the Stripe SDK's fallback client): ``AbstractHTTPHandler.do_open``;
- aiohttp: ``TCPConnector._create_connection`` hands aiohttp an in-memory connection to the fake, so
  aiohttp's own parser builds the response.

Libraries are imported here, inside the install functions, only when externals are switched on.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sys
from collections.abc import Callable
from typing import Any

from pytest_xaio.externals.guard import BlockedRequestError, Externals
from pytest_xaio.externals.http import Fake, FakeRequest, FakeResponse
from pytest_xaio.patching import Patcher

__all__ = ["INSTALLERS", "install_all"]


def _lower(headers: Any) -> dict[str, str]:
    items = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, str] = {}
    for key, value in items:
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        v = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        out[k.lower()] = f"{out[k.lower()]}, {v}" if k.lower() in out else v
    return out


class _Below:
    """The answer comes from below the transport hook (a project's respx router)."""


_BELOW = _Below()


# --- httpx 0.28 and httpx2 share one shape ----------------------------------------------------------
def _install_httpx_like(module_name: str, externals: Externals, patcher: Patcher) -> None:
    mod = __import__(module_name)

    def convert(request: Any, body: bytes) -> FakeRequest:
        return FakeRequest(request.method, str(request.url), _lower(request.headers.raw), body)

    def respond(answer: FakeResponse, request: Any) -> Any:
        return mod.Response(answer.status, headers=answer.header_items(), content=answer.body, request=request)

    sync_original: Callable[..., Any] = mod.HTTPTransport.handle_request
    async_original: Callable[..., Any] = mod.AsyncHTTPTransport.handle_async_request

    def route(request: Any) -> Fake | _Below | None:
        """The fake, None (the real network), or _BELOW: a started respx router answers below us
        (its pass_through still meets the socket guard)."""
        try:
            return externals.route(request.method, str(request.url), _lower(request.headers.raw))
        except BlockedRequestError:
            if not _respx_routing(module_name):
                raise
            externals.blocked.pop()
            return _BELOW

    def handle_request(self: Any, request: Any) -> Any:
        fake = route(request)
        if isinstance(fake, _Below):
            return sync_original(self, request)
        if fake is None:
            with externals.passthrough():
                return sync_original(self, request)
        return respond(externals.answer(fake, convert(request, request.read())), request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        fake = route(request)
        if isinstance(fake, _Below):
            return await async_original(self, request)
        if fake is None:
            with externals.passthrough():
                return await async_original(self, request)
        body = await request.aread()
        return respond(await externals.aanswer(fake, convert(request, body)), request)

    patcher.setattr(mod.HTTPTransport, "handle_request", handle_request)
    patcher.setattr(mod.AsyncHTTPTransport, "handle_async_request", handle_async_request)


def _respx_routing(module_name: str) -> bool:
    """True while a project's respx router is started (``respx.mock``, the ``respx_mock`` fixture).

    respx's default mocker answers at httpcore, below the transport hook: a host the fakes do not
    own is handed to it instead of being refused. respx refuses requests no route matches
    (``assert_all_mocked``), and a route's ``pass_through`` still meets the socket guard.
    """
    mocks = sys.modules.get("respx.mocks")
    if module_name != "httpx" or mocks is None:
        return False
    return any(getattr(mocker, "routers", None) for mocker in (mocks.HTTPCoreMocker, mocks.HTTPXMocker))


def install_httpx(externals: Externals, patcher: Patcher) -> None:
    _install_httpx_like("httpx", externals, patcher)


def install_httpx2(externals: Externals, patcher: Patcher) -> None:
    _install_httpx_like("httpx2", externals, patcher)


# --- urllib3 (requests, the Stripe SDK's RequestsClient) ---------------------------------------------
def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)


def install_urllib3(externals: Externals, patcher: Patcher) -> None:
    import urllib3
    from urllib3.connectionpool import HTTPConnectionPool

    original: Callable[..., Any] = HTTPConnectionPool.urlopen

    def urlopen(
        self: Any, method: str, url: str, body: Any = None, headers: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        if url.startswith(("http://", "https://")):  # through a proxy the pool gets absolute URLs
            full = url
        else:
            default = 443 if self.scheme == "https" else 80
            netloc = self.host if self.port in (None, default) else f"{self.host}:{self.port}"
            full = f"{self.scheme}://{netloc}{url}"
        fake = externals.route(method, full, _lower(headers or {}))
        if fake is None:
            with externals.passthrough():
                return original(self, method, url, body, headers, *args, **kwargs)
        answer = externals.answer(fake, FakeRequest(method.upper(), full, _lower(headers or {}), _body_bytes(body)))
        return urllib3.HTTPResponse(
            body=io.BytesIO(answer.body),
            headers=dict(answer.header_items()),
            status=answer.status,
            reason=answer.reason,
            preload_content=kwargs.get("preload_content", True),
            decode_content=kwargs.get("decode_content", True),
            request_method=method,
            request_url=full,
            version=11,
            version_string="HTTP/1.1",
        )

    patcher.setattr(HTTPConnectionPool, "urlopen", urlopen)


# --- urllib.request (the Stripe SDK's UrllibClient) --------------------------------------------------
def install_urllib(externals: Externals, patcher: Patcher) -> None:
    import http.client
    import urllib.request
    import urllib.response

    original: Callable[..., Any] = urllib.request.AbstractHTTPHandler.do_open

    def do_open(self: Any, http_class: Any, req: Any, **kwargs: Any) -> Any:
        headers = {**req.unredirected_hdrs, **req.headers}
        fake = externals.route(req.get_method(), req.full_url, _lower(headers))
        if fake is None:
            with externals.passthrough():
                return original(self, http_class, req, **kwargs)
        answer = externals.answer(
            fake, FakeRequest(req.get_method().upper(), req.full_url, _lower(headers), _body_bytes(req.data))
        )
        raw = "".join(f"{k}: {v}\r\n" for k, v in answer.header_items()) + "\r\n"
        message = http.client.parse_headers(io.BytesIO(raw.encode("latin-1")))
        response = urllib.response.addinfourl(io.BytesIO(answer.body), message, req.full_url, answer.status)
        response.msg = answer.reason  # type: ignore[attr-defined]
        return response

    patcher.setattr(urllib.request.AbstractHTTPHandler, "do_open", do_open)


# --- aiohttp ------------------------------------------------------------------------------------
class _FakeConnection(asyncio.Transport):
    """An in-memory connection: parses what aiohttp writes, answers with the fake's raw HTTP bytes."""

    def __init__(self, protocol: Any, externals: Externals, fake: Any, base_url: str) -> None:
        super().__init__()
        self._protocol = protocol
        self._externals = externals
        self._fake = fake
        self._base_url = base_url
        self._buffer = b""
        self._closing = False
        self._pending: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()  # made inside the connector's coroutine

    def write(self, data: Any) -> None:
        self._buffer += bytes(data)
        request = self._parse()
        if request is not None:
            self._pending = self._loop.create_task(self._answer(request))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    async def _answer(self, request: FakeRequest) -> None:
        try:
            answer = await self._externals.aanswer(self._fake, request)
        except Exception as exc:
            self._protocol.connection_lost(exc)
            return
        head = f"HTTP/1.1 {answer.status} {answer.reason}\r\n"
        headers = [(k, v) for k, v in answer.header_items() if k.lower() != "connection"]
        head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "connection: close\r\n\r\n"
        if not self._closing:
            self._protocol.data_received(head.encode("latin-1") + answer.body)

    def _parse(self) -> FakeRequest | None:
        head, sep, rest = self._buffer.partition(b"\r\n\r\n")
        if not sep:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        if lines[0].count(" ") < 2:
            self._buffer = b""
            return None
        headers = _lower((k, v.strip()) for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body, done = _dechunk(rest)
            if not done:
                return None
        else:
            length = int(headers.get("content-length", "0"))
            if len(rest) < length:
                return None
            body = rest[:length]
        self._buffer = b""
        return FakeRequest(method.upper(), self._base_url + target, headers, body)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    body = b""
    while True:
        size_line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return body, False
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body, True
        if len(rest) < size + 2:
            return body, False
        body += rest[:size]
        data = rest[size + 2 :]


def install_aiohttp(externals: Externals, patcher: Patcher) -> None:
    import aiohttp

    original: Callable[..., Any] = aiohttp.TCPConnector._create_connection

    async def _create_connection(self: Any, req: Any, traces: Any, timeout: Any) -> Any:
        url = str(req.url)
        fake = externals.route(req.method, url, _lower(req.headers))
        if fake is None:
            with externals.passthrough():
                return await original(self, req, traces, timeout)
        protocol = self._factory()
        origin = f"{req.url.scheme}://{req.url.raw_authority}"
        protocol.connection_made(_FakeConnection(protocol, externals, fake, origin))
        return protocol

    patcher.setattr(aiohttp.TCPConnector, "_create_connection", _create_connection)


INSTALLERS: dict[str, Callable[[Externals, Patcher], None]] = {
    "httpx": install_httpx,
    "httpx2": install_httpx2,
    "urllib3": install_urllib3,
    "urllib": install_urllib,
    "aiohttp": install_aiohttp,
}


def install_all(externals: Externals, patcher: Patcher) -> list[str]:
    """Hook every installed HTTP library; returns the names hooked."""
    hooked = []
    for name, install in INSTALLERS.items():
        if name != "urllib" and importlib.util.find_spec(name) is None:
            continue
        install(externals, patcher)
        hooked.append(name)
    return hooked
