"""Keeping the worker database across runs in ``transaction`` isolation instead of cloning it each time.

In ``transaction`` mode every test is rolled back, so at the end of a session the worker database
normally holds exactly what the template gave it. Cloning it again next run (``CREATE DATABASE``
from the template) and dropping it at the end are most of a session's start and end. Here the
worker database is kept, under rules that make reusing it as safe as a fresh clone:

- **Locked**: a session takes a session-level advisory lock for the database's name on the owner's
  admin connection, which it holds to the end (``pg_try_advisory_lock``: never waits). A concurrent
  session (another run, another xdist worker with the same id) finds it locked and takes the next
  slot. A killed session's connection closes, so its lock goes with it.
- **Marked**: the plugin's mark carries ``reuse``, the template's ``hash`` and a ``state``. A session
  sets ``state: in-use`` (with its pid) before the first test, and only its own teardown sets
  ``state: clean``. A mark that is not ``clean`` (a crash, a kill) or of another hash is recreated.
- **Verified clean**: right after cloning, the session records a fingerprint of the database (every
  row of every table in its own schemas, hashed, and its schema: tables, columns, defaults,
  constraints, functions, triggers, types, views, extensions, privileges, settings, large objects)
  and its sequences' positions. At teardown it computes the fingerprint again: equal, the
  sequences (which rolled-back ``nextval`` calls advance) are put back and the database is marked
  ``clean``; different (something was committed: the app's own engine, a connection of the test's
  own through ``xaio_db_url``, a truncate-mode test that left rows), it is dropped, and the next
  run clones a fresh one.
- **Said when it matters**: once the tests are done, before the summary, the fingerprint is taken
  a first time. A change means something was committed outside the tests' transactions while they
  ran, so a test may have seen what an earlier one left: the summary says so, naming the tables
  whose rows changed (the mark keeps the clone's tables that hold rows) and the fix, and the
  database is dropped without a second look. Unchanged, it is checked again at teardown, after the
  app's shutdown, as above.

Anything else (``truncate`` or ``clone`` as the session's isolation) clones and drops as before.
"""

from __future__ import annotations

import hashlib
import os
import socket
from typing import Any

from pytest_xaio.postgres.databases import DatabaseOwner, OwnedDatabase

__all__ = ["SLOTS", "ReusedWorker", "acquire", "drop_kept", "fingerprint", "reuse_name"]

#: How many concurrent sessions of one project and worker id each get a kept database.
SLOTS = 4

_USER_SCHEMA = (
    "{n}.nspname NOT IN ('pg_catalog', 'information_schema') AND {n}.nspname NOT LIKE 'pg\\_toast%' "
    "AND {n}.nspname NOT LIKE 'pg\\_temp\\_%'"
)
_TABLES = f"""
SELECT format('SELECT %L, count(*), coalesce(sum(hashtextextended(x::text, 0)), 0)::text FROM %I.%I x',
              n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND {_USER_SCHEMA.format(n="n")}
ORDER BY 1
"""
_CATALOG = f"""
SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), '')) FROM (
  SELECT 'n:' || n.nspname || ':' || coalesce(n.nspacl::text, '') FROM pg_namespace n WHERE {_USER_SCHEMA.format(n="n")}
  UNION ALL
  SELECT 'c:' || n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '')
         || ':' || c.relrowsecurity || ':' || CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) ELSE '' END
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER_SCHEMA.format(n="n")}
  UNION ALL
  SELECT 'a:' || n.nspname || '.' || c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
         || ':' || a.attnotnull || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attnum > 0 AND NOT a.attisdropped AND {_USER_SCHEMA.format(n="n")}
  UNION ALL
  SELECT 'k:' || n.nspname || '.' || k.conname || ':' || k.conrelid::regclass::text
         || ':' || pg_get_constraintdef(k.oid)
  FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE {_USER_SCHEMA.format(n="n")}
  UNION ALL
  SELECT 'f:' || p.oid::regprocedure::text || ':' || md5(coalesce(p.prosrc, ''))
         || ':' || coalesce(p.proacl::text, '')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {_USER_SCHEMA.format(n="n")}
  UNION ALL
  SELECT 'g:' || t.tgrelid::regclass::text || '.' || t.tgname || ':' || t.tgenabled::text
         || ':' || pg_get_triggerdef(t.oid)
  FROM pg_trigger t WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'p:' || p.polrelid::regclass::text || '.' || p.polname
         || ':' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
  FROM pg_policy p
  UNION ALL
  SELECT 'y:' || t.oid::regtype::text || ':' || t.typtype::text
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE {_USER_SCHEMA.format(n="n")}
  UNION ALL
  SELECT 'e:' || extname || ':' || extversion FROM pg_extension
  UNION ALL
  SELECT 's:' || coalesce(array_to_string(setconfig, ','), '') FROM pg_db_role_setting
  WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT 'l:' || count(*) FROM pg_largeobject_metadata
) AS items(item)
"""
_SEQUENCES = """
SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value, start_value
FROM pg_sequences ORDER BY 1
"""


