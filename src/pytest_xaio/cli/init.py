"""``xaio init``: write a project's first pytest-xaio tests and settings from what it already has."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from pytest_xaio.cli.checks import constraint_cases
from pytest_xaio.cli.inspect import CliError, ProjectInfo, add_path_argument, inspect_project
from pytest_xaio.cli.probe import probe_app
from pytest_xaio.cli.pyproject import find_ini_target, merge_ini
from pytest_xaio.cli.render import render_conftest, render_constraints, render_endpoints, render_migrations

__all__ = ["add_parser", "env_lines", "run_init", "write_file"]

_DB_PLACEHOLDERS = (
    (re.compile(r"(DATABASE|DB|POSTGRES|PG|SQLALCHEMY).*(URL|URI|DSN)$"), "{url}"),
    (re.compile(r"(POSTGRES|DB|DATABASE)_(SERVER|HOST)$"), "{host}"),
    (re.compile(r"(POSTGRES|DB|DATABASE)_PORT$"), "{port}"),
    (re.compile(r"(POSTGRES|DB|DATABASE)_USER(NAME)?$"), "{user}"),
    (re.compile(r"(POSTGRES|DB|DATABASE)_PASS(WORD)?$"), "{password}"),
    (re.compile(r"(POSTGRES_DB|DB_NAME|DATABASE_NAME|POSTGRES_DATABASE)$"), "{dbname}"),
    (re.compile(r"REDIS.*(URL|URI|DSN)$"), "{redis_url}"),
)
# Nested settings (pydantic's env_nested_delimiter): DATABASE__HOSTNAME, POSTGRES__PORT, REDIS__URL ...
_NESTED_GROUP = re.compile(r"(DATABASE|DB|POSTGRES|PG|SQL)")
_NESTED_LEAVES = {
    leaf: placeholder
    for placeholder, leaves in (
        ("{host}", "HOST HOSTNAME SERVER"),
        ("{port}", "PORT"),
        ("{user}", "USER USERNAME"),
        ("{password}", "PASS PASSWORD"),
        ("{dbname}", "DB NAME DBNAME DATABASE"),
        ("{url}", "URL URI DSN"),
    )
    for leaf in leaves.split()
}
_EXPORTED = {"DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"}
_SECRETISH = re.compile(r"SECRET|PASSWORD|(^|_)KEY$|(^|_)TOKEN$|CLIENT_ID$")
# Values the app's settings accept at import; test-mode keys so no real service could take them.
_PROBE_VALUES = {
    "{url}": "postgresql://xaio:xaio@127.0.0.1:9/xaio_probe",
    "{host}": "127.0.0.1",
    "{port}": "9",
    "{user}": "xaio",
    "{password}": "xaio",
    "{dbname}": "xaio_probe",
    "{redis_url}": "redis://127.0.0.1:9/0",
}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "init",
        help="write tests/ and the pytest-xaio settings for a FastAPI project",
        description="Inspect a FastAPI project (app, migrations, JWT secret, DB settings) and write "
        "tests/conftest.py, tests/test_endpoints.py, tests/test_migrations.py, "
        "tests/test_constraints.py and the [tool.pytest.ini_options] keys in pyproject.toml.",
    )
    add_path_argument(parser)
    parser.add_argument("--force", action="store_true", help="overwrite files and ini keys that already exist")
    parser.add_argument("--app", help="the app as module:attr or module:factory() (default: found by scanning)")
    parser.add_argument(
        "--no-import", action="store_true", help="do not import the app to confirm it (and to find its public routes)"
    )
    parser.set_defaults(handler=run_init)


def env_lines(info: ProjectInfo) -> list[str]:
    """``xaio_env`` lines: DB and Redis settings get the session's values, required secrets a test value."""
    lines: list[str] = []
    for name, required in sorted(info.env_reads.items()):
        if name in _EXPORTED or name.startswith("XAIO_"):
            continue
        placeholder = _placeholder(name)
        if placeholder is not None:
            lines.append(f"{name}={placeholder}")
        elif name.startswith("STRIPE") and "WEBHOOK" in name:
            lines.append(f"{name}=whsec_xaio_test_secret")
        elif name.startswith("STRIPE") and "KEY" in name:
            lines.append(f"{name}=sk_test_xaio")
        elif _SECRETISH.search(name):
            lines.append(f"{name}=xaio-test-{re.sub('_+', '-', name.lower())}-0123456789abcdef0123456789")
        elif required:
            lines.append(f"{name}=xaio-test")
    return lines


