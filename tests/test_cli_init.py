"""`xaio init`: what it finds in sample projects, what it writes, and what it refuses to touch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from projects import EXAMPLES, copy_project, copy_tree, ruff, run_generated_tests, xaio


def _ini(project: Path) -> dict[str, Any]:
    data = tomlkit.parse((project / "pyproject.toml").read_text()).unwrap()
    return data["tool"]["pytest"]["ini_options"]  # type: ignore[no-any-return]


def test_sql_app_files_and_settings(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    result = xaio("init", str(project))
    assert result.returncode == 0, result.stderr
    for name in ("conftest.py", "test_endpoints.py", "test_migrations.py", "test_constraints.py"):
        assert (project / "tests" / name).is_file(), name
        assert f"wrote  tests/{name}" in result.stdout
    ini = _ini(project)
    assert ini["xaio_app"] == "sqlapp.main:app"
    assert ini["xaio_migrations"] == "db/migrations"
    assert ini["xaio_db_dependency"] == "sqlapp.db:get_db"
    assert ini["xaio_jwt_secret_from"] == "sqlapp.settings:settings.jwt_secret"
    assert "SQLALCHEMY_DATABASE_URI={url}" in ini["xaio_env"]
    assert any(line.startswith("JWT_SECRET=") for line in ini["xaio_env"])
    assert not any(line.startswith("DEBUG=") for line in ini["xaio_env"])
    assert ini["xaio_public_routes"] == ["GET /health", "POST /api/waitlist"]
    assert ini["pythonpath"] == ["."]
    assert ini["addopts"] == ["-ra"]  # the project's own key stays
    text = (project / "pyproject.toml").read_text()
    assert "# Test settings: xaio init adds its keys below these and keeps this comment." in text
    assert "# show the reasons of skipped cases" in text
    assert "no test for CHECK (lower(email) = email) on items" in result.stdout


def test_sql_app_constraint_and_migration_tests(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    assert xaio("init", str(project), "--no-import").returncode == 0
    constraints = (project / "tests" / "test_constraints.py").read_text()
    names = re.findall(r"^def (test_\w+)\(xaio_db\):", constraints, re.MULTILINE)
    assert sorted(names) == [
        "test_items_name_length",
        "test_items_price_range",
        "test_users_plan_values",
        "test_waitlist_position_range",
        "test_waitlist_source_enum",
        "test_waitlist_status_values",
    ]
    compact = re.sub(r"\s+", "", constraints)
    assert 'set(allowed_values(xaio_db,"waitlist","status"))=={"approved","pending","rejected",}' in compact
    assert "for value in (-1, 1001):" in constraints
    migrations = (project / "tests" / "test_migrations.py").read_text()
    assert 'HEAD = "003"' in migrations
    assert 'PREVIOUS = "002"' in migrations
    assert 'CREATED_BY_HEAD = ["items"]' in migrations
    conftest = (project / "tests" / "conftest.py").read_text()
    assert "def pytest_xaio_create_user(db: Any, attrs: dict[str, Any]) -> Any:" in conftest
    assert '"display_name": f"display_name-' in conftest  # NOT NULL, no default: filled in
    assert '"plan"' not in conftest  # has a default: left to the database


def test_generated_files_pass_ruff(tmp_path: Path) -> None:
    for name in ("minimal_app", "sql_app", "alembic_app"):
        assert xaio("init", str(copy_project(name, tmp_path)), "--no-import").returncode == 0
    files = sorted(str(p) for p in tmp_path.glob("*/tests/*.py"))
    assert len(files) == 10
    for args in (["--isolated"], ["--isolated", "--line-length", "88", "--select", "E,F,W,I,B,UP,SIM,RUF,PT"]):
        result = subprocess.run([ruff(), "check", *args, *files], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout


def test_minimal_app_without_migrations(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    result = xaio("init", str(project))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (project / "tests").iterdir()) == ["conftest.py", "test_endpoints.py"]
    assert "no migrations found" in result.stdout
    assert "no users table in the migrations" in result.stdout
    ini = _ini(project)
    assert ini["xaio_app"] == "minimal_app.main:app"
    assert ini["xaio_jwt_secret_from"] == "minimal_app.settings:SECRET_KEY"
    assert ini["xaio_public_routes"] == ["GET /health"]
    assert "xaio_migrations" not in ini
    assert "# the project's own settings stay as they are" in (project / "pyproject.toml").read_text()


def test_alembic_app_with_pytest_ini(tmp_path: Path) -> None:
    project = copy_project("alembic_app", tmp_path)
    before = (project / "pyproject.toml").read_text()
    result = xaio("init", str(project))
    assert result.returncode == 0, result.stderr
    assert (project / "pyproject.toml").read_text() == before  # pytest reads pytest.ini, not pyproject
    assert "pytest.ini holds pytest's settings" in result.stdout
    assert "xaio_app = alembic_app.api:api" in result.stdout
    assert "xaio_migrations = alembic.ini" in result.stdout
    for line in ("POSTGRES_SERVER={host}", "POSTGRES_PORT={port}", "POSTGRES_DB={dbname}"):
        assert line in result.stdout
    constraints = (project / "tests" / "test_constraints.py").read_text()
    assert "def test_orders_quantity_range(xaio_db):" in constraints
    assert 'set(allowed_values(xaio_db, "orders", "state")) == {"open", "paid"}' in constraints
    assert 'HEAD = "0002"' in (project / "tests" / "test_migrations.py").read_text()


def test_src_layout_without_pyproject(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    (project / "pyproject.toml").unlink()
    (project / "src").mkdir()
    (project / "minimal_app").rename(project / "src" / "minimal_app")
    result = xaio("init", str(project))
    assert result.returncode == 0, result.stderr
    assert "[tool.pytest.ini_options]" in (project / "pyproject.toml").read_text()
    ini = _ini(project)
    assert ini["xaio_app"] == "minimal_app.main:app"
    assert ini["pythonpath"] == ["src"]
    assert ini["xaio_public_routes"] == ["GET /health"]  # confirmed by importing it from src/


def test_tox_ini_section_is_left_to_the_user(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().split("# Test settings")[0])  # no pytest section there
    before = pyproject.read_text()
    (project / "tox.ini").write_text("[pytest]\naddopts = -ra\n")
    result = xaio("init", str(project), "--no-import")
    assert result.returncode == 0, result.stderr
    assert pyproject.read_text() == before
    assert "tox.ini holds pytest's settings" in result.stdout
    assert "    xaio_app = sqlapp.main:app" in result.stdout


def test_never_overwrites_without_force(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    assert xaio("init", str(project), "--no-import").returncode == 0
    conftest = project / "tests" / "conftest.py"
    conftest.write_text("# mine\n")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"sqlapp.main:app"', '"sqlapp.main:create_app()"'))
    again = xaio("init", str(project), "--no-import")
    assert again.returncode == 0
    assert conftest.read_text() == "# mine\n"
    assert "kept   tests/conftest.py (it exists; --force overwrites it)" in again.stdout
    assert "kept   xaio_app in pyproject.toml" in again.stdout
    assert _ini(project)["xaio_app"] == "sqlapp.main:create_app()"
    forced = xaio("init", str(project), "--no-import", "--force")
    assert forced.returncode == 0
    assert "pytest_xaio_create_user" in conftest.read_text()
    assert _ini(project)["xaio_app"] == "sqlapp.main:app"


def test_not_a_fastapi_project(tmp_path: Path) -> None:
    project = copy_project("not_fastapi", tmp_path)
    result = xaio("init", str(project))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("xaio init: error: no FastAPI app found in")
    assert not (project / "tests").exists()


def test_invalid_pyproject_stops_before_writing(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    (project / "pyproject.toml").write_text("[project\nname = 'broken'\n")
    result = xaio("init", str(project))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "pyproject.toml is not valid TOML" in result.stderr
    assert not (project / "tests").exists()


@pytest.mark.parametrize("kind", ["not utf-8", "a folder"])
def test_unreadable_pyproject(tmp_path: Path, kind: str) -> None:
    project = copy_project("minimal_app", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.unlink()
    if kind == "a folder":
        pyproject.mkdir()
    else:
        pyproject.write_bytes(b"\xff\xfe[tool]\n")
    result = xaio("init", str(project))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"xaio init: error: cannot read {pyproject}: ")
    assert not (project / "tests").exists()


def test_pytest_section_that_is_not_a_table(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    (project / "pyproject.toml").write_text('[tool]\npytest = "no"\n')
    result = xaio("init", str(project))
    assert result.returncode == 1
    assert "[tool.pytest.ini_options] is not a table" in result.stderr


def test_missing_folder_and_unknown_command(tmp_path: Path) -> None:
    missing = xaio("init", str(tmp_path / "nope"))
    assert missing.returncode == 1
    assert missing.stderr == f"xaio init: error: {tmp_path / 'nope'} is not a folder\n"
    unknown = xaio("bogus")
    assert unknown.returncode == 2
    assert unknown.stderr.count("\n") == 1
    assert "invalid choice: 'bogus'" in unknown.stderr


def test_app_option(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    bad = xaio("init", str(project), "--app", "sqlapp/main.py")
    assert bad.returncode == 1
    assert bad.stderr.startswith("xaio init: error: --app 'sqlapp/main.py' is not module:attribute")
    assert not (project / "tests").exists()
    good = xaio("init", str(project), "--app", "sqlapp.main:create_app()")
    assert good.returncode == 0, good.stderr
    assert _ini(project)["xaio_app"] == "sqlapp.main:create_app()"


def test_help_of_every_command() -> None:
    for args in (["--help"], ["init", "--help"], ["ci", "--help"], ["doctor", "--help"], ["cache", "clear", "--help"]):
        result = xaio(*args)
        assert result.returncode == 0, args
        assert result.stdout.startswith("usage: xaio"), args


def test_app_that_fails_to_import_is_reported(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    (project / "minimal_app" / "main.py").write_text(
        (project / "minimal_app" / "main.py").read_text() + "\nraise RuntimeError('boom at import')\n"
    )
    result = xaio("init", str(project))
    assert result.returncode == 0
    assert "could not confirm the app by importing it" in result.stdout
    assert "RuntimeError: boom at import" in result.stdout
    assert _ini(project)["xaio_app"] == "minimal_app.main:app"


# --- running what was generated -----------------------------------------------------------------
def test_generated_tests_pass_on_the_minimal_app(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    assert xaio("init", str(project)).returncode == 0
    result = run_generated_tests(project)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (
        "GET /api/whoami-401"
        in subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    )


def test_generated_db_tests_pass_on_the_sql_app(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    assert xaio("init", str(project)).returncode == 0
    result = run_generated_tests(project, "tests/test_migrations.py", "tests/test_constraints.py")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "8 passed" in result.stdout


def test_generated_tests_pass_on_the_sql_app(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    assert xaio("init", str(project)).returncode == 0
    result = run_generated_tests(project)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.slow
def test_printed_lines_work_in_pytest_ini_on_the_alembic_app(tmp_path: Path) -> None:
    """The lines printed for pytest.ini, pasted there as printed, configure a passing run."""
    project = copy_project("alembic_app", tmp_path)
    result = xaio("init", str(project))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "add these lines" in line) + 1
    snippet = []
    for line in lines[start:]:
        if not line.startswith("      "):
            break
        snippet.append(line)
    with (project / "pytest.ini").open("a") as handle:
        handle.write(textwrap.dedent("\n".join(snippet)) + "\n")
    run = run_generated_tests(project)
    assert run.returncode == 0, run.stdout[-3000:]
    passed = re.search(r"(\d+) passed in ", run.stdout)  # not the endpoint matrix summary line
    assert passed is not None
    assert int(passed.group(1)) >= 4  # 2 migration tests, 2 constraint tests, and the matrix


@pytest.mark.slow
def test_pytest_passes_right_after_init_on_the_examples_app(tmp_path: Path) -> None:
    """The example app as it is in the repository: init adds what is missing, keeps what is there."""
    source = EXAMPLES / "saas_app"
    if not (source / "saas_app" / "main.py").is_file():
        pytest.skip("examples/saas_app (with saas_app/main.py) is not in this checkout yet")
    project = tmp_path / "saas_app"
    copy_tree(source, project)
    before = {p.name: p.read_text() for p in (project / "tests").glob("*.py")}
    ini_before = _ini(project)
    result = xaio("init", str(project))
    assert result.returncode == 0, result.stderr
    for name, text in before.items():  # nothing the project had is overwritten
        assert (project / "tests" / name).read_text() == text, name
    ini = _ini(project)
    assert {k: v for k, v in ini.items() if k in ini_before} == ini_before
    for name in ("test_migrations.py", "test_constraints.py"):
        assert (project / "tests" / name).is_file(), name
    run = run_generated_tests(project)
    assert run.returncode == 0, run.stdout[-5000:]


def test_init_reads_the_examples_app_settings(tmp_path: Path) -> None:
    """With its xaio settings removed, init finds the same ones the example's authors wrote."""
    source = EXAMPLES / "saas_app"
    if not (source / "saas_app" / "main.py").is_file():
        pytest.skip("examples/saas_app (with saas_app/main.py) is not in this checkout yet")
    project = tmp_path / "saas_app"
    copy_tree(source, project, "tests")
    pyproject = project / "pyproject.toml"
    original = _ini(project)
    pyproject.write_text("\n".join(_strip_xaio_keys(pyproject.read_text())) + "\n")
    result = xaio("init", str(project))
    assert result.returncode == 0, result.stderr
    ini = _ini(project)
    for key in (
        "xaio_app",
        "xaio_migrations",
        "xaio_db_dependency",
        "xaio_jwt_secret_from",
        "xaio_stripe_webhook_secret_from",
        "xaio_mock_externals",
        "xaio_validation_status",
    ):
        assert ini.get(key) == original.get(key), key
    assert set(ini["xaio_public_routes"]) == set(original["xaio_public_routes"])
    assert "REDIS_URL={redis_url}" in ini["xaio_env"]


