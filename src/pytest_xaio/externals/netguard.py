"""The socket-level guard: the last line of defence behind the HTTP transport hooks.

While a test with externals runs, Python code cannot reach a host that is neither local, faked nor
allowed:

- ``connect`` / ``connect_ex`` to such an address are refused, on ``socket.socket`` and on the C-level
  ``_socket.socket`` class (code that builds that one directly gets a guarded subclass);
- ``sendto`` / ``sendmsg`` with such an address are refused: UDP datagrams, and TCP Fast Open
  (``sendto(data, MSG_FASTOPEN, address)`` connects and sends at once);
- name lookups of such a host are refused before they leave: ``getaddrinfo`` (and so
  ``socket.create_connection`` and asyncio's ``loop.getaddrinfo``), ``gethostbyname(_ex)``, and
  ``gethostbyaddr`` of a non-local address. The plugin's own Postgres and Redis hosts may be looked up.

Threads started by a test's body belong to that test (pool workers excepted: they serve whichever
test runs). A thread still running after its test ended that reaches out is refused and blamed on
the test that started it, not on the test that happens to be running. What is out of reach (other
processes, C code that opens its own sockets) is listed in docs/externals.md.
"""

from __future__ import annotations

import _socket
import ipaddress
import socket
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pytest_xaio.externals.guard import BlockedRequestError, Externals
from pytest_xaio.patching import Patcher

__all__ = ["SocketGuard", "TestOwner", "owner_of", "tag_threads"]

_INET = (socket.AF_INET, socket.AF_INET6)


@dataclass(frozen=True, eq=False)
class TestOwner:
    """A test as the guard knows it: its id, its switchboard, and where to report a late refusal."""

    __test__ = False  # not a test class

    nodeid: str
    location: tuple[str, int | None, str]
    externals: Externals
    report_late: Callable[[TestOwner, str], None]


_OWNERS: weakref.WeakKeyDictionary[threading.Thread, TestOwner] = weakref.WeakKeyDictionary()


def owner_of(thread: threading.Thread) -> TestOwner | None:
    """The test whose body started ``thread`` (directly or through a thread it started), if any."""
    return _OWNERS.get(thread)


def _is_pool_worker(thread: threading.Thread) -> bool:
    """Workers of thread pools (concurrent.futures, asyncio's default executor, anyio) run work for
    whichever test is running, so they belong to no test."""
    target = getattr(thread, "_target", None)  # threading.Thread keeps the target there
    modules = (getattr(target, "__module__", None) or "", type(thread).__module__)
    return any(m.startswith(("concurrent.futures", "anyio")) for m in modules)


def tag_threads(owner: TestOwner, patcher: Patcher) -> None:
    """Until ``patcher`` is undone, every thread started belongs to ``owner`` (or, when a thread that
    already belongs to a test starts it, to that test)."""
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if not _is_pool_worker(self):
            _OWNERS[self] = owner_of(threading.current_thread()) or owner
        original_start(self)

    patcher.setattr(threading.Thread, "start", start)


