"""Alembic commands run the way ``alembic upgrade head`` runs from a shell: in a fresh interpreter.

Running ``env.py`` inside the test process would import the app's settings module there, with
whatever environment that process had at that moment, and keep it in ``sys.modules`` for the whole
session. A child interpreter starts clean: its environment points at the target database (the
plugin's ``DATABASE_URL``, ``PG*`` and the ``xaio_env`` lines, rendered for that database), its
working directory is the folder of ``alembic.ini`` (so ``.env`` files and relative paths resolve
as they do for the developer), and the user's driver is left alone (an async ``env.py`` keeps
asyncpg). Inside it the connection guard allows the target database only: an ``env.py`` that
would migrate another database is stopped before it connects, and the parent learns where it
tried to go.

``python -m pytest_xaio.migrations.alembic_child INI COMMAND REVISION URL`` is the child's entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["AlembicChildError", "ConnectedElsewhereError", "run_alembic"]

_RESULT = "XAIO-ALEMBIC-RESULT "


class AlembicChildError(Exception):
    """The command failed in the child: ``message`` names the revision file and what Postgres said."""


class ConnectedElsewhereError(Exception):
    """The migrations tried to connect to a database other than the target."""

    def __init__(self, attempted: str, target: str) -> None:
        self.attempted = attempted
        self.target = target
        super().__init__(f"env.py connected to {attempted}, not to the database being migrated ({target})")


def run_alembic(
    ini: Path,
    command: str,
    revision: str,
    url: str,
    *,
    env: Mapping[str, str],
    pythonpath: Sequence[str] = (),
    timeout: float = 900,
) -> list[str]:
    """Run ``alembic <command> <revision>`` against ``url`` in a child; returns the URLs it connected to.

    Raises :class:`ConnectedElsewhereError` when env.py aimed at another database, and
    :class:`AlembicChildError` when a migration failed.
    """
    child_env = {**os.environ, **env}
    paths = [str(ini.parent), *pythonpath, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    child_env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    child_env.pop("PYTEST_ADDOPTS", None)
    args = [sys.executable, "-m", "pytest_xaio.migrations.alembic_child", str(ini), command, revision, url]
    try:
        done = subprocess.run(
            args, cwd=ini.parent, env=child_env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise AlembicChildError(f"alembic {command} {revision} did not finish within {timeout:.0f} s") from None
    result: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith(_RESULT):
            result = json.loads(line[len(_RESULT) :])
    if result.get("ok"):
        return list(result.get("connected", []))
    if result.get("elsewhere"):
        raise ConnectedElsewhereError(str(result["elsewhere"]), str(result.get("target", url)))
    message = result.get("message") or _last_lines(done.stderr) or f"exit status {done.returncode}"
    raise AlembicChildError(str(message))


def _last_lines(text: str, count: int = 8) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])


# --- the child ------------------------------------------------------------------------------------
def _same_database(a: Any, b: Any) -> bool:
    from pytest_xaio.postgres import is_local_host

    if a.dbname != b.dbname or a.port != b.port:
        return False
    return a.host == b.host or (is_local_host(a.host) and is_local_host(b.host))


def _sqlalchemy_url(ini_url: str | None, url: str) -> str:
    """The target URL with the driver alembic.ini names (``postgresql+asyncpg``), or psycopg 3."""
    scheme = (ini_url or "").partition("://")[0]
    driver = scheme if scheme.startswith("postgresql+") else "postgresql+psycopg"
    return driver + "://" + url.partition("://")[2]


def main(argv: Sequence[str]) -> int:
    ini, command_name, revision, url = argv
    from pytest_xaio.postgres.connection_guard import ConnectionGuard, WrongDatabaseError, resolve_target

    target = resolve_target(url)
    attempts: list[str] = []

    def policy(seen: Any) -> str | None:
        attempts.append(seen.url)
        if _same_database(seen, target):
            return None
        return f"migrations may only connect to {target.url}; this one tried {seen.url}"

    guard = ConnectionGuard(policy).install()
    out: dict[str, Any] = {"target": target.url}
    try:
        from alembic import command
        from alembic.config import Config

        cfg = Config(ini)
        cfg.set_main_option("script_location", str(script_dir(Path(ini))))
        cfg.set_main_option(
            "sqlalchemy.url", _sqlalchemy_url(cfg.get_main_option("sqlalchemy.url"), url).replace("%", "%%")
        )
        cfg.attributes["xaio_url"] = url
        try:
            getattr(command, command_name)(cfg, revision)
            out["ok"] = True
        except BaseException as exc:
            refused = _refusal(exc, WrongDatabaseError)
            if refused is not None:
                out["elsewhere"] = next((a for a in attempts if a != target.url), str(refused))
            else:
                out["message"] = error_message(exc)
    finally:
        guard.uninstall()
    out["connected"] = attempts
    sys.stdout.write("\n" + _RESULT + json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0 if out.get("ok") else 1


def script_dir(ini: Path) -> Path:
    """The folder of the migration scripts that ``alembic.ini`` names (``script_location``)."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ini)
    location = parser.get("alembic", "script_location", fallback="alembic", raw=True)
    location = location.replace("%(here)s", str(ini.parent))
    path = Path(location)
    return path if path.is_absolute() else ini.parent / path


def error_message(exc: BaseException) -> str:
    """The exception, with Postgres' message and the user's revision file (not alembic internals)."""
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if "/versions/" in filename.replace(os.sep, "/"):
            where = f" (in {filename}:{tb.tb_lineno})"
        tb = tb.tb_next
    orig = getattr(exc, "orig", None)
    if orig is not None:
        diag = getattr(orig, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        code = getattr(diag, "sqlstate", None) if diag is not None else None
        message = primary or str(orig).strip().splitlines()[0]
        message = f"{message} (SQLSTATE {code})" if code else message
    else:
        lines = str(exc).strip().splitlines()
        message = lines[0] if lines else ""
    return f"{type(exc).__name__}: {message}{where}"


def _refusal(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
