"""The environment the app under test reads: DATABASE_URL, PG* and the ``xaio_env`` lines.

An app reads its settings when its modules are imported, so this is exported before the app (or a
setting that names an object in it) is imported; what it replaced is put back when the session ends.

Under ``--collect-only`` nothing is started (IDE test discovery must work with every database
stopped): the variables point at :data:`COLLECT_ONLY_DATABASE` / :data:`COLLECT_ONLY_REDIS`, a
closed port, so an app that reads them at import still imports, and no test runs against them.
"""

from __future__ import annotations

import os

import pytest

from pytest_xaio.postgres.environment import render_env_lines
from pytest_xaio.postgres.session import postgres_session
from pytest_xaio.runtime import XaioRuntime, session_object

__all__ = ["COLLECT_ONLY_DATABASE", "COLLECT_ONLY_REDIS", "ExportedEnv", "export_env", "exported_env"]

#: What DATABASE_URL (and ``{url}``) is under ``--collect-only``: port 9 on loopback is not listened on.
COLLECT_ONLY_DATABASE = "postgresql://xaio@127.0.0.1:9/xaio_collect_only"
#: What ``{redis_url}`` is under ``--collect-only``.
COLLECT_ONLY_REDIS = "redis://127.0.0.1:9/1"


class ExportedEnv:
    """The variables this session exported (once), and the values they replaced."""

    def __init__(self, runtime: XaioRuntime) -> None:
        self._runtime = runtime
        self.values: dict[str, str] | None = None
        self._saved: dict[str, str | None] = {}
        runtime.exit_stack.callback(self._restore)

    def export(self, config: pytest.Config) -> dict[str, str]:
        """Export DATABASE_URL, PG* and the ``xaio_env`` lines (starting what they name) once."""
        if self.values is not None:
            return self.values
        settings = self._runtime.settings
        env: dict[str, str] = {}
        values: dict[str, str] = {}
        collect_only = bool(config.getoption("collectonly", False))
        postgres = postgres_session(config)
        if postgres.enabled:
            if collect_only:
                url, dbname, host, port, user, password = (
                    COLLECT_ONLY_DATABASE,
                    "xaio_collect_only",
                    "127.0.0.1",
                    9,
                    "xaio",
                    "",
                )
            else:
                server, db = postgres.server(), postgres.worker_database()
                url, dbname, host, port = db.url, db.name, server.host, server.port
                user, password = server.user, server.password or ""
            values.update(url=url, host=host, port=str(port), user=user, password=password, dbname=dbname)
            env.update(DATABASE_URL=url, PGHOST=host, PGPORT=str(port), PGUSER=user, PGDATABASE=dbname)
            if password:
                env["PGPASSWORD"] = password
        lines = settings.postgres.env
        if any("{redis_url}" in line for line in lines):
            # Imported here: redis_fixtures is a plugin module pytest must import itself (assertion
            # rewriting; pytest 8 warns "already imported" when another module imported it first).
            from pytest_xaio.redis_fixtures import redis_session

            redis = None if collect_only else redis_session(config).server()
            values["redis_url"] = COLLECT_ONLY_REDIS if collect_only else (redis.url if redis is not None else "")
        env.update(render_env_lines(lines, values))
        for name, value in env.items():
            self.set(name, value)
        self.values = env
        return env

    def set(self, name: str, value: str) -> None:
        """Set one variable for the rest of the session (the old value comes back at the end)."""
        self._saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _restore(self) -> None:
        for name, old in self._saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        self._saved.clear()


_env_key = pytest.StashKey[ExportedEnv]()


def exported_env(config: pytest.Config) -> ExportedEnv:
    return session_object(config, _env_key, ExportedEnv)


def export_env(config: pytest.Config) -> dict[str, str]:
    """Export the session's environment (once) and return what was exported."""
    return exported_env(config).export(config)
