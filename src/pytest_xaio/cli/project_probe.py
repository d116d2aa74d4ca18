"""The child process of ``xaio doctor``: read a project's settings and import its app as a pytest run would.

Run as ``python -m pytest_xaio.cli.project_probe`` in the project folder by :func:`probe_project`.
pytest itself reads the configuration (``pytest.ini``, ``pyproject.toml``, ``tox.ini``,
``setup.cfg``; ``addopts``, ``pythonpath``, the installed plugins), so what is checked is what
``pytest`` will see. The plugin's environment (``DATABASE_URL``, ``PG*``, the ``xaio_env`` lines)
is exported before the conftest files are imported, as in a test run, but pointing at a closed port
(:data:`pytest_xaio.env.COLLECT_ONLY_DATABASE`, what ``--collect-only`` uses): the app and the
conftest files import without a database being created or reached. The run ends before pytest's
session starts (``pytest_cmdline_main``), so nothing is collected and no server is started.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import os
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_xaio.cli.probe import error_line, print_answer, run_child

__all__ = ["probe_project"]

_MARK = "XAIO-DOCTOR-RESULT:"


def probe_project(root: Path, timeout: float = 120) -> dict[str, Any]:
    """What the child found: ``settings``, ``conftest``, ``app``, ``engines``, ``migrations`` (dicts),
    ``exit`` and ``stderr`` (pytest's own usage error, when it stopped before the plugin could read)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    run = run_child("pytest_xaio.cli.project_probe", [], _MARK, root, env, timeout)
    if run is None:
        return {"exit": None, "stderr": f"reading the project took longer than {timeout:.0f} s"}
    if run.answer is not None:
        run.answer["stderr"] = run.stderr
        return run.answer
    return {"exit": run.returncode, "stderr": run.stderr or run.stdout}


def _message(exc: BaseException) -> str:
    return error_line(exc, 600, plain=(pytest.UsageError,))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class _Doctor:
    """A pytest plugin for one run: reads, exports, imports, reports; then ends the run."""

    def __init__(self) -> None:
        self.result: dict[str, Any] = {}
        self.settings: Any = None
        self.exported: dict[str, str] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_load_initial_conftests(self, early_config: pytest.Config) -> Generator[None, Any, Any]:
        self._read_settings(early_config)
        try:
            result = yield
        except Exception as exc:  # pytest's ConftestImportFailure: which file, and the error inside it
            cause = getattr(exc, "cause", None) or exc.__cause__ or exc
            path = getattr(exc, "path", None)
            self.result["conftest"] = {"ok": False, "path": str(path or ""), "error": _message(cause)}
            return None
        self.result["conftest"] = {"ok": True}
        return result

    def _read_settings(self, config: pytest.Config) -> None:
        from pytest_xaio.config import OPTIONS, XaioSettings
        from pytest_xaio.env import COLLECT_ONLY_DATABASE, COLLECT_ONLY_REDIS
        from pytest_xaio.postgres.environment import database_env

        inipath = getattr(config, "inipath", None)
        info: dict[str, Any] = {"inipath": str(inipath) if inipath else None, "rootdir": str(config.rootpath)}
        if not config.pluginmanager.has_plugin("xaio"):
            self.result["settings"] = {
                **info,
                "ok": False,
                "error": "the pytest-xaio plugin is turned off in this configuration (-p no:xaio) fix: remove "
                "-p no:xaio from addopts (or PYTEST_ADDOPTS) to test with the plugin",
            }
            return
        try:
            settings = XaioSettings.from_pytest(config, options=config.known_args_namespace)
            env = database_env(COLLECT_ONLY_DATABASE, settings.postgres.env, COLLECT_ONLY_REDIS)
        except pytest.UsageError as exc:
            self.result["settings"] = {**info, "ok": False, "error": _message(exc)}
            return
        in_file = [opt.ini_name for opt in OPTIONS if config.getini(opt.ini_name) not in (None, "", [])]
        from_env = [opt.env_name for opt in OPTIONS if opt.env and opt.env_name in os.environ]
        self.settings = settings
        values = {
            name: _jsonable(value)
            for section in ("postgres", "redis", "app", "auth")
            for name, value in dataclasses.asdict(getattr(settings, section)).items()
        }
        self.result["settings"] = {**info, "ok": True, "in_file": in_file, "from_env": from_env, "values": values}
        if settings.postgres.postgres != "none":
            os.environ.update(env)
            self.exported = env

    @pytest.hookimpl(tryfirst=True)
    def pytest_cmdline_main(self, config: pytest.Config) -> int:
        if self.settings is not None:
            loaded_before = set(sys.modules)
            self.result["app"] = self._import_app(config)
            app_module = (self.settings.app.app or "").partition(":")[0]
            self.result["app"]["imported_by_conftest"] = bool(app_module) and app_module in loaded_before
            self.result["engines"] = _engines()
            if self.result["app"].get("ok") is not False:
                self.result["references"] = self._references(config)
            self.result["migrations"] = self._migrations()
        return 0

    def _references(self, config: pytest.Config) -> dict[str, Any]:
        """The other settings that name code, resolved as the plugin resolves them (after the app)."""
        from pytest_xaio.resolve import resolve_object

        settings = self.settings
        named = [
            ("xaio_db_dependency", settings.postgres.db_dependency),
            ("xaio_db_session_class", settings.postgres.db_session_class),
            ("xaio_jwt_secret_from", settings.auth.jwt_secret_from),
            ("xaio_stripe_webhook_secret_from", settings.externals.stripe_webhook_secret_from),
            *(("xaio_auth_dependencies", spec) for spec in settings.matrix.auth_dependencies),
            *(("xaio_admin_dependencies", spec) for spec in settings.matrix.admin_dependencies),
        ]
        resolved, errors = [], []
        for setting, spec in named:
            if not spec:
                continue
            try:
                resolve_object(spec, setting=setting, rootdir=str(config.rootpath))
                resolved.append(setting)
            except BaseException as exc:
                errors.append(_message(exc))
        return {"resolved": resolved, "errors": errors}

    def _import_app(self, config: pytest.Config) -> dict[str, Any]:
        from pytest_xaio.resolve import resolve_object

        spec = self.settings.app.app
        if not spec:
            return {"ok": None}
        try:
            app = resolve_object(spec, setting="xaio_app", rootdir=str(config.rootpath))
        except BaseException as exc:
            return {"ok": False, "error": _message(exc)}
        routes = getattr(app, "routes", None)
        return {"ok": True, "type": type(app).__name__, "routes": len(routes) if isinstance(routes, list) else None}

    def _migrations(self) -> dict[str, Any]:
        from pytest_xaio.migrations.source import alembic_heads, alembic_revisions, discover

        try:
            source = discover(self.settings)
            answer: dict[str, Any] = {"ok": True, "kind": source.kind, "path": str(source.path or "")}
            if source.kind == "sql":
                head = source.sql[-1]
                answer.update(count=len(source.sql), head=f"{head.label} ({head.name})")
            elif source.kind == "alembic":
                revisions = alembic_revisions(source)
                heads = alembic_heads(source)
                answer.update(count=len(revisions), head=", ".join(heads), heads=len(heads))
            answer["schema_sql"] = str(source.schema_sql or "")
            answer["extensions"] = _extensions_needed(source.files())
        except BaseException as exc:
            return {"ok": False, "error": _message(exc)}
        return answer


def _extensions_needed(files: list[Path]) -> dict[str, str]:
    """Extension name -> the first migration file whose text creates it (SQL or an Alembic op.execute)."""
    import re

    pattern = re.compile(r"CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?(\"?)([\w-]+)\1", re.IGNORECASE)
    found: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in pattern.finditer(text):
            found.setdefault(match.group(2).lower(), path.name)
    return found


def _engines() -> list[str]:
    """Where the SQLAlchemy engines the import made point (host:port/database), PostgreSQL ones only."""
    if "sqlalchemy" not in sys.modules or importlib.util.find_spec("sqlalchemy") is None:
        return []
    from sqlalchemy.engine import Engine

    seen: list[str] = []
    for obj in gc.get_objects():
        if isinstance(obj, Engine) and obj.url.get_backend_name() == "postgresql":
            where = f"{obj.url.host or ''}:{obj.url.port or 5432}/{obj.url.database or ''}"
            if where not in seen:
                seen.append(where)
    return seen


def main() -> None:
    doctor = _Doctor()
    args = ["--collect-only", "-p", "no:cacheprovider", "-q"]
    if importlib.util.find_spec("pytest_cov") is not None:
        args.append("--no-cov")  # an addopts --cov would start measuring and write .coverage
    try:
        code = pytest.main(args, plugins=[doctor])
    except BaseException as exc:  # a crash in a plugin's early hook: still one answer
        doctor.result.setdefault("crash", _message(exc))
        code = -1
    print_answer(_MARK, {**doctor.result, "exit": int(code)})


if __name__ == "__main__":
    main()
