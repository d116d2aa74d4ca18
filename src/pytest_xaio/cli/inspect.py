"""Read a FastAPI project without running it: the app, migrations, settings and what they need.

Everything here reads source with :mod:`ast`; the app is only imported later, in a subprocess
(:mod:`pytest_xaio.cli.probe`), because importing a user's app can have side effects.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_xaio.cli.alembic_schema import call_name, read_alembic
from pytest_xaio.cli.schema import Schema, read_sql_files
from pytest_xaio.cli.settings_scan import find_settings

__all__ = ["CliError", "Module", "ProjectInfo", "add_path_argument", "inspect_project", "one_line", "python_modules"]

_SKIP_DIRS = {
    "venv",
    "env",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    "site-packages",
    "tests",
    "test",
    "migrations",
    "alembic",
    "docs",
    "htmlcov",
}
_MAX_FILES = 3000
_DB_DEPENDENCIES = ("get_db", "get_session", "get_db_session", "get_async_session", "get_async_db", "db_session")
_EXTERNAL_MODULES = {"stripe": "Stripe", "brevo_python": "Brevo", "sib_api_v3_sdk": "Brevo", "github": "GitHub"}
_EXTERNAL_HOSTS = {
    "api.stripe.com": "Stripe",
    "api.brevo.com": "Brevo",
    "api.sendinblue.com": "Brevo",
    "api.github.com": "GitHub",
    "github.com/login/oauth": "GitHub",
}


class CliError(Exception):
    """Bad input: the command ends with this one-line message and a non-zero exit."""


def add_path_argument(parser: Any) -> None:
    """The optional project-folder argument every subcommand takes, with one wording."""
    parser.add_argument("path", nargs="?", default=".", help="the project folder (default: the current one)")


def one_line(exc: BaseException) -> str:
    """A plugin error (problem, then "fix: ...") as the single line the command prints."""
    return " ".join(str(exc).replace("pytest-xaio: ", "").split())


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    text: str


@dataclass
class ProjectInfo:
    root: Path
    import_root: str = "."
    app: str | None = None
    app_candidates: list[str] = field(default_factory=list)
    package: str | None = None
    migrations: str | None = None
    migration_kind: str = "none"
    schema: Schema = field(default_factory=Schema)
    versions: list[tuple[str, str | None, str]] = field(default_factory=list)  # (version, previous, file)
    undo_files: set[str] = field(default_factory=set)  # versions that have an undo
    jwt_secret_from: str | None = None
    stripe_webhook_secret_from: str | None = None
    db_dependency: str | None = None
    env_reads: dict[str, bool] = field(default_factory=dict)  # env var -> read without a default
    externals: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def python_modules(root: Path) -> list[Module]:
    found: list[Module] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and d not in _SKIP_DIRS and not (Path(dirpath) / d / "pyvenv.cfg").exists()
        )
        for filename in sorted(filenames):
            if not filename.endswith(".py") or filename.startswith(("test_", "conftest")):
                continue
            path = Path(dirpath) / filename
            try:
                text = path.read_text(encoding="utf-8")
                tree = ast.parse(text)
            except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
                continue
            found.append(Module(_module_name(path), path, tree, text))
            if len(found) >= _MAX_FILES:
                return found
    return found


def _module_name(path: Path) -> str:
    parts = [] if path.stem == "__init__" else [path.stem]
    parent = path.parent
    while (parent / "__init__.py").exists():
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts)


def _import_root(path: Path) -> Path:
    parent = path.parent
    while (parent / "__init__.py").exists():
        parent = parent.parent
    return parent


def inspect_project(root: Path) -> ProjectInfo:
    if not root.is_dir():
        raise CliError(f"{root} is not a directory")
    info = ProjectInfo(root=root)
    modules = python_modules(root)
    _find_app(info, modules)
    _find_settings(info, modules)
    _find_dependency(info, modules)
    _find_externals(info, modules)
    _find_migrations(info)
    return info


# --- the app ------------------------------------------------------------------------------------
def _is_fastapi_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "FastAPI")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "FastAPI")
    )


def _find_app(info: ProjectInfo, modules: list[Module]) -> None:
    factories: list[tuple[Module, str]] = []
    direct: list[tuple[Module, str]] = []
    for module in modules:
        if "FastAPI(" not in module.text:
            continue
        for node in module.tree.body:
            if isinstance(node, ast.Assign) and _is_fastapi_call(node.value):
                direct += [(module, t.id) for t in node.targets if isinstance(t, ast.Name)]
            elif (
                isinstance(node, ast.AnnAssign)
                and node.value is not None
                and _is_fastapi_call(node.value)
                and isinstance(node.target, ast.Name)
            ):
                direct.append((module, node.target.id))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                _is_fastapi_call(n) for n in ast.walk(node)
            ):
                factories.append((module, node.name))
    names = {name for _, name in factories}
    for module in modules:  # app = create_app() at module level, maybe in another module
        for node in module.tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and call_name(node.value) in names:
                direct += [(module, t.id) for t in node.targets if isinstance(t, ast.Name)]
    ranked = sorted(direct, key=lambda mt: (mt[1] != "app", mt[0].path.stem not in ("main", "app"), len(mt[0].name)))
    chosen = ranked + [(m, name + "()") for m, name in factories]
    info.app_candidates = [f"{m.name}:{attr}" for m, attr in chosen]
    if not chosen:
        return
    module, _ = chosen[0]
    info.app = info.app_candidates[0]
    info.import_root = os.path.relpath(_import_root(module.path), info.root)
    info.package = module.name.split(".")[0]


# --- settings -----------------------------------------------------------------------------------
def _find_settings(info: ProjectInfo, modules: list[Module]) -> None:
    found = find_settings([(m.name, m.tree) for m in modules])
    for name, required in found.env_reads.items():
        info.env_reads[name] = info.env_reads.get(name, False) or required
    info.jwt_secret_from = found.jwt_secret_from
    info.stripe_webhook_secret_from = found.stripe_webhook_secret_from


# --- the DB dependency and external services ----------------------------------------------------
def _find_dependency(info: ProjectInfo, modules: list[Module]) -> None:
    candidates: list[tuple[int, str]] = []
    for module in modules:
        for node in module.tree.body:
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.name in _DB_DEPENDENCIES
                and any(isinstance(n, (ast.Yield, ast.Return)) for n in ast.walk(node))
            ):
                uses = sum(m.text.count(f"Depends({node.name})") for m in modules)
                candidates.append((-uses, f"{module.name}:{node.name}"))
    if candidates:
        info.db_dependency = sorted(candidates)[0][1]


def _find_externals(info: ProjectInfo, modules: list[Module]) -> None:
    for module in modules:
        for node in ast.walk(module.tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                service = _EXTERNAL_MODULES.get(name.split(".")[0])
                if service:
                    info.externals.add(service)
        for host, service in _EXTERNAL_HOSTS.items():
            if host in module.text:
                info.externals.add(service)


# --- migrations ---------------------------------------------------------------------------------
_SQL_MIGRATION = re.compile(r"^V\d+(?:[._]\d+)*__.+\.sql$", re.IGNORECASE)


def _find_migrations(info: ProjectInfo) -> None:
    from pytest_xaio.errors import XaioConfigError
    from pytest_xaio.migrations.source import read_sql_dir

    root = info.root
    inis = sorted(_walk_files(root, lambda name: name == "alembic.ini"), key=lambda p: len(p.parts))
    if inis:
        ini = inis[0]
        info.migration_kind = "alembic"
        info.migrations = os.path.relpath(ini, root)
        versions = _alembic_script_dir(ini) / "versions"
        if versions.is_dir():
            info.schema, info.versions = read_alembic(versions)
        else:
            info.notes.append(f"alembic.ini found, but no versions folder at {versions}")
        return
    counts: dict[Path, int] = {}
    for path in _walk_files(root, lambda name: bool(_SQL_MIGRATION.match(name))):
        counts[path.parent] = counts.get(path.parent, 0) + 1
    if not counts:
        return
    folder = max(counts, key=lambda p: (counts[p], -len(p.parts)))
    try:
        migrations = read_sql_dir(folder)
    except XaioConfigError as exc:
        raise CliError(one_line(exc)) from None
    info.migration_kind = "sql"
    info.migrations = os.path.relpath(folder, root)
    info.schema = read_sql_files([m.path for m in migrations])
    previous: str | None = None
    for m in migrations:
        info.versions.append((m.version, previous, m.path.name))
        if m.undo is not None:
            info.undo_files.add(m.version)
        previous = m.version


def _alembic_script_dir(ini: Path) -> Path:
    import configparser

    from pytest_xaio.migrations.source import alembic_script_dir

    try:
        return alembic_script_dir(ini)
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {ini}: {' '.join(str(exc).split())}") from None


def _walk_files(root: Path, match: Callable[[str], bool]) -> list[Path]:
    skip = _SKIP_DIRS - {"migrations", "alembic"}
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and d not in skip and not (Path(dirpath) / d / "pyvenv.cfg").exists()
        )
        found += [Path(dirpath) / f for f in filenames if match(f)]
    return found
