"""The one owner of the databases the plugin creates.

Creating and dropping go through pytest-postgresql's ``DatabaseJanitor``. Every database made here
carries a ``COMMENT`` that marks it as the plugin's; nothing without that mark is ever dropped, so
a user's own database that happens to share a name is refused, not destroyed.

Ownership survives a kill at any point: a database is created under a scratch name that only the
plugin uses (``xaio_new_<machine>_p<pid>_<nonce>``), marked, prepared (a template gets its
migrations), and only then renamed to its real name. A run killed before the rename leaves a scratch
database that the next run on the same machine drops once its pid is dead; a real name never exists
without its mark.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_xaio.errors import config_error
from pytest_xaio.postgres import PostgresServer
from pytest_xaio.postgres.cluster import process_alive

__all__ = ["MARK", "SCRATCH_PREFIX", "DatabaseOwner", "OwnedDatabase", "db_slug", "machine_tag", "project_prefix"]

MARK = "pytest-xaio:"
#: Databases are born under this prefix and renamed once marked (see the module docstring).
SCRATCH_PREFIX = "xaio_new_"
_MAX_NAME = 63  # NAMEDATALEN - 1
_SCRATCH = re.compile(r"^xaio_new_([0-9a-f]{8})_p(\d+)_[0-9a-f]+$")
_SCRATCH_IN_TEXT = re.compile(r"xaio_new_[0-9a-f]{8}_p\d+_[0-9a-f]+")


def machine_tag() -> str:
    """A short, stable tag of this machine, so a run only ever cleans up its own machine's scratch."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def db_slug(text: str, limit: int = 20) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return (slug or "x")[:limit].strip("_") or "x"


def project_prefix(project: str) -> str:
    """``xaio_<project>``: how every database of this project's sessions is named (the owner adds
    the location tag after it); the connection guard allows names under it."""
    return f"xaio_{db_slug(project, 16)}"


@dataclass(frozen=True)
class OwnedDatabase:
    """A database the plugin created (and will drop)."""

    name: str
    url: str
    kind: str
    is_template: bool = False