def reuse_name(owner: DatabaseOwner, slot: int) -> str:
    return f"{owner.prefix}_{owner.worker}_keep{slot}"


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for one kept database (advisory locks take a bigint)."""
    value = int.from_bytes(hashlib.sha256(f"pytest-xaio-keep:{name}".encode()).digest()[:8], "big")
    return value - (1 << 64) if value >= 1 << 63 else value


def fingerprint(url: str) -> tuple[str, dict[str, list[Any]], dict[str, list[Any]]]:
    """(hash of the database's rows and schema, its sequences' positions, its tables that hold rows
    with their row count and hash) of the database at ``url``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        digest, sequences, tables = _fingerprint(conn)
        return digest, sequences, _filled(tables)


def _table_rows(conn: Any) -> list[tuple[Any, ...]]:
    """(table, row count, hash of its rows) for every table in the database's own schemas."""
    queries = [row[0] for row in conn.execute(_TABLES).fetchall()]
    if not queries:
        return []
    return [tuple(row) for row in conn.execute(" UNION ALL ".join(queries) + " ORDER BY 1").fetchall()]


def _filled(tables: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """The tables that hold rows, as the mark keeps them (most tables of a fresh clone are empty)."""
    return {str(name): [count, digest] for name, count, digest in tables if count}


def _fingerprint(conn: Any) -> tuple[str, dict[str, list[Any]], list[tuple[Any, ...]]]:
    """(hash of rows and schema, sequences' positions, :func:`_table_rows`) on an open connection."""
    tables = _table_rows(conn)
    digest = hashlib.sha256(str(conn.execute(_CATALOG).fetchone()[0]).encode())
    for row in tables:
        digest.update(repr(row).encode())
    sequences = {name: [last, start] for name, last, start in conn.execute(_SEQUENCES).fetchall()}
    return digest.hexdigest(), sequences, tables


def _restore_sequences(conn: Any, sequences: dict[str, list[Any]]) -> None:
    """Put every sequence back where the clone had it (rolled-back ``nextval`` calls still advance it)."""
    if not sequences:
        return
    # one round trip: setval(name, last, true) for a used sequence, setval(name, start, false) for a fresh one
    conn.execute(
        "SELECT CASE WHEN s.last IS NULL THEN setval(s.name::regclass, s.start, false) "
        "ELSE setval(s.name::regclass, s.last, true) END "
        "FROM jsonb_to_recordset(%s::jsonb) AS s(name text, last bigint, start bigint)",
        (_json([{"name": n, "last": v[0], "start": v[1]} for n, v in sequences.items()]),),
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


class ReusedWorker:
    """A kept worker database this session holds (locked) until :meth:`release`."""

    def __init__(
        self,
        owner: DatabaseOwner,
        db: OwnedDatabase,
        lock_key: int,
        reused: bool,
        mark: dict[str, Any] | None = None,
    ) -> None:
        self.owner = owner
        self.db = db
        self.reused = reused
        self._lock_key = lock_key
        mark = mark or {}
        self._fingerprint: str | None = mark.get("fingerprint")
        self._filled: dict[str, list[Any]] | None = mark.get("filled")  # None: a mark of an older version
        self.changed = False  # found changed by check_after_tests()
        self.written: list[str] = []  # the tables whose rows changed
        self.unreachable = False  # the server did not answer the check

    def check_after_tests(self) -> None:
        """Once the tests are done: has anything been committed to the database outside the tests'
        transactions (by the app's own connections, a test's own through ``xaio_db_url``)? Sets
        :attr:`changed` and :attr:`written` (the tables whose rows are no longer the clone's; none
        when only the schema changed), or :attr:`unreachable`. Neither is set when it cannot be told
        from an older mark."""
        if self._filled is None or self._fingerprint is None:
            return
        import psycopg

        try:
            with psycopg.connect(self.db.url, autocommit=True, connect_timeout=5) as conn:
                digest, _, tables = _fingerprint(conn)
        except Exception:  # the server is gone: nothing can be told, and nothing is kept
            self.unreachable = True
            return
        if digest == self._fingerprint:
            return
        now, before = _filled(tables), self._filled
        self.changed = True
        self.written = sorted(name for name in {*now, *before} if now.get(name) != before.get(name))

    def release(self) -> str:
        """Verify the database is as cloned: mark it clean (kept) or drop it. Returns what was done."""
        try:
            if self.changed:  # seen at the end of the tests: no second look is needed
                try:
                    self.owner.drop(self.db.name)
                except Exception:
                    return "left as it was (the server did not answer)"
                return "dropped (it held committed writes)"
            try:
                mark = self.owner.mark_of(self.db.name) or {}
            except Exception:  # the server is gone (it died mid-run): nothing to check or drop now
                return "left as it was (the server did not answer)"
            kept = False
            try:
                import psycopg

                # One connection for both: the check, and putting the sequences back when it passes.
                with psycopg.connect(self.db.url, autocommit=True) as conn:
                    digest, _, tables = _fingerprint(conn)
                    if digest == mark.get("fingerprint"):
                        _restore_sequences(conn, mark.get("sequences") or {})
                        kept = True
            except Exception:
                kept = False
            if kept:
                clean = {k: v for k, v in mark.items() if k != "pid"}  # no pid: no process owns it now
                clean["state"] = "clean"
                clean["filled"] = _filled(tables)  # equal to the clone's (a mark of an older version had none)
                self.owner.set_mark(self.db.name, clean)
                return "kept"
            self.owner.drop(self.db.name)
            return "dropped (it held committed writes)"
        finally:
            try:
                self.owner.unlock(self._lock_key)
            except Exception:
                pass


def acquire(owner: DatabaseOwner, template_name: str, digest: str, root: str) -> ReusedWorker | None:
    """This session's kept worker database: reused when clean and of this template, else cloned fresh.

    None when every slot is held by another live session or taken by a database that is not the
    plugin's (the caller then clones a throwaway one, dropped at the end).
    """
    _drop_abandoned(owner)
    for slot in range(SLOTS):
        name = reuse_name(owner, slot)
        key = _lock_key(name)
        if not owner.try_lock(key):
            continue
        try:
            taken = _take(owner, name, template_name, digest, root, key)
        except BaseException:
            owner.unlock(key)
            raise
        if taken is not None:
            return taken
        owner.unlock(key)
    return None


def drop_kept(owner: DatabaseOwner, name: str) -> bool:
    """Drop a kept worker database unless a live session holds it (its advisory lock); True when dropped."""
    with owner.admin() as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(name),)).fetchone()[0]:
            return False
        owner.drop(name)  # the lock goes with this connection
    return True


