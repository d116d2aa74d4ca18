"""The environment an app (or its migrations) gets for one database: DATABASE_URL, PG* and ``xaio_env``.

The same rendering serves the test process (the worker's database) and the interpreter that runs
the migrations (the template database), so a settings module reads the same names in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from pytest_xaio.errors import config_error

__all__ = ["database_env", "render_env_lines"]


def database_env(url: str, lines: Sequence[str], redis_url: str | None = None) -> dict[str, str]:
    """``DATABASE_URL``, ``PGHOST``/``PGPORT``/``PGUSER``/``PGDATABASE``/``PGPASSWORD`` for ``url``, then
    the ``xaio_env`` lines with ``{url} {host} {port} {user} {password} {dbname} {redis_url}`` filled in."""
    parts = urlsplit(url)
    user_info, _, _ = parts.netloc.rpartition("@")
    user, _, password = user_info.partition(":")
    values = {
        "url": url,
        "host": parts.hostname or "",
        "port": str(parts.port or 5432),
        "user": unquote(user),
        "password": unquote(password),
        "dbname": unquote(parts.path.lstrip("/")),
    }
    env = {
        "DATABASE_URL": url,
        "PGHOST": values["host"],
        "PGPORT": values["port"],
        "PGUSER": values["user"],
        "PGDATABASE": values["dbname"],
    }
    if values["password"]:
        env["PGPASSWORD"] = values["password"]
    values["redis_url"] = redis_url or ""
    env.update(render_env_lines(lines, values))
    return env


def render_env_lines(lines: Sequence[str], values: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in lines:
        name, sep, template = line.partition("=")
        if not sep or not name.strip():
            config_error(f"xaio_env line {line!r} is not NAME=VALUE", "write each line as NAME=VALUE")
        try:
            env[name.strip()] = template.strip().format(**values)
        except KeyError as exc:
            config_error(
                f"xaio_env line {line!r} uses {{{exc.args[0]}}}, which is not known",
                "use {url} {host} {port} {user} {password} {dbname} or {redis_url}",
            )
    return env
