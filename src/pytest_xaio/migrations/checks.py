"""Built-in migration checks (``xaio_migration_checks = true``), run as generated test items:

``xaio-migrations::single-head``         one line of history: no duplicate or missing versions, one head
``xaio-migrations::upgrade-from-empty``  every migration applies, in order, to an empty database
``xaio-migrations::round-trip[V075]``    up → down → up gives the same schema as before and after
``xaio-migrations::models-match``        (Alembic) no pending autogenerate diff against env.py's metadata

Each runs in scratch databases made through the session's ``DatabaseOwner``; each failure names
the migration.
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.migrations.source import (
    UNDO_FILE,
    VERSIONED_FILE,
    MigrationError,
    MigrationSource,
    alembic_config,
    alembic_heads,
    alembic_revisions,
    version_key,
)
from pytest_xaio.postgres.session import postgres_session
from pytest_xaio.runtime import XaioRuntime, session_object

if TYPE_CHECKING:
    from pytest_xaio.migrations.migrator import Migrator

__all__ = ["MigrationCheck", "MigrationChecks", "check_items"]

# One scratch database walked through the SQL migrations in version order (see _walker).
_walker_key = pytest.StashKey["Migrator"]()

NODE = "xaio-migrations"


class MigrationCheckFailed(Exception):
    """A check found a problem; the message is the whole report."""


class MigrationChecks(pytest.Collector):
    """The parent node of the generated checks (node id ``xaio-migrations``)."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:  # pragma: no cover - built directly
        return []


class MigrationCheck(pytest.Item):
    def __init__(self, *, check: str, source: MigrationSource, step: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.source = source
        self.step = step

    def runtest(self) -> None:
        runner = _RUNNERS[self.check]
        runner(self)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (MigrationCheckFailed, MigrationError)):
            return f"{self.name}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path | str, int | None, str]:
        return self.source.path or NODE, None, f"{NODE}::{self.name}"


def check_items(session: pytest.Session, source: MigrationSource) -> list[pytest.Item]:
    parent = MigrationChecks.from_parent(session, name=NODE, nodeid=NODE)
    items: list[pytest.Item] = [
        MigrationCheck.from_parent(parent, name="single-head", check="single-head", source=source),
        MigrationCheck.from_parent(parent, name="upgrade-from-empty", check="upgrade-from-empty", source=source),
    ]
    if source.kind == "sql":
        for i, m in enumerate(source.sql):
            if m.undo is not None:
                previous = source.sql[i - 1].version if i else "base"
                items.append(
                    MigrationCheck.from_parent(
                        parent,
                        name=f"round-trip[{m.label}]",
                        check="round-trip",
                        source=source,
                        step=(m.version, previous, m.label),
                    )
                )
    else:
        for rev, down, path in alembic_revisions(source):
            items.append(
                MigrationCheck.from_parent(
                    parent,
                    name=f"round-trip[{rev}]",
                    check="round-trip",
                    source=source,
                    step=(rev, down or "base", f"{rev} ({path.name})"),
                )
            )
        items.append(MigrationCheck.from_parent(parent, name="models-match", check="models-match", source=source))
    return items


# --- the checks -------------------------------------------------------------------------------------
def _single_head(item: MigrationCheck) -> None:
    source = item.source
    problems: list[str] = []
    if source.kind == "sql":
        assert source.path is not None
        versions: dict[tuple[int, ...], list[str]] = {}
        undo: dict[tuple[int, ...], list[str]] = {}
        for file in sorted(source.path.iterdir()):
            for pattern, into in ((VERSIONED_FILE, versions), (UNDO_FILE, undo)):
                match = pattern.match(file.name)
                if match:
                    into.setdefault(version_key(match["version"]), []).append(file.name)
        problems += [
            f"{len(f)} migrations share version {'.'.join(map(str, k))}: {', '.join(f)}"
            for k, f in sorted(versions.items())
            if len(f) > 1
        ]
        problems += [
            f"{', '.join(f)} undoes a version that has no V file" for k, f in sorted(undo.items()) if k not in versions
        ]
        simple = sorted(k[0] for k in versions if len(k) == 1)
        # Gaps only mean something in a counted sequence (V001, V002...), not in timestamp versions.
        if simple and simple[-1] - simple[0] + 1 <= 2 * len(simple):
            missing = sorted(set(range(simple[0], simple[-1] + 1)) - set(simple))
            if missing:
                problems.append(
                    "versions are missing between the first and the last migration: "
                    + ", ".join(f"{n:0{len(source.sql[0].version)}d}" for n in missing[:20])
                )
        stray = [
            f.name
            for f in source.path.iterdir()
            if f.suffix == ".sql" and not VERSIONED_FILE.match(f.name) and not UNDO_FILE.match(f.name)
        ]
        if stray:
            problems.append(f"files that are not migrations (want V<version>__<name>.sql): {', '.join(sorted(stray))}")
    else:
        heads = alembic_heads(source)
        if len(heads) != 1:
            files = {rev: path.name for rev, _down, path in alembic_revisions(source)}
            problems.append(
                f"Alembic has {len(heads)} heads: "
                + ", ".join(f"{h} ({files.get(h, '?')})" for h in heads)
                + "; run `alembic merge heads`"
            )
    if problems:
        raise MigrationCheckFailed("\n".join(problems))


@contextmanager
def _scratch(item: MigrationCheck) -> Iterator[Any]:
    from pytest_xaio.migrations.migrator import Migrator

    migrator = Migrator(postgres_session(item.config).owner(), item.source, kind="check")
    try:
        yield migrator
    finally:
        migrator.close()


