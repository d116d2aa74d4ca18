"""Reading and applying the app's migrations: Alembic, or Flyway-style ``V001__name.sql`` files.

Three things are needed from here: find the migrations, hash them (the template's cache
key), and apply them to head with an error that names the file, the line and Postgres' message.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_xaio.config import XaioSettings
from pytest_xaio.errors import config_error
from pytest_xaio.migrations.sqlsplit import split_statements

__all__ = [
    "HISTORY_TABLE",
    "UNDO_FILE",
    "VERSIONED_FILE",
    "ConnectedElsewhereError",
    "MigrationError",
    "MigrationSource",
    "SqlMigration",
    "alembic_current",
    "alembic_downgrade",
    "alembic_heads",
    "alembic_revisions",
    "alembic_upgrade",
    "apply_sql_file",
    "discover",
    "read_sql_dir",
    "sql_applied",
    "sql_downgrade",
    "sql_upgrade",
    "sqlalchemy_url",
    "version_key",
]

HISTORY_TABLE = "xaio_schema_history"
VERSIONED_FILE = re.compile(r"^V(?P<version>\d+(?:[._]\d+)*)__(?P<name>.+)\.sql$", re.IGNORECASE)
UNDO_FILE = re.compile(r"^U(?P<version>\d+(?:[._]\d+)*)__(?P<name>.+)\.sql$", re.IGNORECASE)


class MigrationError(Exception):
    """A migration failed: which file, which line, and what Postgres said."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class SqlMigration:
    version: str
    name: str
    path: Path
    undo: Path | None = None

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.split(r"[._]", self.version))

    @property
    def label(self) -> str:
        """How users and failure messages name it: ``V075``."""
        return f"V{self.version}"


@dataclass(frozen=True)
class MigrationSource:
    """What builds the schema: migrations of one kind, and/or a plain schema file."""

    kind: Literal["sql", "alembic", "none"]
    path: Path | None = None
    schema_sql: Path | None = None
    sql: tuple[SqlMigration, ...] = field(default=())
    env_lines: tuple[str, ...] = field(default=(), compare=False)  # xaio_env, for the Alembic child

    def files(self) -> list[Path]:
        found: list[Path] = []
        if self.kind == "sql":
            for m in self.sql:
                found.append(m.path)
                if m.undo:
                    found.append(m.undo)
        elif self.kind == "alembic" and self.path is not None:
            found.append(self.path)
            script_dir = alembic_script_dir(self.path)
            found.extend(sorted(p for p in script_dir.rglob("*.py") if "__pycache__" not in p.parts))
            found.extend(sorted(script_dir.rglob("*.sql")))
        if self.schema_sql is not None:
            found.append(self.schema_sql)
        return found

    def digest(self) -> str:
        h = hashlib.sha256(f"{self.kind}\n".encode())
        if self.kind == "alembic":  # env.py may build its URL from these: another mapping, another build
            h.update("\n".join(self.env_lines).encode() + b"\0")
        root = self.path.parent if self.path else Path(".")
        for path in self.files():
            try:
                rel = os.path.relpath(path, root)
            except ValueError:
                rel = str(path)
            h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()

    def apply_to_head(self, url: str) -> list[str]:
        """Build the schema; returns the URLs Alembic's env.py connected to (empty for SQL files)."""
        if self.schema_sql is not None:
            apply_sql_file(url, self.schema_sql)
        if self.kind == "sql":
            ensure_history(url)
            for m in self.sql:
                apply_sql_file(url, m.path, record=m)
        elif self.kind == "alembic":
            return alembic_upgrade(self, url, "head")
        return []


def discover(settings: XaioSettings) -> MigrationSource:
    schema = settings.postgres.schema_sql
    schema_path = Path(settings.resolve_path(schema)) if schema else None
    if schema_path is not None and not schema_path.is_file():
        config_error(
            f"xaio_schema_sql points at {schema_path}, which is not a file",
            "fix the path (relative paths start at the rootdir)",
        )
    raw = settings.postgres.migrations
    if not raw:
        return MigrationSource("none", schema_sql=schema_path)
    path = Path(settings.resolve_path(raw))
    lines = tuple(settings.postgres.env)
    if path.is_file() and path.suffix == ".ini":
        return MigrationSource("alembic", path=path, schema_sql=schema_path, env_lines=lines)
    if path.is_dir() and (path / "alembic.ini").is_file():
        return MigrationSource("alembic", path=path / "alembic.ini", schema_sql=schema_path, env_lines=lines)
    if path.is_dir():
        migrations = read_sql_dir(path)
        if not migrations:
            config_error(
                f"xaio_migrations points at {path}, which has no V<version>__<name>.sql files and no alembic.ini",
                "point it at an alembic.ini or a folder of V001__name.sql files",
            )
        return MigrationSource("sql", path=path, schema_sql=schema_path, sql=tuple(migrations))
    if path.exists():
        config_error(
            f"xaio_migrations points at the file {path}, which is neither an alembic.ini nor a folder of "
            "V001__name.sql migrations",
            "point it at your alembic.ini or at the folder that holds the V<version>__<name>.sql files",
        )
    config_error(
        f"xaio_migrations points at {path}, which does not exist", "fix the path (relative paths start at the rootdir)"
    )


