"""The one owner of the databases the plugin creates.

Creating and dropping go through pytest-postgresql's ``DatabaseJanitor``. Every database made here
carries a ``COMMENT`` that marks it as the plugin's; nothing without that mark is ever dropped, so
a user's own database that happens to share a name is refused, not destroyed.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import socket
from dataclasses import dataclass
from typing import Any

from pytest_xaio.errors import config_error
from pytest_xaio.postgres import PostgresServer
from pytest_xaio.postgres.cluster import process_alive

__all__ = ["MARK", "DatabaseOwner", "OwnedDatabase", "db_slug"]

MARK = "pytest-xaio:"
_MAX_NAME = 63  # NAMEDATALEN - 1


def db_slug(text: str, limit: int = 20) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return (slug or "x")[:limit].strip("_") or "x"


@dataclass(frozen=True)
class OwnedDatabase:
    """A database the plugin created (and will drop)."""

    name: str
    url: str
    kind: str
    is_template: bool = False


class DatabaseOwner:
    """Creates databases on one server, remembers them, and drops only those."""

    def __init__(self, server: PostgresServer, project: str, worker: str) -> None:
        self.server = server
        self.project = db_slug(project)
        self.worker = db_slug(worker, 8)
        self._created: dict[str, OwnedDatabase] = {}
        self._counter = 0

    # --- naming ---------------------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        return f"xaio_{self.project}"

    def new_name(self, kind: str) -> str:
        self._counter += 1
        name = f"{self.prefix}_{self.worker}_{kind[:5]}_p{os.getpid()}_{self._counter}"
        return name[:_MAX_NAME]

    # --- create / drop --------------------------------------------------------------------------
    def create(
        self,
        *,
        template: str | None = None,
        kind: str = "test",
        name: str | None = None,
        is_template: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> OwnedDatabase:
        name = name or self.new_name(kind)
        existing = self.mark_of(name)
        if existing is None and self.exists(name):
            config_error(
                f"a database named {name!r} already exists on {self.server.host}:{self.server.port} and was not "
                "created by pytest-xaio; it will not be touched",
                "rename or drop it yourself, or set xaio_project to give the plugin's databases another prefix",
            )
        janitor = self._janitor(name, template=template, as_template=is_template)
        janitor.init()
        mark = {"kind": kind, "host": socket.gethostname(), "pid": os.getpid(), "project": self.project}
        mark.update(extra or {})
        self.set_mark(name, mark)
        db = OwnedDatabase(name=name, url=self.server.url_for(name), kind=kind, is_template=is_template)
        self._created[name] = db
        return db

    def drop(self, db: OwnedDatabase | str) -> None:
        name = db if isinstance(db, str) else db.name
        mark = self.mark_of(name)
        if mark is None:
            if self.exists(name):
                raise RuntimeError(f"pytest-xaio refuses to drop {name!r}: it does not carry the plugin's mark")
            self._created.pop(name, None)
            return
        self._janitor(name, as_template=bool(self._is_template(name))).drop()
        self._created.pop(name, None)

    def forget(self, name: str) -> None:
        """Stop tracking a database that must outlive the session (the cached template)."""
        self._created.pop(name, None)

    def drop_all(self) -> None:
        for name in reversed(list(self._created)):
            try:
                self.drop(name)
            except Exception:  # the server may already be gone at teardown; leave the rest to drop_stale
                pass

    def drop_stale(self) -> None:
        """Drop what crashed runs on this machine left behind: marked, not a template, owner process dead."""
        host = socket.gethostname()
        for name, mark in self.marked_databases().items():
            if mark.get("kind") == "template" or mark.get("host") != host:
                continue
            pid = int(mark.get("pid") or 0)
            if pid and not process_alive(pid):
                try:
                    self.drop(name)
                except Exception:
                    pass

    # --- inspection -----------------------------------------------------------------------------
    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(**self.server.connect_kwargs(), autocommit=True)  # type: ignore[arg-type]

    def exists(self, name: str) -> bool:
        with self.admin() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None

    def mark_of(self, name: str) -> dict[str, Any] | None:
        with self.admin() as conn:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        return _parse_mark(row[0] if row else None)

    def set_mark(self, name: str, mark: dict[str, Any]) -> None:
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(MARK + json.dumps(mark, sort_keys=True))
                )
            )

    def marked_databases(self, prefix: str | None = None) -> dict[str, dict[str, Any]]:
        """Every database on the server that carries the plugin's mark (optionally by name prefix)."""
        with self.admin() as conn:
            rows = conn.execute(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE %s",
                ((prefix or "xaio_") + "%",),
            ).fetchall()
        found = {}
        for name, comment in rows:
            mark = _parse_mark(comment)
            if mark is not None:
                found[name] = mark
        return found

    def _is_template(self, name: str) -> bool:
        with self.admin() as conn:
            row = conn.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return bool(row and row[0])

    def _janitor(self, dbname: str, template: str | None = None, as_template: bool = False) -> Any:
        from pytest_postgresql.janitor import DatabaseJanitor

        kwargs: dict[str, Any] = {
            "user": self.server.user,
            "host": self.server.host,
            "port": self.server.port,
            "dbname": dbname,
            "template_dbname": template,
            "password": self.server.password,
        }
        params = inspect.signature(DatabaseJanitor.__init__).parameters
        # Older janitors need the version; newer ones deprecate it. Ask for what this one takes.
        if "version" in params and params["version"].default is inspect.Parameter.empty:
            kwargs["version"] = self.server.version
        if "maintenance_dbname" in params:
            kwargs["maintenance_dbname"] = self.server.maintenance_db
        if "as_template" in params:
            kwargs["as_template"] = as_template
        if "connection_timeout" in params:
            kwargs["connection_timeout"] = 10
        return DatabaseJanitor(**kwargs)


def _parse_mark(comment: str | None) -> dict[str, Any] | None:
    if not comment or not comment.startswith(MARK):
        return None
    try:
        value = json.loads(comment[len(MARK) :])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
