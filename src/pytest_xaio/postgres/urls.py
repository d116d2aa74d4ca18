"""Reading a Postgres URL the way libpq will, and showing URLs without their passwords.

The remote check must judge the address the client really connects to, not the URL's text: libpq
takes the host from the query string (``?host=``), from ``hostaddr``, from a service file
(``service=`` / ``PGSERVICE``) and from the environment (``PGHOST``, ``PGHOSTADDR``, ``PGPORT``) for
whatever the URL leaves out. :func:`connect_targets` follows those same rules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pytest_xaio.errors import config_error

__all__ = ["connect_targets", "parse_postgres_url", "redact_url"]

_WRITE_IT = "write it as postgresql://user:password@host:port/dbname (escape @ : / in the password as %40 %3A %2F)"
#: Where libpq looks for the default host when none is given: a unix-socket directory.
_DEFAULT_SOCKET = "/var/run/postgresql"


def parse_postgres_url(url: str) -> dict[str, str]:
    """The URL's connection parameters (psycopg's own parser), or one clear error."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    # SQLAlchemy-style URLs (postgresql+psycopg://) are common in app settings; libpq wants the plain scheme.
    scheme, sep, rest = url.partition("://")
    plain = f"{scheme.split('+')[0]}{sep}{rest}" if sep else url
    if sep:
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        if authority.count("@") > 1:
            config_error(
                f"the Postgres URL {redact_url(url)!r} has more than one @ before the host: an @ in the "
                "password must be escaped, or the rest of the password is read as the host",
                _WRITE_IT,
            )
    try:
        info = {k: str(v) for k, v in conninfo_to_dict(plain).items() if v is not None}
    except psycopg.Error as exc:
        config_error(f"cannot parse the Postgres URL {redact_url(url)!r}: {str(exc).strip()}", _WRITE_IT)
    if "," in info.get("host", "") or "," in info.get("hostaddr", ""):
        config_error(
            f"the Postgres URL {redact_url(url)!r} names several hosts; the plugin creates and drops its "
            "databases on one server",
            "name exactly one host in --xaio-postgres-url",
        )
    port = info.get("port", "")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        config_error(f"the Postgres URL {redact_url(url)!r} has the port {port!r}, which is not a number", _WRITE_IT)
    return info


def connect_targets(info: Mapping[str, str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The addresses (or socket directories) libpq will really connect to for ``info``.

    Precedence is libpq's: the URL's own value, then the service file's, then the ``PG*`` variable.
    ``hostaddr`` wins over ``host`` for where the connection goes.
    """
    env = os.environ if environ is None else environ
    merged = dict(info)
    service = merged.get("service") or env.get("PGSERVICE")
    if service:
        for key, value in _service(service, env).items():
            merged.setdefault(key, value)
    for key, var in (("host", "PGHOST"), ("hostaddr", "PGHOSTADDR"), ("port", "PGPORT")):
        if not merged.get(key) and env.get(var):
            merged[key] = env[var]
    hosts = (merged.get("host") or "").split(",")
    addrs = (merged.get("hostaddr") or "").split(",")
    targets = []
    for i in range(max(len(hosts), len(addrs))):
        addr = addrs[i].strip() if i < len(addrs) else ""
        host = hosts[i].strip() if i < len(hosts) else ""
        targets.append(addr or host or _DEFAULT_SOCKET)
    return targets


def _service(name: str, env: Mapping[str, str]) -> dict[str, str]:
    """The settings of a ``pg_service.conf`` section, searched where libpq searches."""
    import configparser  # only for a URL naming a service: not every run's import

    files = [Path(env["PGSERVICEFILE"])] if env.get("PGSERVICEFILE") else [Path.home() / ".pg_service.conf"]
    sysconf = env.get("PGSYSCONFDIR")
    files += [Path(sysconf) / "pg_service.conf"] if sysconf else [Path("/etc/postgresql-common/pg_service.conf")]
    for path in files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except (configparser.Error, OSError, UnicodeError):
            continue
        if parser.has_section(name):
            return {k.lower(): v.strip() for k, v in parser.items(name)}
    config_error(
        f"the Postgres service {name!r} (service= or PGSERVICE) is in none of {', '.join(map(str, files))}",
        "define it in ~/.pg_service.conf, or unset PGSERVICE and give the host in the URL",
    )


_CONNINFO_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*")


def redact_url(url: str) -> str:
    """The URL (or ``key=value`` conninfo) with its password shown as ``***``, for messages.

    Never raises: a URL too broken to parse is still redacted by its shape.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _CONNINFO_PASSWORD.sub(r"\1***", url)
    authority, tail = _split_authority(rest)
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        authority = f"{userinfo}@{host}"
    redacted = scheme + sep + authority + _QUERY_PASSWORD.sub(r"\1***", tail)
    password = _parsed_password(url) if scheme.split("+")[0] in ("postgresql", "postgres") else None
    if password and len(password) > 2:
        redacted = redacted.replace(password, "***")  # whatever form libpq read it in
    return redacted


def _split_authority(rest: str) -> tuple[str, str]:
    # The userinfo ends at the last @ before the query; the host part at the next / ? #.
    last_at = rest.rfind("@", 0, _first_of(rest, "?#", 0))
    start = last_at + 1 if last_at >= 0 else 0
    end = _first_of(rest, "/?#", start)
    return rest[:end], rest[end:]


def _first_of(text: str, chars: str, start: int) -> int:
    found = [i for i in (text.find(c, start) for c in chars) if i >= 0]
    return min(found) if found else len(text)


def _parsed_password(url: str) -> str | None:
    try:
        from psycopg.conninfo import conninfo_to_dict

        scheme, sep, rest = url.partition("://")
        value = conninfo_to_dict(f"{scheme.split('+')[0]}{sep}{rest}").get("password")
    except Exception:  # redaction must never fail: the shape-based mask above still applies
        return None
    return str(value) if value else None