def read_sql_dir(path: Path) -> list[SqlMigration]:
    undo: dict[str, Path] = {}
    found: dict[tuple[int, ...], SqlMigration] = {}
    for file in sorted(path.iterdir()):
        u = UNDO_FILE.match(file.name)
        if u:
            undo[_norm(u["version"])] = file
    for file in sorted(path.iterdir()):
        m = VERSIONED_FILE.match(file.name)
        if not m:
            continue
        version = _norm(m["version"])
        mig = SqlMigration(version=version, name=m["name"], path=file, undo=undo.get(version))
        if mig.key in found:
            config_error(
                f"two migrations share version {version}: {found[mig.key].path.name} and {file.name}",
                "give each migration its own version number",
            )
        found[mig.key] = mig
    return [found[k] for k in sorted(found)]


def _norm(version: str) -> str:
    return version.replace("_", ".")


# --- SQL files ----------------------------------------------------------------------------------
def ensure_history(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (version text PRIMARY KEY, name text NOT NULL, "
            "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )


def apply_sql_file(url: str, path: Path, record: SqlMigration | None = None, *, undo: bool = False) -> None:
    """Run one file in one transaction; on error raise MigrationError with the failing line."""
    import psycopg

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        config_error(
            f"the migration {path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
            "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8), then run again",
        )
    line: int | None = None
    with psycopg.connect(url) as conn:
        try:
            with conn.transaction():
                for first_line, statement in split_statements(text):
                    line = first_line
                    conn.execute(statement.encode())  # bytes: run as written, no %-placeholder parsing
                line = None
                if record is not None:
                    if undo:
                        conn.execute(f"DELETE FROM {HISTORY_TABLE} WHERE version = %s", (record.version,))
                    else:
                        conn.execute(
                            f"INSERT INTO {HISTORY_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
                            (record.version, record.name, hashlib.sha256(text.encode()).hexdigest()[:16]),
                        )
        except psycopg.Error as exc:
            raise MigrationError(path, line, _pg_message(exc)) from exc


def _pg_message(exc: object) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    code = getattr(diag, "sqlstate", None) if diag is not None else None
    message = primary or str(exc).strip().splitlines()[0]
    return f"{message} (SQLSTATE {code})" if code else message


def version_key(version: str) -> tuple[int, ...]:
    """``"075"``, ``"V075"``, ``"75"`` and ``"1.2"`` as a comparable key; ``"base"``/``"0"`` is ``()``."""
    text = version.strip()
    if text.lower() == "base":
        return ()
    if text[:1] in ("V", "v", "U", "u"):
        text = text[1:]
    if not re.fullmatch(r"\d+(?:[._]\d+)*", text):
        raise ValueError(f"{version!r} is not a migration version like '075' or '1.2'")
    key = tuple(int(p) for p in re.split(r"[._]", text))
    return () if not any(key) else key


def sql_applied(url: str) -> list[str]:
    """Versions recorded in the history table, oldest first (empty when there is no table yet)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (HISTORY_TABLE,)).fetchone()
        if not exists or not exists[0]:
            return []
        rows = conn.execute(f"SELECT version FROM {HISTORY_TABLE}").fetchall()
    return sorted((str(r[0]) for r in rows), key=version_key)


def _target(source: MigrationSource, to: str | None) -> tuple[int, ...]:
    if to is None or to == "head":
        return source.sql[-1].key if source.sql else ()
    key = version_key(to)
    if key and key not in {m.key for m in source.sql}:
        known = ", ".join(m.version for m in source.sql[-5:])
        raise MigrationError(
            source.path or "migrations", None, f"no migration has version {to!r} (the last ones are {known})"
        )
    return key


def sql_upgrade(source: MigrationSource, url: str, to: str | None = None) -> list[SqlMigration]:
    """Apply the pending SQL migrations up to ``to`` (default: head); returns what was applied."""
    target = _target(source, to)
    ensure_history(url)
    applied = {version_key(v) for v in sql_applied(url)}
    done = []
    for m in source.sql:
        if m.key <= target and m.key not in applied:
            apply_sql_file(url, m.path, record=m)
            done.append(m)
    return done


def sql_downgrade(source: MigrationSource, url: str, to: str) -> list[SqlMigration]:
    """Run the undo files (``U075__...sql``) of applied migrations newer than ``to``, newest first."""
    target = _target(source, to)
    applied = {version_key(v) for v in sql_applied(url)}
    undone = []
    for m in reversed(source.sql):
        if m.key <= target or m.key not in applied:
            continue
        if m.undo is None:
            raise MigrationError(
                m.path,
                None,
                f"{m.label} has no undo file (expected U{m.version}__{m.name}.sql "
                "next to it), so it cannot be rolled back",
            )
        apply_sql_file(url, m.undo, record=m, undo=True)
        undone.append(m)
    return undone


# --- Alembic ------------------------------------------------------------------------------------
def sqlalchemy_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg{sep}{rest}" if scheme in ("postgresql", "postgres") else url


def alembic_script_dir(ini: Path) -> Path:
    from pytest_xaio.migrations.alembic_child import script_dir

    return script_dir(ini)


def alembic_config(source: MigrationSource, url: str) -> Any:
    try:
        from alembic.config import Config
    except ImportError:
        from pytest_xaio.errors import missing_extra

        missing_extra("alembic", "migrations", "Alembic migrations")
    assert source.path is not None
    cfg = Config(str(source.path))
    cfg.set_main_option("script_location", str(alembic_script_dir(source.path)))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    cfg.attributes["xaio_url"] = url
    return cfg


def alembic_upgrade(source: MigrationSource, url: str, revision: str) -> list[str]:
    """Upgrade to ``revision``; returns the URLs env.py connected to."""
    return _alembic("upgrade", source, url, revision)


def alembic_downgrade(source: MigrationSource, url: str, revision: str) -> None:
    _alembic("downgrade", source, url, revision)


class ConnectedElsewhereError(MigrationError):
    """env.py aimed at another database than the one being migrated (the guard stopped it)."""

    def __init__(self, path: Path | str, attempted: str, target: str) -> None:
        self.attempted = attempted
        self.target = target
        super().__init__(path, None, f"env.py tried to connect to {attempted} instead of {target}")


def _alembic(command_name: str, source: MigrationSource, url: str, revision: str) -> list[str]:
    """Run the command in a fresh interpreter, as ``alembic`` from a shell does (see alembic_child)."""
    import sys

    from pytest_xaio.migrations import alembic_child
    from pytest_xaio.postgres.environment import database_env

    assert source.path is not None
    paths = [p for p in sys.path if p and os.path.isdir(p) and not p.startswith((sys.prefix, sys.base_prefix))]
    try:
        return alembic_child.run_alembic(
            source.path, command_name, revision, url, env=database_env(url, source.env_lines), pythonpath=paths
        )
    except alembic_child.ConnectedElsewhereError as exc:
        raise ConnectedElsewhereError(source.path, exc.attempted, exc.target) from None
    except alembic_child.AlembicChildError as exc:
        raise MigrationError(source.path, None, str(exc)) from None


def _script_directory(source: MigrationSource) -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(source, "postgresql://unused/unused"))


def alembic_heads(source: MigrationSource) -> list[str]:
    return list(_script_directory(source).get_heads())


def alembic_revisions(source: MigrationSource) -> list[tuple[str, str | None, Path]]:
    """(revision, down_revision, file) from base to head; a merge's first parent stands for all."""
    scripts = list(_script_directory(source).walk_revisions("base", "heads"))
    out = []
    for script in reversed(scripts):
        down = script.down_revision
        if isinstance(down, (tuple, list)):
            down = down[0] if down else None
        out.append((str(script.revision), down, Path(script.path)))
    return out


def alembic_current(url: str) -> str | None:
    """The revision stamped in ``alembic_version`` (None for an empty database)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return None
        rows = conn.execute("SELECT version_num FROM alembic_version ORDER BY 1").fetchall()
    return ",".join(str(r[0]) for r in rows) or None