def _strip_xaio_keys(text: str) -> list[str]:
    """The lines of a pyproject without its ``xaio_*`` keys (multi-line arrays included)."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        if skipping:
            skipping = not line.strip().startswith("]")
            continue
        if line.startswith("xaio_"):
            skipping = line.rstrip().endswith("[")
            continue
        out.append(line)
    return out


@pytest.mark.slow
def test_xaio_init_writes_a_passing_suite_for_the_async_shape(tmp_path: Path) -> None:
    """tests/projects/async_app's code with no pytest config and no tests: nested DATABASE__* settings,
    a get_settings() getter for the secret, the user_account table (UUID key user_id), an async
    dependency. init maps them all, and the suite it writes passes on the embedded default."""
    project = copy_project("async_app", tmp_path)
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text[: text.index("[tool.pytest.ini_options]")])
    shutil.rmtree(project / "tests")
    done = xaio("init", str(project))
    assert done.returncode == 0, done.stderr
    ini = _ini(project)
    env = ini["xaio_env"]
    for line in (
        "DATABASE__HOSTNAME={host}",
        "DATABASE__PORT={port}",
        "DATABASE__USERNAME={user}",
        "DATABASE__PASSWORD={password}",
        "DATABASE__DB={dbname}",
    ):
        assert line in env, env
    assert ini["xaio_jwt_secret_from"] == "app.core.config:get_settings().security.jwt_secret_key"
    assert "xaio_db_dependency" not in ini  # async: the plugin finds and joins it by itself
    assert "xaio_isolation" not in ini
    assert "app.api.deps:get_session is async: no xaio_db_dependency needed" in done.stdout
    conftest = (project / "tests" / "conftest.py").read_text()
    assert 'sql.Identifier("user_account")' in conftest
    assert 'return {**row, "id": row["user_id"]}' in conftest
    run = run_generated_tests(project)
    assert run.returncode == 0, run.stdout[-5000:]
    last = run.stdout.strip().splitlines()[-1]  # pytest's own line, e.g. "35 passed, 2 skipped ... in 4.9s"
    passed = re.match(r"(\d+) passed\b", last)
    assert passed is not None, last
    assert int(passed.group(1)) >= 3, last
    assert "failed" not in last
    assert ", failed 0," in run.stdout  # the endpoint matrix's own count
    # No xaio_db_dependency: the plugin found the async dependency and joined it to each test's transaction.
    assert "xaio: async session dependency app.api.deps:get_session (found in the app's routes" in run.stdout
