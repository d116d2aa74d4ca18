"""Who answers an outbound request: a fake, the real network (local or allowed hosts), or nobody.

:class:`Externals` is the per-test switchboard every transport hook asks. A request to a host that
is neither faked, local nor allowed is recorded and refused with :class:`BlockedRequestError`; the
plugin then fails the test with the same message even if the app swallowed the exception.
The socket guard (:mod:`pytest_xaio.externals.netguard`) is the last line of defence for code that
bypasses every known HTTP client.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pytest_xaio.externals.http import Fake, FakeRequest, FakeResponse, as_fake
from pytest_xaio.hosts import is_local_host

__all__ = [
    "BlockedRequestError",
    "Externals",
    "LiveStripeKeyError",
    "find_live_key",
    "is_local_host",
]

_LIVE_KEY = re.compile(r"\b(?:sk|rk)_live_[A-Za-z0-9]{4,}")

#: Set while a hook hands an allowed request to the real client, so the socket guard lets it through.
_passthrough: contextvars.ContextVar[bool] = contextvars.ContextVar("xaio_passthrough", default=False)


class BlockedRequestError(RuntimeError):
    """An outbound request to a host that is neither faked, local nor allowed."""


class LiveStripeKeyError(RuntimeError):
    """A live Stripe secret key where tests must only ever see test keys."""


def blocked_message(method: str, url: str) -> str:
    host = _host_of(url)
    return (
        f"pytest-xaio blocked an outbound request: {method.upper()} {url}\n"
        f"  externals are mocked, and {host!r} is neither faked nor local.\n"
        f"  allow it: xaio_allow_hosts = {host}   (ini, or --xaio-allow-hosts={host})\n"
        f'  or fake it: xaio_externals.add_fake({host!r}, {{"GET /path": {{...}}}})  (see docs/externals.md)'
    )


def live_key_message(where: str) -> str:
    return (
        f"pytest-xaio refused a live Stripe key (sk_live_…/rk_live_…) in {where}.\n"
        "  tests must never hold live credentials: use a test key (sk_test_…) in the test environment"
    )


def find_live_key(text: str | None) -> bool:
    return bool(text) and _LIVE_KEY.search(text or "") is not None


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower()


class HostPatterns:
    """``xaio_allow_hosts`` lines: ``host``, ``host:port`` or globs such as ``*.internal``."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [p.strip().lower() for p in patterns if p.strip()]

    def matches(self, host: str, port: int | None = None) -> bool:
        host = host.lower().strip("[]")
        for pattern in self.patterns:
            name, _, want_port = pattern.rpartition(":") if pattern.count(":") == 1 else (pattern, "", "")
            if want_port and port is not None and str(port) != want_port:
                continue
            if fnmatch.fnmatchcase(host, name or pattern):
                return True
        return False


class Externals:
    """The switchboard of one test: fakes by host, allowed hosts, and what was faked or blocked.

    Use it through the ``xaio_externals`` fixture::

        def test_weather(xaio_externals, xaio_client):
            xaio_externals.add_fake("api.weather.example", {"GET /v1/today": {"temp": 21}})
            assert xaio_client.get("/api/forecast").json()["temp"] == 21
    """

    def __init__(self, allow_hosts: Iterable[str] = ()) -> None:
        self.allow = HostPatterns(allow_hosts)
        self.fakes: dict[str, Fake] = {}
        self.requests: list[FakeRequest] = []
        self.blocked: list[str] = []
        self.live_key_errors: list[str] = []

    # --- the documented API -------------------------------------------------------------------
    def add_fake(self, host: str, fake: Any) -> Fake:
        """Answer every request to ``host`` with ``fake``: an object with ``handle(request)``,
        a route table ``{"METHOD /path/{param}": handler_or_json}``, or an ASGI app."""
        made = as_fake(fake, name=f"the fake for {host}")
        self.fakes[host.lower()] = made
        return made

    def allow_host(self, host: str) -> None:
        """Let requests to ``host`` (a name or glob) reach the real network for this test."""
        self.allow.patterns.append(host.lower())

    def requests_to(self, host: str) -> list[FakeRequest]:
        return [r for r in self.requests if r.host == host.lower()]

    # --- used by the transport hooks ----------------------------------------------------------
    def route(self, method: str, url: str, headers: Mapping[str, str]) -> Fake | None:
        """The fake for this request, or None when it may go to the real network; raises when refused."""
        auth = " ".join(v for k, v in headers.items() if k.lower() in ("authorization", "stripe-account"))
        if find_live_key(auth) or find_live_key(url):
            message = live_key_message(f"a request to {method.upper()} {url}")
            self.live_key_errors.append(message)
            raise LiveStripeKeyError(message)
        parts_host = _host_of(url)
        fake = self.fakes.get(parts_host)
        if fake is not None:
            return fake
        if is_local_host(parts_host) or self.allow.matches(parts_host, _port_of(url)):
            return None
        message = blocked_message(method, url)
        self.blocked.append(message)
        raise BlockedRequestError(message)

    def answer(self, fake: Fake, request: FakeRequest) -> FakeResponse:
        self.requests.append(request)
        return fake.handle(request)

    async def aanswer(self, fake: Fake, request: FakeRequest) -> FakeResponse:
        self.requests.append(request)
        ahandle = getattr(fake, "ahandle", None)
        if ahandle is not None:
            result: FakeResponse = await ahandle(request)
            return result
        return fake.handle(request)

    @contextlib.contextmanager
    def passthrough(self) -> Iterator[None]:
        token = _passthrough.set(True)
        try:
            yield
        finally:
            _passthrough.reset(token)

    def socket_allowed(self, host: str, port: int | None) -> bool:
        return _passthrough.get() or is_local_host(host) or self.allow.matches(host, port)


def _port_of(url: str) -> int:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme in ("https", "wss") else 80)


def live_key_in_config(env: Mapping[str, str] | None = None) -> str | None:
    """Where a live Stripe key sits in the process's config (environment, ``stripe.api_key``)."""
    environ = os.environ if env is None else env
    for name, value in environ.items():
        if find_live_key(value):
            return f"the environment variable ${name}"
    stripe = sys.modules.get("stripe")
    if stripe is not None and find_live_key(str(getattr(stripe, "api_key", "") or "")):
        return "stripe.api_key"
    return None
