"""The one rule for "is this host this machine?", shared by the Postgres and Redis URL checks and the
network guard.

This machine is: unix-socket paths, ``localhost`` (any case, ``*.localhost`` included), the machine's
own host name, loopback and unspecified addresses, and any address a socket can bind to here (an
address of one of this machine's interfaces). With ``resolve=True`` (the URL checks) a name is also
looked up and counts as local when every address it resolves to is local; the network guard never
resolves, because a lookup is itself traffic.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

__all__ = ["LOCAL_NAMES", "is_local_address", "is_local_host", "own_host_names"]

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def own_host_names() -> set[str]:
    """This machine's own host name (and its first label), lower case."""
    name = socket.gethostname().lower().rstrip(".")
    return {name, name.split(".", 1)[0]} - {""}


def is_local_address(address: str) -> bool:
    """Whether an IP address literal is this machine's."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if ip.is_loopback or ip.is_unspecified:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_local_address(str(ip.ipv4_mapped))
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    # Binding sends nothing: it succeeds only for an address of one of this machine's interfaces.
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((str(ip), 0))
        return True
    except OSError:
        return False


def is_local_host(host: str, *, resolve: bool = False) -> bool:
    """Whether ``host`` (a name, an address literal, or a unix-socket path) is this machine."""
    text = host.strip()
    if text.startswith(("/", "@")):  # a socket directory or file (or a Linux abstract socket)
        return True
    name = text.strip("[]").lower().rstrip(".")
    if not name:
        return False
    if name in LOCAL_NAMES or name.endswith(".localhost") or name in own_host_names():
        return True
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(name.split("%", 1)[0])
        return is_local_address(name)
    if not resolve:
        return False
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(is_local_address(a) for a in addresses)