def _message(what: str, host: str, late: TestOwner | None) -> str:
    lines = [
        f"pytest-xaio blocked {what}",
        "  externals are mocked: only local hosts, faked hosts and xaio_allow_hosts are reachable.",
        f"  allow it: xaio_allow_hosts = {host}   (ini, or --xaio-allow-hosts={host})",
    ]
    if late is not None:
        lines.insert(
            1,
            f"  from a thread that {late.nodeid} started and left running after it ended: "
            "stop (join) the thread before the test returns",
        )
    return "\n".join(lines)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class SocketGuard:
    """The guard of one test; :meth:`install` patches through a :class:`Patcher` the test undoes."""

    def __init__(self, owner: TestOwner, own_hosts: Iterable[str] = ()) -> None:
        self.owner = owner
        self.own_hosts = {h.lower() for h in own_hosts if h}
        self.active = False  # set through the patcher, so undoing it switches the guard off too

    # --- deciding ---------------------------------------------------------------------------------
    def _judge(self, host: str, port: int | None, what: str, *, lookup: bool = False) -> None:
        if not self.active:
            return
        owner = owner_of(threading.current_thread())
        late = owner if owner is not None and owner.nodeid != self.owner.nodeid else None
        externals = (late or self.owner).externals
        name = host.lower().strip("[]").rstrip(".")
        if externals.socket_allowed(name, port) or name in self.own_hosts:
            return
        if lookup and name in externals.fakes:  # a faked host's requests never leave; its name may be read
            return
        message = _message(what, host, late)
        if late is not None:
            late.report_late(late, message)
        else:
            externals.blocked.append(message)
        raise BlockedRequestError(message)

    def check_connect(self, sock: Any, address: Any, what: str = "a socket connection") -> None:
        if sock.family in _INET and isinstance(address, tuple):
            host, port = str(address[0]), int(address[1])
            self._judge(host, port, f"{what} to {host}:{port}")

    def check_send(self, sock: Any, address: Any, flags: int) -> None:
        if address is None:
            return
        fast_open = sock.type == socket.SOCK_STREAM and flags & getattr(socket, "MSG_FASTOPEN", 0)
        self.check_connect(sock, address, "a TCP Fast Open connection" if fast_open else "a datagram")

    def check_lookup(self, host: Any, port: Any = None, how: str = "getaddrinfo") -> None:
        if host is None:
            return
        text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        if not text or _is_address(text):  # a literal address is not looked up
            return
        self._judge(text, port if isinstance(port, int) else None, f"a name lookup of {text!r} ({how})", lookup=True)

    def check_reverse(self, host: Any) -> None:
        text = str(host)
        if _is_address(text):
            self._judge(text, None, f"a reverse lookup of {text} (gethostbyaddr)", lookup=True)
        else:
            self.check_lookup(text, how="gethostbyaddr")

    # --- installing -------------------------------------------------------------------------------
    def install(self, patcher: Patcher) -> None:
        patcher.setattr(self, "active", True)
        self._guard_socket_class(patcher, socket.socket)
        patcher.setattr(_socket, "socket", self._guarded_c_class(_socket.socket))
        self._guard_lookups(patcher)

    def _guard_socket_class(self, patcher: Patcher, cls: type[socket.socket]) -> None:
        guard = self
        connect, connect_ex, sendto, sendmsg = cls.connect, cls.connect_ex, cls.sendto, cls.sendmsg

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            guard.check_connect(sock, address)
            connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            guard.check_connect(sock, address)
            result: int = connect_ex(sock, address)
            return result

        def guarded_sendto(sock: socket.socket, data: Any, *args: Any) -> int:
            guard.check_send(sock, args[-1] if args else None, args[0] if len(args) == 2 else 0)
            result: int = sendto(sock, data, *args)
            return result

        def guarded_sendmsg(sock: socket.socket, buffers: Any, *args: Any) -> int:
            guard.check_send(sock, args[2] if len(args) > 2 else None, args[1] if len(args) > 1 else 0)
            result: int = sendmsg(sock, buffers, *args)
            return result

        for name, value in (
            ("connect", guarded_connect),
            ("connect_ex", guarded_connect_ex),
            ("sendto", guarded_sendto),
            ("sendmsg", guarded_sendmsg),
        ):
            patcher.setattr(cls, name, value)

    def _guarded_c_class(self, base: type[Any]) -> type[Any]:
        guard = self

        class GuardedSocket(base):  # type: ignore[misc]
            """``_socket.socket`` for code that bypasses ``socket.socket``: the same checks first."""

            __slots__ = ()

            def connect(self, address: Any) -> None:
                guard.check_connect(self, address)
                super().connect(address)

            def connect_ex(self, address: Any) -> int:
                guard.check_connect(self, address)
                result: int = super().connect_ex(address)
                return result

            def sendto(self, data: Any, *args: Any) -> int:
                guard.check_send(self, args[-1] if args else None, args[0] if len(args) == 2 else 0)
                result: int = super().sendto(data, *args)
                return result

            def sendmsg(self, buffers: Any, *args: Any) -> int:
                guard.check_send(self, args[2] if len(args) > 2 else None, args[1] if len(args) > 1 else 0)
                result: int = super().sendmsg(buffers, *args)
                return result

        GuardedSocket.__module__ = "_socket"
        GuardedSocket.__qualname__ = GuardedSocket.__name__ = "socket"
        return GuardedSocket

    def _guard_lookups(self, patcher: Patcher) -> None:
        guard = self
        getaddrinfo = _socket.getaddrinfo  # socket.getaddrinfo, create_connection and asyncio call this one

        def guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            guard.check_lookup(host, port)
            return getaddrinfo(host, port, *args, **kwargs)

        patcher.setattr(_socket, "getaddrinfo", guarded_getaddrinfo)
        for name, check in (
            ("gethostbyname", lambda host: guard.check_lookup(host, how="gethostbyname")),
            ("gethostbyname_ex", lambda host: guard.check_lookup(host, how="gethostbyname_ex")),
            ("gethostbyaddr", guard.check_reverse),
        ):
            original = getattr(_socket, name)
            guarded = _checked(original, check)
            for module in (_socket, socket):  # socket re-exports them: both names are patched
                patcher.setattr(module, name, guarded)


def _checked(original: Callable[..., Any], check: Callable[[Any], None]) -> Callable[..., Any]:
    def guarded(host: Any, *args: Any) -> Any:
        check(host)
        return original(host, *args)

    guarded.__name__ = getattr(original, "__name__", "guarded")
    return guarded