def _upgrade_from_empty(item: MigrationCheck) -> None:
    with _scratch(item) as migrator:
        if item.source.kind == "sql":
            for m in item.source.sql:
                try:
                    migrator.upgrade(to=m.version)
                except MigrationError as exc:
                    raise MigrationCheckFailed(
                        f"{m.label} ({m.path.name}) fails on a database migrated to the version before it:\n  {exc}"
                    ) from exc
        else:
            for rev, _down, path in alembic_revisions(item.source):
                try:
                    migrator.upgrade(to=rev)
                except MigrationError as exc:
                    raise MigrationCheckFailed(
                        f"revision {rev} ({path.name}) fails on a database migrated to the revision before it:\n  {exc}"
                    ) from exc


def _schema_diff(a: list[str], b: list[str], a_name: str, b_name: str) -> str:
    lines = list(difflib.unified_diff(a, b, a_name, b_name, lineterm="", n=0))
    return "\n".join("  " + line for line in lines[2:] if not line.startswith("@@"))


def _walker(item: MigrationCheck) -> Migrator:
    """One scratch database shared by the SQL round trips, which run in version order: each starts
    where the previous one left off instead of migrating a new database from empty."""
    from pytest_xaio.migrations.migrator import Migrator

    def make(runtime: XaioRuntime) -> Migrator:
        walker = Migrator(postgres_session(item.config).owner(), item.source, kind="check")
        runtime.exit_stack.callback(walker.close)
        return walker

    return session_object(item.config, _walker_key, make)


def _round_trip(item: MigrationCheck) -> None:
    version, previous, label = item.step
    if item.source.kind == "sql":
        migrator = _walker(item)
        current = migrator.current
        if current is not None and version_key(current) > version_key(previous):
            migrator.reset()
        try:
            _round_trip_in(migrator, version, previous, label)
        except BaseException:
            migrator.reset()
            raise
    else:
        with _scratch(item) as migrator:
            _round_trip_in(migrator, version, previous, label)


def _round_trip_in(migrator: Any, version: str, previous: str, label: str) -> None:
    if previous != "base":
        with _failing_as(f"cannot reach the migration before {label}"):
            migrator.upgrade(to=previous)
    before = migrator.dump()
    with _failing_as(label):
        migrator.upgrade(to=version)
        after = migrator.dump()
        migrator.downgrade(to=previous)
    undone = migrator.dump()
    _same_schema(before, undone, f"undoing {label} does not restore the schema before it", ("before", "after undo"))
    names = ("first upgrade", "second upgrade")
    with _failing_as(f"{label} fails when applied again after its undo"):
        migrator.upgrade(to=version)
    again = migrator.dump()
    _same_schema(after, again, f"{label} applied again after its undo gives another schema", names)


@contextmanager
def _failing_as(what: str) -> Iterator[None]:
    """A migration that fails inside the block fails the check with ``what`` in front."""
    try:
        yield
    except MigrationError as exc:
        raise MigrationCheckFailed(f"{what}: {exc}") from exc


def _same_schema(expected: list[str], actual: list[str], problem: str, names: tuple[str, str]) -> None:
    if actual != expected:
        raise MigrationCheckFailed(f"{problem}:\n" + _schema_diff(expected, actual, *names))


def _models_match(item: MigrationCheck) -> None:
    from alembic import command
    from alembic.util.exc import AutogenerateDiffsDetected, CommandError

    from pytest_xaio.migrations.source import sqlalchemy_url

    with _scratch(item) as migrator:
        try:
            migrator.upgrade()
        except MigrationError as exc:
            raise MigrationCheckFailed(f"cannot upgrade to head: {exc}") from exc
        cfg: Any = alembic_config(item.source, migrator.url)
        cfg.stdout = io.StringIO()  # "No new upgrade operations detected." is not for the terminal
        with _database_url_env(sqlalchemy_url(migrator.url)):
            try:
                command.check(cfg)
            except AutogenerateDiffsDetected as exc:
                diffs = getattr(exc, "diffs", None)
                lines = [_show_diff(d) for d in diffs] if diffs else [str(exc)]
                raise MigrationCheckFailed(
                    "the models and the migrations disagree (autogenerate would write a new revision):\n"
                    + "\n".join(f"  {line}" for line in lines)
                    + "\n  fix: write a migration for these changes, or change the models"
                ) from None
            except CommandError as exc:
                if "MetaData" in str(exc) or "target_metadata" in str(exc):
                    pytest.skip(f"models-match needs target_metadata in Alembic's env.py: {exc}")
                raise MigrationCheckFailed(f"alembic check failed: {exc}") from None


@contextmanager
def _database_url_env(url: str) -> Iterator[None]:
    # `alembic check` runs env.py in this process (its diffs are Python objects); many env.py files
    # read DATABASE_URL rather than alembic.ini, so point both at the scratch database meanwhile.
    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = old


def _show_diff(diff: Any) -> str:
    """``('add_column', None, 'users', Column('name', ...))`` → ``add_column users name TEXT``."""
    if isinstance(diff, list):
        return "; ".join(_show_diff(d) for d in diff)
    if not isinstance(diff, tuple) or not diff:
        return str(diff)
    parts = []
    for value in diff[1:]:
        name = getattr(value, "name", None)
        if value is None or isinstance(value, dict):
            continue
        if name is not None and hasattr(value, "type"):
            parts.append(f"{name} {value.type}")
        elif name is not None:
            parts.append(str(name))
        else:
            parts.append(str(value))
    return " ".join([str(diff[0]), *parts])


_RUNNERS = {
    "single-head": _single_head,
    "upgrade-from-empty": _upgrade_from_empty,
    "round-trip": _round_trip,
    "models-match": _models_match,
}
