"""What one pytest session (or one xdist worker) has started: servers, databases, exported env.

Everything is started on first use, so a run that never touches Postgres or Redis starts neither;
everything started is registered on one exit stack and undone in reverse order at the end.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.config import XaioSettings
from pytest_xaio.errors import config_error

if TYPE_CHECKING:
    from pytest_xaio.postgres import PostgresServer
    from pytest_xaio.postgres.databases import DatabaseOwner, OwnedDatabase
    from pytest_xaio.postgres.template import Template
    from pytest_xaio.redis import RedisServer

__all__ = ["XaioRuntime", "get_runtime", "runtime_key"]


class XaioRuntime:
    """The session's servers and databases, created lazily and torn down once."""

    def __init__(self, config: pytest.Config | None, settings: XaioSettings) -> None:
        self.config = config
        self.settings = settings
        self.exit_stack = ExitStack()
        self._postgres: PostgresServer | None = None
        self._owner: DatabaseOwner | None = None
        self._template: Template | None = None
        self._worker_db: OwnedDatabase | None = None
        self._redis: RedisServer | None = None
        self._redis_started = False
        self._env: dict[str, str] | None = None
        self._saved_env: dict[str, str | None] = {}
        self._summary: list[str] = []
        self.state: dict[str, Any] = {}  # rooms keep per-session objects here (app, route tables...)

    # --- postgres -------------------------------------------------------------------------------
    @property
    def postgres_enabled(self) -> bool:
        return self.settings.postgres.postgres != "none"

    def postgres(self) -> PostgresServer:
        if self._postgres is None:
            if not self.postgres_enabled:
                config_error(
                    "a test asked for PostgreSQL but xaio_postgres is 'none'",
                    "remove xaio_postgres = none, or don't use the xaio_db fixtures in this run",
                )
            from pytest_xaio.postgres.providers import start_postgres

            self._postgres = start_postgres(self.settings, self.exit_stack)
        return self._postgres

    def owner(self) -> DatabaseOwner:
        if self._owner is None:
            from pytest_xaio.postgres.databases import DatabaseOwner

            self._owner = DatabaseOwner(self.postgres(), self.settings.project, self.settings.worker)
            self.exit_stack.callback(self._owner.drop_all)
            self._owner.drop_stale()
        return self._owner

    def template(self) -> Template:
        if self._template is None:
            from pytest_xaio.postgres.template import ensure_template

            self._template = ensure_template(self.owner(), self.settings)
            server = self.postgres()
            state = "cached" if self._template.cached else "built"
            self._summary.append(
                f"xaio: postgres {server.version} {server.provider} {server.host}:{server.port}, "
                f"template {state} (hash {self._template.digest[:12]})"
            )
        return self._template

    def worker_database(self) -> OwnedDatabase:
        """This worker's database, cloned from the template once per session."""
        if self._worker_db is None:
            self._worker_db = self.owner().create(template=self.template().name, kind="worker")
        return self._worker_db

    # --- redis ----------------------------------------------------------------------------------
    def redis(self) -> RedisServer | None:
        """The session's Redis server, or None when no provider is available (tests then skip)."""
        if not self._redis_started:
            self._redis_started = True
            from pytest_xaio.redis import start_redis

            self._redis = start_redis(self.settings, self.exit_stack)
            if self._redis is not None:
                from pytest_xaio.postgres import redact_url

                self._summary.append(f"xaio: redis {self._redis.provider} {redact_url(self._redis.url)}")
        return self._redis

    def redis_if_started(self) -> RedisServer | None:
        """The session's Redis if something already asked for it (never starts one)."""
        return self._redis

    # --- environment ----------------------------------------------------------------------------
    def export_env(self) -> dict[str, str]:
        """Export DATABASE_URL, PG* and the ``xaio_env`` lines before the app is imported."""
        if self._env is not None:
            return self._env
        env: dict[str, str] = {}
        values: dict[str, str] = {}
        if self.postgres_enabled:
            server = self.postgres()
            db = self.worker_database()
            values.update(
                url=db.url,
                host=server.host,
                port=str(server.port),
                user=server.user,
                password=server.password or "",
                dbname=db.name,
            )
            env.update(
                DATABASE_URL=db.url,
                PGHOST=server.host,
                PGPORT=str(server.port),
                PGUSER=server.user,
                PGDATABASE=db.name,
            )
            if server.password:
                env["PGPASSWORD"] = server.password
        lines = self.settings.postgres.env
        if any("{redis_url}" in line for line in lines):
            redis = self.redis()
            values["redis_url"] = redis.url if redis is not None else ""
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
        for name, value in env.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        self._env = env
        return env

    def _restore_env(self) -> None:
        for name, old in self._saved_env.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        self._saved_env.clear()

    # --- reporting and teardown -----------------------------------------------------------------
    def add_summary(self, line: str) -> None:
        self._summary.append(line)

    def summary_lines(self) -> list[str]:
        return list(self._summary)

    def close(self) -> None:
        try:
            self.exit_stack.close()
        finally:
            self._restore_env()


runtime_key = pytest.StashKey[XaioRuntime]()


def get_runtime(config: pytest.Config) -> XaioRuntime:
    return config.stash[runtime_key]