def _placeholder(name: str) -> str | None:
    group, nested, leaf = name.rpartition("__")
    if nested:
        if "REDIS" in group and leaf in ("URL", "URI", "DSN"):
            return "{redis_url}"
        return _NESTED_LEAVES.get(leaf) if _NESTED_GROUP.search(group) else None
    return next((value for pattern, value in _DB_PLACEHOLDERS if pattern.search(name)), None)


def write_file(path: Path, text: str, force: bool, root: Path) -> str:
    rel = path.relative_to(root)
    if path.exists() and not force:
        return f"kept   {rel} (it exists; --force overwrites it)"
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return f"{'wrote ' if not existed else 'over  '} {rel}"


def run_init(args: argparse.Namespace) -> int:
    root = Path(args.path).resolve()
    if not root.is_dir():
        raise CliError(f"{args.path} is not a folder")
    target = find_ini_target(root)  # an unreadable or invalid pyproject.toml stops us before any write
    info = inspect_project(root)
    if args.app:
        if not re.fullmatch(r"[\w.]+:[\w.]+(\(\))?", args.app):
            raise CliError(
                f"--app {args.app!r} is not module:attribute (e.g. myapp.main:app or myapp.main:create_app())"
            )
        info.app = args.app
    if not info.app:
        raise CliError(
            f"no FastAPI app found in {root}: no module there creates FastAPI(...); "
            "run `xaio init` in a FastAPI project's folder, or pass --app module:app"
        )
    notes = list(info.notes)
    lines = env_lines(info)
    probed: dict[str, Any] = {}
    if not args.no_import:
        probed = _confirm(info, lines, notes)
    ini = _ini_values(info, lines, probed.get("public"), notes)
    if probed.get("validation_status") not in (None, 422):
        ini["xaio_validation_status"] = probed["validation_status"]
    webhooks = [route for route in probed.get("public", []) if "webhook" in route.lower()]
    if webhooks:
        notes.append(f"left out of the endpoint matrix: {', '.join(webhooks)} (webhooks need signed payloads)")
    logins = [route for route in probed.get("public", []) if route.split(" ")[-1] in _token_urls(info)]
    if logins:
        notes.append(
            f"left out of the endpoint matrix: {', '.join(logins)} (the OAuth2 login form needs a real user's "
            "password; test it by hand)"
        )
    cases, unread = constraint_cases(info.schema)
    for check in unread:
        notes.append(
            f"no test for CHECK ({' '.join(check.expression.split())}) on {check.table} "
            f"({check.source}): its shape is not one xaio init reads"
        )
    tests = root / "tests"
    report = [
        write_file(tests / "conftest.py", render_conftest(info, notes), args.force, root),
        write_file(tests / "test_endpoints.py", render_endpoints(webhooks + logins), args.force, root),
    ]
    migrations = render_migrations(info)
    if migrations is None:
        notes.append(
            "no migrations found (alembic.ini or V001__name.sql files): tests/test_migrations.py "
            "not written; set xaio_migrations or xaio_schema_sql when the app has a schema"
        )
    else:
        report.append(write_file(tests / "test_migrations.py", migrations, args.force, root))
    constraints = render_constraints(cases)
    if constraints is None:
        notes.append(
            "no CHECK constraint or enum column found in the migrations: tests/test_constraints.py not written"
        )
    else:
        report.append(write_file(tests / "test_constraints.py", constraints, args.force, root))
    report += merge_ini(target, ini, args.force)
    print(f"xaio init: {root}")
    for line in report:
        print(f"  {line}")
    if notes:
        print("Could not infer, or worth a look:")
        for note in notes:
            print(f"  - {note}")
    print("Next: run `pytest` in the project folder.")
    return 0


def _confirm(info: ProjectInfo, lines: list[str], notes: list[str]) -> dict[str, Any]:
    env = {"DATABASE_URL": _PROBE_VALUES["{url}"]}
    for line in lines:
        name, _, value = line.partition("=")
        env[name] = _PROBE_VALUES.get(value, value)
    attributes = {
        key: value
        for key, value in (
            ("jwt_secret_from", info.jwt_secret_from),
            ("stripe_webhook_secret_from", info.stripe_webhook_secret_from),
            ("db_dependency", info.db_dependency),
        )
        if value
    }
    errors = []
    for candidate in [info.app, *[c for c in info.app_candidates if c != info.app]][:3]:
        assert candidate is not None
        result = probe_app(info.root, info.import_root, {"app": candidate, "attributes": attributes}, env)
        if result.get("ok"):
            info.app = candidate
            for key, ok in result.get("resolved", {}).items():
                if not ok:
                    notes.append(
                        f"{key} {attributes[key]} did not resolve when the app was imported; check it in pyproject.toml"
                    )
            return result
        errors.append(f"{candidate}: {result.get('error')}")
    notes.append(
        "could not confirm the app by importing it (" + "; ".join(errors) + "); kept "
        f"xaio_app = {info.app}. Public routes were not listed: the matrix reports every route "
        "without an auth dependency as unprotected until xaio_public_routes names it"
    )
    return {}


