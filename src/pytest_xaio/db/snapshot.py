"""Snapshots of every table's rows (by primary key) and of Redis' keys, and what changed between two.

A snapshot reads through the test's own connection, so in ``transaction`` isolation it sees the
rows the app wrote in the test's transaction. Tables without a primary key are compared as
multisets of whole rows (they can gain or lose rows, never "change").
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_xaio.migrations.source import HISTORY_TABLE

__all__ = ["Snapshot", "SnapshotDiff", "Snapshotter", "TableDiff", "take_snapshot"]

Key = tuple[Any, ...]
_SKIP = {HISTORY_TABLE, "alembic_version"}


@dataclass
class TableDiff:
    """Rows of one table keyed by primary key: ``added``, ``removed`` (before's rows), ``changed``
    (key → (before, after))."""

    added: dict[Key, dict[str, Any]] = field(default_factory=dict)
    removed: dict[Key, dict[str, Any]] = field(default_factory=dict)
    changed: dict[Key, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def counts(self) -> str:
        return f"added {len(self.added)}, removed {len(self.removed)}, changed {len(self.changed)}"


@dataclass(frozen=True)
class Snapshot:
    """Every user table's rows and, when the test uses Redis, the logical DB's keys."""

    rows: Mapping[str, Mapping[Key, dict[str, Any]]]
    redis_keys: frozenset[str] | None = None
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def diff(self, before: Snapshot) -> SnapshotDiff:
        """What changed from ``before`` to this snapshot."""
        tables: dict[str, TableDiff] = {}
        for table in sorted(set(self.rows) | set(before.rows)):
            old, new = before.rows.get(table, {}), self.rows.get(table, {})
            d = TableDiff(
                added={k: v for k, v in new.items() if k not in old},
                removed={k: v for k, v in old.items() if k not in new},
                changed={k: (old[k], v) for k, v in new.items() if k in old and old[k] != v},
            )
            tables[table] = d
        redis_added: frozenset[str] = frozenset()
        redis_removed: frozenset[str] = frozenset()
        if self.redis_keys is not None and before.redis_keys is not None:
            redis_added = self.redis_keys - before.redis_keys
            redis_removed = before.redis_keys - self.redis_keys
        return SnapshotDiff(tables, before, self, redis_added, redis_removed)


@dataclass(frozen=True)
class SnapshotDiff:
    """Rows added/removed/changed per table and Redis keys added/removed, with assertions."""

    tables: Mapping[str, TableDiff]
    before: Snapshot
    after: Snapshot
    redis_added: frozenset[str] = frozenset()
    redis_removed: frozenset[str] = frozenset()

    def __getitem__(self, table: str) -> TableDiff:
        return self.tables.get(table, TableDiff())

    def changed_tables(self) -> list[str]:
        return [t for t, d in self.tables.items() if d]

    def __str__(self) -> str:
        lines = [f"  {t}: {d.counts()}" for t, d in self.tables.items() if d]
        if self.redis_added or self.redis_removed:
            lines.append(f"  redis: added {sorted(self.redis_added)}, removed {sorted(self.redis_removed)}")
        return "\n".join(lines) or "  (nothing changed)"

    # --- assertions ---------------------------------------------------------------------------
    def assert_only_removed(self, expected: Mapping[str, int], *, ignore: tuple[str, ...] = ()) -> None:
        """Exactly ``expected[table]`` rows left each listed table; no other table lost, gained or
        changed rows (tables in ``ignore`` may do anything, e.g. an audit log).

        Example::

            diff.assert_only_removed({"projects": 1, "deployments": 3})
        """
        __tracebackhide__ = True
        problems = []
        for table in sorted(set(self.tables) | set(expected)):
            if table in ignore:
                continue
            d = self[table]
            want = expected.get(table, 0)
            if len(d.removed) != want or d.added or d.changed:
                problems.append(f"  {table}: expected removed {want}, found {d.counts()}")
        if problems:
            raise AssertionError("the changes are not only the expected removals:\n" + "\n".join(problems))

    def assert_removed(self, expected: Mapping[str, int]) -> None:
        """Each listed table lost exactly that many rows (other tables are not looked at)."""
        __tracebackhide__ = True
        self._assert_counts(expected, "removed")

    def assert_added(self, expected: Mapping[str, int]) -> None:
        """Each listed table gained exactly that many rows (other tables are not looked at)."""
        __tracebackhide__ = True
        self._assert_counts(expected, "added")

    def _assert_counts(self, expected: Mapping[str, int], change: str) -> None:
        __tracebackhide__ = True
        problems = [
            f"  {t}: expected {change} {n}, found {change} {len(getattr(self[t], change))}"
            for t, n in sorted(expected.items())
            if len(getattr(self[t], change)) != n
        ]
        if problems:
            raise AssertionError(f"rows {change} differ from what was expected:\n" + "\n".join(problems))

    def assert_unchanged(self, *, ignore: tuple[str, ...] = ()) -> None:
        """No table and no Redis key changed."""
        __tracebackhide__ = True
        problems = [f"  {t}: {d.counts()}" for t, d in self.tables.items() if d and t not in ignore]
        if self.redis_added or self.redis_removed:
            problems.append(f"  redis: added {sorted(self.redis_added)}, removed {sorted(self.redis_removed)}")
        if problems:
            raise AssertionError("expected no changes, found:\n" + "\n".join(problems))

    def assert_no_rows_left(self, where: Mapping[str, Any]) -> None:
        """No row of any table that has all of ``where``'s columns matches them (after the act).

        Example::

            diff.assert_no_rows_left(where={"project_id": project_id})
        """
        __tracebackhide__ = True
        checked, left = [], []
        for table, rows in sorted(self.after.rows.items()):
            if not all(c in self.after.columns.get(table, ()) for c in where):
                continue
            checked.append(table)
            matching = [k for k, row in rows.items() if all(_same(row.get(c), v) for c, v in where.items())]
            if matching:
                left.append(f"  {table}: {len(matching)} row(s) left, keys {[_show(k) for k in matching[:5]]}")
        if not checked:
            raise AssertionError(f"no table has the column(s) {', '.join(where)}; tables: {', '.join(self.tables)}")
        if left:
            raise AssertionError(
                f"rows matching {dict(where)!r} are still there (looked in {', '.join(checked)}):\n" + "\n".join(left)
            )

    def assert_redis_removed(self, pattern: str) -> None:
        """At least one key matching the glob ``pattern`` was removed, and none is left."""
        __tracebackhide__ = True
        self._need_redis()
        gone = sorted(k for k in self.redis_removed if fnmatch.fnmatchcase(k, pattern))
        left = sorted(k for k in self.after.redis_keys or () if fnmatch.fnmatchcase(k, pattern))
        if not gone or left:
            raise AssertionError(
                f"redis keys {pattern!r}: expected removed and none left; found removed {gone}, left {left}"
            )

    def assert_redis_added(self, pattern: str) -> None:
        """At least one key matching the glob ``pattern`` was added."""
        __tracebackhide__ = True
        self._need_redis()
        if not any(fnmatch.fnmatchcase(k, pattern) for k in self.redis_added):
            raise AssertionError(f"redis keys {pattern!r}: expected some added, found added {sorted(self.redis_added)}")

    def assert_no_redis_keys(self, pattern: str) -> None:
        """No key matching the glob ``pattern`` exists after the act."""
        __tracebackhide__ = True
        self._need_redis()
        left = sorted(k for k in self.after.redis_keys or () if fnmatch.fnmatchcase(k, pattern))
        if left:
            raise AssertionError(f"redis keys {pattern!r}: expected none, found {left}")

    def _need_redis(self) -> None:
        __tracebackhide__ = True
        if self.after.redis_keys is None or self.before.redis_keys is None:
            raise AssertionError(
                "this snapshot has no Redis keys: the test does not use the xaio_redis_url "
                "fixture (add it to the test's arguments)"
            )


def _same(a: Any, b: Any) -> bool:
    return bool(a == b or str(a) == str(b))


def _show(key: Key) -> Any:
    return key[0] if len(key) == 1 else key


def take_snapshot(conn: Any, redis_client: Any = None) -> Snapshot:
    """Read every user table (and the Redis DB's keys, when given a client) through ``conn``."""
    tables = conn.execute(
        "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relname, "
        "ARRAY(SELECT a.attname FROM pg_index i JOIN unnest(i.indkey) WITH ORDINALITY k(n, o) ON true "
        "      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n "
        "      WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.o), "
        "ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped "
        "      ORDER BY attnum) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%%' ORDER BY 3"
    ).fetchall()
    rows: dict[str, dict[Key, dict[str, Any]]] = {}
    columns: dict[str, tuple[str, ...]] = {}
    for _oid, qualified, name, pk, cols in tables:
        if name in _SKIP:
            continue
        label = name if qualified.startswith("public.") else qualified.replace('"', "")
        columns[label] = tuple(cols)
        # Table names come from the catalog through quote_ident, so they are safe to splice.
        data = conn.execute(f"SELECT row_to_json(t)::text FROM {qualified} AS t".encode()).fetchall()
        table_rows: dict[Key, dict[str, Any]] = {}
        if pk:
            for (text,) in data:
                row = json.loads(text)
                table_rows[tuple(row[c] for c in pk)] = row
        else:
            seen: Counter[str] = Counter()
            for (text,) in data:
                seen[text] += 1
                table_rows[(text, seen[text])] = json.loads(text)
        rows[label] = table_rows
    keys = None
    if redis_client is not None:
        keys = frozenset(k.decode() if isinstance(k, bytes) else str(k) for k in redis_client.scan_iter(count=500))
    return Snapshot(rows, keys, columns)


class Snapshotter:
    """The ``xaio_snapshot`` fixture's value: call it to take a snapshot.

    Example::

        def test_delete_cleans_up(xaio_client, xaio_snapshot):
            before = xaio_snapshot()
            xaio_client.delete(f"/api/projects/{pid}")
            diff = xaio_snapshot().diff(before)
            diff.assert_only_removed({"projects": 1, "deployments": 3})
            diff.assert_no_rows_left(where={"project_id": pid})
    """

    def __init__(self, connection: Callable[[], Any], redis_client: Callable[[], Any] | None = None) -> None:
        self._connection = connection
        self._redis = redis_client

    def __call__(self) -> Snapshot:
        return take_snapshot(self._connection(), self._redis() if self._redis is not None else None)
