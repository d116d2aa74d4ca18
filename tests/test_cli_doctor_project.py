"""`xaio doctor` checks the project: one line per check (ok, warn or fail, with the fix), exit 1 when
one fails. Each test runs the real command in a child process on a real project folder: the example
app, tests/projects/*, and broken copies of them made in tmp_path."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from projects import EXAMPLES, copy_project, copy_tree, xaio

#: sql_app's settings, as a developer would write them (the app reads SQLALCHEMY_DATABASE_URI and JWT_SECRET).
SQL_APP_INI = """
pythonpath = ["."]
xaio_app = "sqlapp.main:app"
xaio_migrations = "db/migrations"
xaio_db_dependency = "sqlapp.db:get_db"
xaio_env = [{env}]
"""
SQL_APP_ENV = ['"SQLALCHEMY_DATABASE_URI={url}"', '"JWT_SECRET=test-secret-0123456789abcdef0123456789"']


def doctor(project: Path, **env: str | None) -> subprocess.CompletedProcess[str]:
    """``xaio doctor PROJECT`` with the embedded default unless ``env`` says otherwise."""
    return xaio("doctor", str(project), env={"XAIO_POSTGRES_URL": None, "XAIO_REDIS_URL": None, **env})


def checks(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """Check name -> (status, message), from the lines under ``Project ...:``."""
    found: dict[str, tuple[str, str]] = {}
    for line in result.stdout.splitlines():
        m = re.match(
            r"^  (ok|warn|fail) +(settings|postgres|conftest|app engine|app|references|migrations|extensions|redis|docker)"
            r" +(.*)$",
            line,
        )
        if m:
            assert m.group(2) not in found, f"two {m.group(2)} lines:\n{result.stdout}"
            found[m.group(2)] = (m.group(1), m.group(3))
    return found


def passing_checks(project: Path) -> dict[str, tuple[str, str]]:
    """``xaio doctor PROJECT``'s checks when it passes: exit 0, the app imports, and no engine made at
    import points anywhere but the test database (no ``app engine`` line)."""
    result = doctor(project)
    assert result.returncode == 0, result.stdout + result.stderr
    found = checks(result)
    assert found["app"][0] == "ok"
    assert "app engine" not in found
    return found


def sql_app(tmp_path: Path, env: list[str] | None = None, extra: str = "") -> Path:
    project = copy_project("sql_app", tmp_path)
    pyproject = project / "pyproject.toml"
    lines = SQL_APP_ENV if env is None else env
    pyproject.write_text(pyproject.read_text() + SQL_APP_INI.format(env=", ".join(lines)) + extra)
    return project


def test_the_example_app_is_all_ok(tmp_path: Path) -> None:
    project = tmp_path / "saas_app"
    copy_tree(EXAMPLES / "saas_app", project)
    result = doctor(project)
    assert result.returncode == 0, result.stdout + result.stderr
    found = checks(result)
    assert found["settings"][0] == "ok"
    assert found["settings"][1].startswith(f"pyproject.toml (rootdir {project}): ")
    assert found["postgres"][0] == "ok"
    assert found["postgres"][1].startswith("embedded PostgreSQL 18")
    assert found["app"] == (
        "ok",
        "saas_app.main:app imports with the test environment (FastAPI, "
        + found["app"][1][len("saas_app.main:app imports with the test environment (FastAPI, ") :],
    )
    assert "routes)" in found["app"][1]
    assert found["migrations"] == ("ok", "sql (migrations): 75 migrations, head V075 (create_waitlist)")
    assert found["extensions"] == ("ok", "the migrations create none")
    assert "app engine" not in found  # DATABASE_URL reaches its engine
    assert "conftest" not in found
    assert found["docker"][0] == "ok"
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / ".coverage").exists()  # its addopts --cov did not start measuring


@pytest.mark.slow
def test_docker_absence_is_one_line(tmp_path: Path) -> None:
    result = doctor(sql_app(tmp_path))
    found = checks(result)
    status, message = found["docker"]
    if message.startswith("a Docker engine answers"):
        pytest.skip("a Docker engine answers on this machine")
    assert status == "ok"
    reason = re.fullmatch(r"not available \((.*)\): only the container providers need it", message)
    assert reason is not None, message
    assert (result.stdout + result.stderr).count(reason.group(1)) == 1
    assert "  container  no: Docker is not available (see the docker check above)" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    forced = doctor(sql_app(tmp_path / "container"), XAIO_POSTGRES="container")
    assert forced.returncode == 1
    assert checks(forced)["docker"][0] == "fail"


def test_sqlmodel_app_imported_at_conftest_top_with_uuid_ossp(tmp_path: Path) -> None:
    # POSTGRES_* from xaio_env reached the settings before the conftest import: no app engine line.
    found = passing_checks(copy_project("sqlmodel_app", tmp_path))
    assert found["app"][1].endswith("tests/conftest.py imports it first, after the plugin's environment")
    assert re.fullmatch(r"alembic \(alembic\.ini\): 1 migrations, head \w+", found["migrations"][1])
    assert found["extensions"] == (
        "ok",
        "uuid-ossp available on the embedded server (uuid-ossp: the plugin's SQL stand-ins)",
    )


def test_on_the_url_provider_it_asks_the_server_and_creates_nothing(tmp_path: Path, service_postgres_url: str) -> None:
    project = copy_project("sqlmodel_app", tmp_path)
    name = f"doctor{uuid.uuid4().hex[:8]}"  # the plugin's databases would carry it, in their name and mark

    def ours() -> list[str]:
        with psycopg.connect(service_postgres_url, autocommit=True) as conn:
            rows = conn.execute("SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database")
            return [str(n) for n, mark in rows.fetchall() if name in str(n) or f'"project": "{name}"' in str(mark)]

    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        has_uuid_ossp = conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'uuid-ossp'")
        available = (has_uuid_ossp.fetchone() or (0,))[0] == 1
    result = doctor(project, XAIO_POSTGRES_URL=service_postgres_url, XAIO_PROJECT=name)
    assert ours() == []
    found = checks(result)
    assert found["postgres"][0] == "ok"
    assert found["postgres"][1].startswith(f"{service_postgres_url} answers (PostgreSQL ")
    if available:
        assert result.returncode == 0, result.stdout
        assert found["extensions"] == ("ok", "uuid-ossp available on the server")
    else:
        assert result.returncode == 1
        assert found["extensions"][1].startswith("uuid-ossp (e2412789c190_initialize_models.py) not available")


def test_async_app_with_its_own_n_auto_and_pgcrypto(tmp_path: Path) -> None:
    found = passing_checks(copy_project("async_app", tmp_path))  # DATABASE__* reached the nested settings
    assert found["app"][1].startswith("app.main:app imports with the test environment")
    assert found["extensions"] == (
        "ok",
        "pgcrypto available on the embedded server (pgcrypto: the plugin's SQL stand-ins)",
    )


def test_an_engine_that_ignores_the_environment_is_a_warning(tmp_path: Path) -> None:
    project = sql_app(tmp_path, env=[SQL_APP_ENV[1]])  # no SQLALCHEMY_DATABASE_URI line
    result = doctor(project)
    assert result.returncode == 0, result.stdout
    status, message = checks(result)["app engine"]
    assert status == "warn"
    assert message.startswith("an engine made at import points at localhost:5432/sqlapp, not the test database")
    assert "fix: map the names the app reads with xaio_env lines" in message


def _conftest_that_fails(project: Path) -> None:
    (project / "tests").mkdir()
    (project / "tests" / "conftest.py").write_text("import not_a_module_anywhere\n")


def _extension_migration(project: Path) -> None:
    (project / "db" / "migrations" / "V004__ext.sql").write_text('CREATE EXTENSION IF NOT EXISTS "xaio_no_such_ext";\n')


@pytest.mark.parametrize(
    ("env", "extra", "change", "check", "expected"),
    [
        pytest.param(
            [SQL_APP_ENV[0], '"JWT_SECRET"'],
            "",
            None,
            "settings",
            "xaio_env line 'JWT_SECRET' is not NAME=VALUE fix: write each line as NAME=VALUE",
            id="env-line-without-equals",
        ),
        pytest.param(
            [*SQL_APP_ENV, '"X={nope}"'],
            "",
            None,
            "settings",
            "xaio_env line 'X={nope}' uses {nope}, which is not known fix: use {url} {host} {port}",
            id="env-line-unknown-placeholder",
        ),
        pytest.param(
            None,
            'xaio_isolation = "bogus"\n',
            None,
            "settings",
            "ini xaio_isolation must be one of transaction, truncate, clone; got 'bogus'",
            id="bad-choice",
        ),
        pytest.param(
            [SQL_APP_ENV[0]],
            "",
            None,
            "app",
            "xaio_app sqlapp.main:app does not import with the test environment:",
            id="app-needs-a-variable",
        ),
        pytest.param(None, "", _conftest_that_fails, "conftest", "tests/conftest.py does not import:", id="conftest"),
        pytest.param(
            None,
            'xaio_jwt_secret_from = "sqlapp.settings:settings.jwt_secrt"\n',
            None,
            "references",
            "'sqlapp.settings:settings' has no attribute 'jwt_secrt' fix: check the name after the colon; available names: "
            "database_url, debug, jwt_secret",
            id="secret-from-misspelt",
        ),
        pytest.param(
            None,
            "",
            lambda p: (p / "pyproject.toml").write_text(
                (p / "pyproject.toml").read_text().replace('"db/migrations"', '"db/nowhere"')
            ),
            "migrations",
            "xaio_migrations points at",
            id="migrations-missing",
        ),
        pytest.param(
            None,
            "",
            _extension_migration,
            "extensions",
            "xaio_no_such_ext (V004__ext.sql) not available on the embedded server; fix: point xaio_postgres_url",
            id="extension-missing",
        ),
    ],
)
def test_a_broken_project_fails_its_check(
    tmp_path: Path,
    env: list[str] | None,
    extra: str,
    change: object,
    check: str,
    expected: str,
) -> None:
    project = sql_app(tmp_path, env=env, extra=extra)
    if callable(change):
        change(project)
    result = doctor(project)
    found = checks(result)
    assert result.returncode == 1, result.stdout
    status, message = found[check]
    assert status == "fail", result.stdout
    assert expected in message, message
    assert [name for name, (s, _) in found.items() if s == "fail"] == [check], result.stdout
    assert result.stdout.rstrip().endswith(f"xaio doctor: 1 check failed: {check}")
    assert "Traceback" not in result.stdout + result.stderr


def test_the_healthy_copy_passes(tmp_path: Path) -> None:
    """The base of the broken variants above: all ok, so each variant's failure is its own."""
    result = doctor(sql_app(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    found = checks(result)
    assert {name: status for name, (status, _) in found.items()} == {
        "settings": "ok",
        "postgres": "ok",
        "app": "ok",
        "references": "ok",
        "migrations": "ok",
        "extensions": "ok",
        "redis": found["redis"][0],  # what this machine has; not the project's concern
        "docker": "ok",
    }
    assert found["migrations"][1] == "sql (db/migrations): 3 migrations, head V003 (create_items)"
    assert found["references"][1] == "xaio_db_dependency resolves"


@pytest.mark.parametrize(
    ("name", "section"), [("tox.ini", "pytest"), ("setup.cfg", "tool:pytest"), ("pytest.ini", "pytest")]
)
def test_settings_from_the_file_pytest_reads(tmp_path: Path, name: str, section: str) -> None:
    project = copy_project("sql_app", tmp_path)
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text[: text.index("[tool.pytest.ini_options]")])
    (project / name).write_text(
        f"[{section}]\npythonpath = .\nxaio_app = sqlapp.main:app\nxaio_migrations = db/migrations\n"
        "xaio_env =\n    SQLALCHEMY_DATABASE_URI={url}\n    JWT_SECRET=test-secret-0123456789abcdef\n"
    )
    found = passing_checks(project)
    assert found["settings"][0] == "ok"
    assert found["settings"][1].startswith(f"{name} (rootdir {project}): 3 xaio settings")


def test_a_configuration_pytest_cannot_read(tmp_path: Path) -> None:
    project = sql_app(tmp_path)
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options\n")
    result = doctor(project)
    assert result.returncode == 1
    status, message = checks(result)["settings"]
    assert status == "fail"
    assert message.startswith("pytest cannot read the configuration: ")
    assert "pyproject.toml" in message
    assert "Traceback" not in result.stdout + result.stderr


def test_the_plugin_turned_off_in_addopts(tmp_path: Path) -> None:
    project = sql_app(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('addopts = ["-ra"]', 'addopts = ["-ra", "-p", "no:xaio"]'))
    result = doctor(project)
    assert result.returncode == 1
    status, message = checks(result)["settings"]
    assert status == "fail"
    assert message.startswith("the pytest-xaio plugin is turned off in this configuration (-p no:xaio)")
    assert "Traceback" not in result.stdout + result.stderr


def test_a_configured_server_that_does_not_answer_fails(tmp_path: Path) -> None:
    project = sql_app(tmp_path)
    result = doctor(
        project,
        XAIO_POSTGRES_URL="postgresql://postgres@127.0.0.1:1/postgres",
        XAIO_REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 1
    found = checks(result)
    assert found["postgres"][0] == "fail"
    assert found["postgres"][1].startswith("cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/postgres")
    assert "fix: start that server or fix the URL" in found["postgres"][1]
    assert found["redis"][0] == "fail"
    assert found["redis"][1].startswith("redis://127.0.0.1:1/0 does not answer")
    assert result.stdout.rstrip().endswith("xaio doctor: 2 checks failed: postgres, redis")