def _ini_values(info: ProjectInfo, lines: list[str], public: list[str] | None, notes: list[str]) -> dict[str, Any]:
    ini: dict[str, Any] = {"xaio_app": info.app}
    if info.migrations:
        ini["xaio_migrations"] = info.migrations
    if info.db_dependency and _is_async_def(info, info.db_dependency):
        notes.append(
            f"{info.db_dependency} is async: no xaio_db_dependency needed, the plugin finds the app's async "
            "session dependency in its routes and joins it to the test's transaction"
        )
    elif info.db_dependency:
        ini["xaio_db_dependency"] = info.db_dependency
    else:
        notes.append(
            "no DB session dependency (get_db, get_session ...) found: set xaio_db_dependency so the "
            "app's queries join the test's transaction"
        )
    if info.jwt_secret_from:
        ini["xaio_jwt_secret_from"] = info.jwt_secret_from
    else:
        notes.append(
            "no JWT secret setting (SECRET_KEY, JWT_SECRET ...) found: set xaio_jwt_secret or xaio_jwt_secret_from"
        )
    if info.stripe_webhook_secret_from:
        ini["xaio_stripe_webhook_secret_from"] = info.stripe_webhook_secret_from
    if lines:
        ini["xaio_env"] = lines
    if not any(p.endswith(("{url}", "{host}")) for p in lines) and "DATABASE_URL" not in info.env_reads:
        notes.append(
            "no database URL setting (DATABASE_URL, SQLALCHEMY_DATABASE_URI, POSTGRES_* ...) found: "
            "add the app's own names to xaio_env, e.g. MY_DB_URL={url}"
        )
    if _refuses_bad_tokens_with_403(info):
        ini["xaio_expected_status"] = ["unauthenticated = 403"]
        notes.append(
            "the app's token check raises 403: xaio_expected_status has unauthenticated = 403 (a missing "
            "header still gets what the FastAPI security class answers)"
        )
    if public:
        ini["xaio_public_routes"] = public
        notes.append(
            f"{len(public)} route(s) have no auth dependency and were declared public in "
            "xaio_public_routes: remove any that should require a login"
        )
    if info.externals:
        ini["xaio_mock_externals"] = True
    if info.package and not _installed(info.package, info.root):
        ini["pythonpath"] = [info.import_root]
    return ini


def _sources(info: ProjectInfo) -> list[Path]:
    base = info.root / info.import_root / (info.package or "")
    return [p for p in sorted(base.rglob("*.py")) if not {"tests", "versions", "__pycache__"} & set(p.parts)]


def _functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return []
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _token_urls(info: ProjectInfo) -> set[str]:
    """The ``tokenUrl`` of every ``OAuth2PasswordBearer`` in the app's code (its login route)."""
    found: set[str] = set()
    for path in _sources(info):
        text = path.read_text(encoding="utf-8", errors="replace")
        found.update(re.findall(r"tokenUrl\s*=\s*[\"']([^\"']+)[\"']", text))
    return {url if url.startswith("/") else "/" + url for url in found}


def _is_async_def(info: ProjectInfo, spec: str) -> bool:
    module, _, name = spec.partition(":")
    path = info.root / info.import_root / Path(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return any(isinstance(f, ast.AsyncFunctionDef) and f.name == name for f in _functions(candidate))
    return False


def _refuses_bad_tokens_with_403(info: ProjectInfo) -> bool:
    """A function that decodes a token and raises 403 (``HTTP_403_FORBIDDEN``) but never 401."""
    for path in _sources(info):
        for func in _functions(path):
            text = ast.unparse(func)
            raises_403 = "HTTP_403" in text or "status_code=403" in text
            raises_401 = "HTTP_401" in text or "status_code=401" in text
            if "decode(" in text and raises_403 and not raises_401:
                return True
    return False


def _installed(package: str, root: Path) -> bool:
    """Whether ``package`` imports without the project folder on sys.path (installed, maybe editable);
    ``python -m`` puts the current folder first, which says nothing about pytest's run."""
    saved = sys.path[:]
    try:
        sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != root and root not in Path(p).resolve().parents]
        importlib.invalidate_caches()
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False
    finally:
        sys.path[:] = saved