def _drop_abandoned(owner: DatabaseOwner) -> None:
    """Kept databases of projects on this machine whose folder is gone (a deleted checkout, a test's
    temporary project) will never be reused: drop them, unless a live session holds one."""
    host = socket.gethostname()
    for name, mark in owner.marked_databases(cached=True).items():
        root = mark.get("root")
        if not mark.get("reuse") or mark.get("host") != host or not root or os.path.isdir(root):
            continue
        key = _lock_key(name)
        if owner.try_lock(key):
            try:
                owner.drop(name)
            except Exception:  # another run got there first, or the server refuses: next run retries
                pass
            finally:
                owner.unlock(key)


def _take(
    owner: DatabaseOwner, name: str, template_name: str, digest: str, root: str, lock_key: int
) -> ReusedWorker | None:
    mark = owner.mark_of(name)
    if mark is None and owner.exists(name):
        return None  # a database of that name that is not the plugin's: leave it alone, use another slot
    in_use = {"state": "in-use", "pid": os.getpid(), "host": socket.gethostname(), "root": root}
    if mark is not None:
        if (
            mark.get("reuse")
            and mark.get("state") == "clean"
            and mark.get("hash") == digest
            and mark.get("fingerprint")
        ):
            owner.set_mark(name, {**mark, **in_use})
            db = OwnedDatabase(name, owner.server.url_for(name), "worker")
            return ReusedWorker(owner, db, lock_key, True, mark)
        owner.drop(name)  # crashed, dirty, or of an older template: start again from the template
    # Created under its mark (owner.create refuses a same-named database that is not the plugin's),
    # then fingerprinted; until the fingerprint is recorded the mark says "in-use", so a crash in
    # between only means the next run clones again.
    db = owner.create(template=template_name, kind="worker", name=name, extra={"reuse": True, "hash": digest, **in_use})
    owner.forget(name)  # kept at the end of the session, not dropped with the rest
    print_digest, sequences, filled = fingerprint(db.url)
    mark = owner.mark_of(name) or {}
    mark = {**mark, "fingerprint": print_digest, "sequences": sequences, "filled": filled}
    owner.set_mark(name, mark)
    return ReusedWorker(owner, db, lock_key, False, mark)