class DatabaseOwner:
    """Creates databases on one server, remembers them, and drops only those."""

    def __init__(
        self,
        server: PostgresServer,
        project: str,
        worker: str,
        location: str | None = None,
        *,
        connection: Any = None,
        keep_connection: bool = False,
    ) -> None:
        self.server = server
        self.project = db_slug(project, 16)
        # Where the project lives is part of its identity: two checkouts both named "backend" (or two
        # worktrees with different migrations) must not share, rebuild or drop each other's templates.
        self.where = os.path.realpath(location or os.getcwd())
        self.location = _location_tag(self.where)
        self.worker = db_slug(worker, 8)
        self._created: dict[str, OwnedDatabase] = {}
        self._counter = 0
        self._held: list[Any] = []  # connections to close at the end
        # One admin connection for the session (``keep_connection``: a pytest session's owner): the
        # catalog reads, the marks and the session-long advisory locks all go over it. A connect
        # costs a backend fork and an authentication (several ms, more on a busy machine); a query
        # on an open connection a fraction of one. ``connection`` hands over one already open (the
        # URL provider's check). Without it each read opens and closes its own (the CLI, tests).
        self._conn: Any = connection
        self._keep = keep_connection or connection is not None
        # The plugin's databases as the first listing saw them (cleanup decisions at session start;
        # each is checked again before anything is dropped).
        self._listing: dict[str, str | None] | None = None

    # --- naming ---------------------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        return f"{project_prefix(self.project)}_{self.location}"

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
        prepare: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> OwnedDatabase:
        """Create a marked database; ``prepare(url)`` runs on it before it takes its real name and may
        return mark fields to add (a template's ``complete``)."""
        name = name or self.new_name(kind)
        existing = self.mark_of(name)
        if existing is None and self.exists(name):
            config_error(
                f"a database named {name!r} already exists on {self.server.host}:{self.server.port} and was not "
                "created by pytest-xaio; it will not be touched",
                "rename or drop it yourself, or set xaio_project to give the plugin's databases another prefix",
            )
        scratch = f"{SCRATCH_PREFIX}{machine_tag()}_p{os.getpid()}_{uuid.uuid4().hex[:8]}"
        mark = {"kind": kind, "host": socket.gethostname(), "pid": os.getpid(), "project": self.project}
        mark.update(extra or {})
        self._created[scratch] = OwnedDatabase(scratch, self.server.url_for(scratch), kind, False)
        try:
            self._janitor(scratch, template=template).init()
            self.set_mark(scratch, mark)
            if prepare is not None:
                more = prepare(self.server.url_for(scratch))
                if more:
                    mark.update(more)
                    self.set_mark(scratch, mark)
            from psycopg import sql

            if is_template:
                self._execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(scratch)))
            rename = sql.SQL("ALTER DATABASE {} RENAME TO {}")
            self._execute(rename.format(sql.Identifier(scratch), sql.Identifier(name)))
        except BaseException:
            try:
                self.drop(scratch)
            except Exception:  # the server is gone: the next run's drop_stale removes it
                pass
            raise
        self._created.pop(scratch, None)
        self._listing = None
        db = OwnedDatabase(name=name, url=self.server.url_for(name), kind=kind, is_template=is_template)
        self._created[name] = db
        return db

    def drop(self, db: OwnedDatabase | str) -> None:
        name = db if isinstance(db, str) else db.name
        mark = self.mark_of(name)
        if mark is None and not self._own_scratch(name):
            if self.exists(name):
                raise RuntimeError(f"pytest-xaio refuses to drop {name!r}: it does not carry the plugin's mark")
            self._created.pop(name, None)
            return
        if self._is_invalid(name):
            # An interrupted DROP leaves the database "invalid": it can't be altered, only dropped.
            from psycopg import sql

            self._execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        else:
            self._janitor(name, as_template=bool(self._is_template(name))).drop()
        self._created.pop(name, None)
        self._listing = None

    def forget(self, name: str) -> None:
        """Stop tracking a database that must outlive the session (the cached template)."""
        self._created.pop(name, None)

    def drop_all(self) -> None:
        for name in reversed(list(self._created)):
            try:
                self.drop(name)
            except Exception:  # the server may already be gone at teardown; leave the rest to drop_stale
                pass
        self.close()

    def close(self) -> None:
        """Close the connections this owner keeps (which ends its advisory locks)."""
        if self._conn is not None:
            self._held.append(self._conn)
            self._conn = None
        while self._held:
            try:
                self._held.pop().close()
            except Exception:
                pass

    def drop_stale(self) -> None:
        """Drop what crashed runs on this machine left behind: marked (or a scratch database of this
        machine), not a finished template, owner process dead."""
        host = socket.gethostname()
        if self._wait_for_dead_creators():
            self._listing = None  # a scratch database appeared while waiting: list again
        stale: list[str] = []
        for name, mark in self.marked_databases(cached=True).items():
            if (mark.get("kind") == "template" and mark.get("complete")) or mark.get("host") != host:
                continue
            pid = int(mark.get("pid") or 0)
            if pid and not process_alive(pid):
                stale.append(name)
        # One listing of xaio_* names serves both passes (the scratch prefix starts with xaio_).
        for name in self._names(cached=True):
            if name.startswith(SCRATCH_PREFIX) and name not in stale and self._own_scratch(name):
                stale.append(name)
        for name in stale:
            try:
                self.drop(name)
            except Exception:
                pass

    def _wait_for_dead_creators(self, timeout: float = 10.0) -> bool:
        """Wait for the CREATE DATABASE of a killed run to end before the cleanup lists names.

        The server goes on with a statement whose client was killed (it notices the lost client
        only when it next talks to it), so a killed run's scratch database can appear after the next
        run's cleanup listed the names, and stay. Only statements naming this machine's scratch
        names with a dead creator are waited for; after ``timeout`` the cleanup goes on (a later run
        removes what appears after it). True when there was something to wait for.
        """
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            rows = self._execute(
                "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND position(%s in query) > 0",
                (SCRATCH_PREFIX,),
            )
            names = {found for (query,) in rows for found in _SCRATCH_IN_TEXT.findall(str(query or ""))}
            if not any(self._own_scratch(name) and name not in self._created for name in names):
                return waited
            if time.monotonic() > deadline:
                return True
            waited = True
            time.sleep(0.05)

    def _own_scratch(self, name: str) -> bool:
        """A scratch name of this machine whose creating process is dead (killed before marking)."""
        found = _SCRATCH.match(name)
        if found is None or found.group(1) != machine_tag():
            return False
        pid = int(found.group(2))
        return name in self._created or not process_alive(pid)

    # --- inspection -----------------------------------------------------------------------------
    def admin(self) -> Any:
        """A new autocommit connection to the maintenance database (the caller closes it)."""
        import psycopg

        return psycopg.connect(**self.server.connect_kwargs(), autocommit=True)  # type: ignore[arg-type]

    def connection(self) -> Any:
        """The owner's kept admin connection, opened on first use and closed by :meth:`close`."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self.admin()
        return self._conn

    def _execute(self, statement: Any, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement over the kept connection (or a one-off one) and return its rows."""
        if self._keep or self._conn is not None:
            cur = self.connection().execute(statement, params)
            return cur.fetchall() if cur.description is not None else []
        with self.admin() as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description is not None else []

    # --- advisory locks, held on the kept connection (a killed session's end with it) ------------
    def lock(self, key: int, *, shared: bool = False) -> None:
        """Wait for a session-level advisory lock."""
        self.connection().execute(
            "SELECT pg_advisory_lock_shared(%s)" if shared else "SELECT pg_advisory_lock(%s)", (key,)
        )

    def try_lock(self, key: int) -> bool:
        """Take an exclusive session-level advisory lock if it is free; never waits."""
        row = self.connection().execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        return bool(row and row[0])

    def unlock(self, key: int, *, shared: bool = False) -> None:
        if self._conn is None or self._conn.closed or self._conn.broken:
            return  # the connection is gone, and its locks with it
        self._conn.execute(
            "SELECT pg_advisory_unlock_shared(%s)" if shared else "SELECT pg_advisory_unlock(%s)", (key,)
        )

    def exists(self, name: str) -> bool:
        return bool(self._execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))

    def mark_of(self, name: str) -> dict[str, Any] | None:
        rows = self._execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
        )
        return _parse_mark(rows[0][0] if rows else None)

    def set_mark(self, name: str, mark: dict[str, Any]) -> None:
        from psycopg import sql

        self._execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(MARK + json.dumps(mark, sort_keys=True))
            )
        )
        self._listing = None

    def marked_databases(self, prefix: str | None = None, *, cached: bool = False) -> dict[str, dict[str, Any]]:
        """Every database on the server that carries the plugin's mark (optionally by name prefix).

        ``cached``: as this owner last listed them (for cleanup passes at session start, which check
        each database again before they drop it), else read now.
        """
        want = prefix or "xaio_"
        found = {}
        for name, comment in self._list(cached).items():
            # Compared as a plain prefix: in LIKE 'xaio_%' the underscore would match any character.
            mark = _parse_mark(comment) if name.startswith(want) else None
            if mark is not None:
                found[name] = mark
        return found

    def _names(self, cached: bool = False) -> list[str]:
        return list(self._list(cached))

    def _list(self, cached: bool) -> dict[str, str | None]:
        """Name → comment of every xaio_* database (one catalog read)."""
        if not cached or self._listing is None:
            rows = self._execute(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE left(datname, 5) = 'xaio_'"
            )
            self._listing = {str(name): comment for name, comment in rows}
        return self._listing

    def _is_template(self, name: str) -> bool:
        rows = self._execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (name,))
        return bool(rows and rows[0][0])

    def _is_invalid(self, name: str) -> bool:
        rows = self._execute("SELECT datconnlimit = -2 FROM pg_database WHERE datname = %s", (name,))
        return bool(rows and rows[0][0])

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


def _location_tag(where: str) -> str:
    return hashlib.sha256(f"{socket.gethostname()}:{where}".encode()).hexdigest()[:6]


def _parse_mark(comment: str | None) -> dict[str, Any] | None:
    if not comment or not comment.startswith(MARK):
        return None
    try:
        value = json.loads(comment[len(MARK) :])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
