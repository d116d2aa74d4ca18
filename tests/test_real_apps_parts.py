"""The parts issue 12 added, one bad case each: extensions on the embedded server, the session class
of the override, the client host, the missing-auth expectation, the early environment, PyJWT floors."""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from projects import copy_project, run_generated_tests, xaio

from pytest_xaio.app import default_base_url
from pytest_xaio.postgres.connection_guard import resolve_target
from pytest_xaio.postgres.session_class import detect_session

EXPECTED_V3 = str(uuid.uuid3(uuid.NAMESPACE_DNS, "example.com"))
EXPECTED_SHA256 = hashlib.sha256(b"abc").hexdigest()
EXPECTED_HMAC = hmac.new(b"key", b"data", "sha256").hexdigest()
EXPECTED_HMAC512 = hmac.new(b"k" * 200, b"data", "sha512").hexdigest()


def test_uuid_ossp_and_pgcrypto_on_the_embedded_server(pytester: pytest.Pytester) -> None:
    """The wheel ships neither; migrations that create them run, and the common functions answer right."""
    pytester.makeini("[pytest]\nxaio_migrations = migrations\n")
    pytester.mkdir("migrations")
    pytester.path.joinpath("migrations", "V001__extensions.sql").write_text(
        'CREATE EXTENSION IF NOT EXISTS "uuid-ossp";\nCREATE EXTENSION IF NOT EXISTS pgcrypto;\n'
        "CREATE TABLE t (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), token bytea DEFAULT gen_random_bytes(16));\n"
    )
    pytester.makepyfile(
        f"""
        import uuid

        def test_functions(xaio_db, xaio_postgres):
            assert xaio_postgres.provider == "embedded"
            one = lambda q: xaio_db.execute(q).fetchone()[0]
            assert one("SELECT uuid_generate_v3(uuid_ns_dns(), 'example.com')::text") == "{EXPECTED_V3}"
            assert uuid.UUID(str(one("SELECT uuid_generate_v4()"))).version == 4
            v1 = uuid.UUID(str(one("SELECT uuid_generate_v1()")))
            assert v1.version == 1 and v1.variant == uuid.RFC_4122
            assert one("SELECT uuid_nil()::text") == "00000000-0000-0000-0000-000000000000"
            assert one("SELECT encode(digest('abc', 'sha256'), 'hex')") == "{EXPECTED_SHA256}"
            assert one("SELECT encode(hmac('data', 'key', 'sha256'), 'hex')") == "{EXPECTED_HMAC}"
            assert one("SELECT encode(hmac('data', repeat('k', 200), 'sha512'), 'hex')") == "{EXPECTED_HMAC512}"
            assert one("SELECT length(gen_random_bytes(40))") == 40
            xaio_db.execute("INSERT INTO t DEFAULT VALUES")
            assert one("SELECT length(token) FROM t") == 16
            assert one("SELECT gen_random_uuid() IS NOT NULL")

        def test_sha1_says_what_to_do(xaio_db):
            import psycopg, pytest
            with pytest.raises(psycopg.Error, match="not supported by the pytest-xaio stand-in for pgcrypto"):
                xaio_db.execute("SELECT digest('abc', 'sha1')")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


# --- the session class the override yields -----------------------------------------------------------
def test_sqlmodel_session_is_detected_from_the_dependency_body() -> None:
    from sqlmodel import Session

    engine = object()

    def get_db() -> Iterator[Any]:
        with Session(engine) as session:  # type: ignore[arg-type]
            yield session

    spec = detect_session(get_db)
    assert spec.session_class is Session
    assert not spec.is_async


def test_sessionmaker_class_and_options_are_used() -> None:
    from sqlalchemy.orm import Session, sessionmaker

    class AppSession(Session):
        pass

    SessionLocal = sessionmaker(class_=AppSession, autoflush=False, expire_on_commit=False)

    def get_db() -> Iterator[Any]:
        db = SessionLocal()
        try:
            yield db
        finally:
            db.close()

    spec = detect_session(get_db)
    assert spec.session_class is not None
    assert issubclass(spec.session_class, AppSession)  # sessionmaker subclasses class_
    assert spec.options == {"autoflush": False, "expire_on_commit": False}


def test_async_dependency_is_told_apart() -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    async def get_session() -> Any:
        yield None

    get_session.__annotations__["return"] = "AsyncIterator[AsyncSession]"
    spec = detect_session(get_session)
    assert spec.is_async
    assert spec.session_class in (None, AsyncSession)


def test_db_session_class_setting_must_name_a_session() -> None:
    def get_db() -> Iterator[Any]:
        yield None

    with pytest.raises(pytest.UsageError, match=r"xaio_db_session_class 'os:path' is .*not a subclass of"):
        detect_session(get_db, named="os:path")


# --- client host ----------------------------------------------------------------------------------------
def test_trusted_host_middleware_picks_an_allowed_host() -> None:
    from fastapi import FastAPI
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    plain = FastAPI()
    assert default_base_url(plain) == "http://testserver"
    strict = FastAPI()
    strict.add_middleware(TrustedHostMiddleware, allowed_hosts=["*.example.com", "example.com"])
    assert default_base_url(strict) == "http://test.example.com"
    star = FastAPI()
    star.add_middleware(TrustedHostMiddleware, allowed_hosts=["*"])
    assert default_base_url(star) == "http://testserver"


def test_base_url_setting_reaches_the_clients(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app="""
        from fastapi import FastAPI, Request
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app = FastAPI()
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["api.local", "127.0.0.1"])

        @app.get("/host")
        def host(request: Request):
            return {"host": request.url.hostname}
        """,
        test_host="""
        def test_host(xaio_anon_client):
            assert xaio_anon_client.get("/host").json() == {"host": "api.local"}
        """,
    )
    pytester.makeini("[pytest]\npythonpath = .\nxaio_app = app:app\nxaio_postgres = none\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.makepyfile(
        test_host="""
        def test_host(xaio_anon_client):
            assert xaio_anon_client.get("/host").json() == {"host": "127.0.0.1"}
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "--xaio-base-url=http://127.0.0.1").assert_outcomes(passed=1)


# --- missing-auth follows the security class -------------------------------------------------------------
def test_missing_auth_expectation_comes_from_the_security_class() -> None:
    from fastapi import Depends, FastAPI
    from fastapi.security import OAuth2PasswordBearer

    from pytest_xaio.matrix.cases import Expectations
    from pytest_xaio.matrix.routes import read_routes

    app = FastAPI()
    oauth2 = OAuth2PasswordBearer(tokenUrl="/token")

    @app.get("/me")
    def me(token: str = Depends(oauth2)) -> dict[str, str]:
        return {"token": token}

    routes = read_routes(app)
    route = next(r for r in routes if r.path == "/me")
    assert route.missing_auth_status == 401
    only_403 = Expectations.from_settings(422, ["unauthenticated = 403"])
    assert only_403.expected("missing-auth", route) == (401,)
    assert only_403.expected("expired-token", route) == (403,)
    explicit = Expectations.from_settings(422, ["missing-auth = 403"])
    assert explicit.expected("missing-auth", route) == (403,)


# --- the environment before the conftests ------------------------------------------------------------------
def test_help_starts_nothing(pytester: pytest.Pytester) -> None:
    """--help (and --version, --collect-only) must not start a server or build a template."""
    pytester.makeini(
        "[pytest]\nxaio_app = app:app\nxaio_postgres = url\nxaio_postgres_url = postgresql://nobody@127.0.0.1:1/none\n"
    )
    pytester.makeconftest("import os\nSEEN = os.environ.get('DATABASE_URL')\n")
    for flag in ("--help", "--version", "--collect-only"):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", flag)
        assert result.ret in (0, 5), result.stderr.str()
        assert "could not connect" not in result.stderr.str() + result.stdout.str()


@pytest.mark.slow
def test_conftest_importing_the_app_sees_the_test_database(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        settings="""
        import os
        DATABASE = os.environ.get("APP_DB", "developer")
        """
    )
    pytester.makeconftest("import settings\nIMPORTED = settings.DATABASE\n")
    pytester.makepyfile(
        test_env="""
        import conftest

        def test_seen(xaio_database):
            assert conftest.IMPORTED == xaio_database.name
        """
    )
    pytester.makeini("[pytest]\npythonpath = .\nxaio_env =\n    APP_DB={dbname}\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2").assert_outcomes(passed=1)


# --- the guard's view of a connect call ------------------------------------------------------------------
def test_targets_resolve_as_libpq_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "db.internal")
    monkeypatch.setenv("PGPORT", "6543")
    monkeypatch.setenv("PGUSER", "app")
    monkeypatch.delenv("PGDATABASE", raising=False)
    assert resolve_target("").url == "postgresql://app@db.internal:6543/app"
    assert resolve_target("postgresql://u:p@[::1]:5/x?sslmode=require").url == "postgresql://u@[::1]:5/x"
    assert resolve_target("dbname=y host=h").url == "postgresql://app@h:6543/y"
    assert resolve_target(None, host="a,b", port=1, database="z").url == "postgresql://app@a:1/z"


# --- PyJWT floors -------------------------------------------------------------------------------------------
def test_tokens_mint_with_a_pyjwt_that_has_no_insecure_key_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyJWT 2.8-2.10 have no InsecureKeyLengthWarning; minting must not need it."""
    import jwt

    from pytest_xaio.auth import TokenFactory
    from pytest_xaio.config import AuthSettings

    monkeypatch.delattr(jwt, "InsecureKeyLengthWarning", raising=False)
    factory = TokenFactory(AuthSettings(), secret="short")
    user = type("U", (), {"id": uuid.UUID("12345678-1234-5678-1234-567812345678")})()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = factory.for_user(user)
        claims = jwt.decode(token, "short", algorithms=["HS256"])
    assert claims["sub"] == "12345678-1234-5678-1234-567812345678"  # a string, typed from the row's UUID


def test_minimum_versions_constraints_match_the_declared_floors() -> None:
    """constraints/minimum.txt pins every floor pyproject.toml declares (CI installs it)."""
    root = Path(__file__).parent.parent
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("fastapi", "redis", "stripe", "migrations", "hypothesis"):
        # requirements limited to some Pythons (httpx2 / httpx) are not pinned: one file serves CI's Python
        declared += [r for r in project["optional-dependencies"].get(extra, []) if ";" not in r]
    pins = {}
    for line in (root / "constraints" / "minimum.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    for requirement in declared:
        match = re.match(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?>=([0-9.]+)", requirement)
        assert match, requirement
        name = re.sub(r"[-_.]+", "-", match.group(1).lower())
        assert pins.get(name) == match.group(3), f"{name}: floor {match.group(3)}, pinned {pins.get(name)}"


# --- xaio init / xaio ci github on real shapes ----------------------------------------------------------------
def _without_pytest_config(project: Path) -> None:
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text[: text.index("[tool.pytest.ini_options]")])
    shutil.rmtree(project / "tests")


@pytest.mark.slow
def test_xaio_init_writes_a_passing_suite_for_the_sqlmodel_shape(tmp_path: Path) -> None:
    """No pytest config, no tests: init finds the POSTGRES_* settings, the "user" table (UUID key,
    email, an is_active flag), the 403 for bad tokens and the OAuth2 login form; pytest then passes."""
    project = copy_project("sqlmodel_app", tmp_path)
    _without_pytest_config(project)
    done = xaio("init", str(project))
    assert done.returncode == 0, done.stderr
    assert "left out of the endpoint matrix: POST /api/v1/login/access-token" in done.stdout
    ini = (project / "pyproject.toml").read_text()
    assert '"POSTGRES_DB={dbname}"' in ini
    assert 'xaio_expected_status = ["unauthenticated = 403"]' in ini
    conftest = (project / "tests" / "conftest.py").read_text()
    assert '"email": f"user-{uuid.uuid4().hex[:12]}@example.com"' in conftest
    assert '"is_active": True' in conftest
    run = run_generated_tests(project)
    assert run.returncode == 0, run.stdout[-4000:]
    assert re.findall(r"(\d+) passed", run.stdout)[-1] != "0"


def test_ci_github_from_a_sub_folder_writes_at_the_git_root(tmp_path: Path) -> None:
    import yaml

    (tmp_path / ".git").mkdir()  # a repository whose backend lives in backend/
    project = copy_project("minimal_app", tmp_path / "backend")
    done = xaio("ci", "github", cwd=project)
    assert done.returncode == 0, done.stderr
    workflow = tmp_path / ".github" / "workflows" / "test.yml"
    assert workflow.is_file()
    assert not (project / ".github").exists()
    data = yaml.safe_load(workflow.read_text())
    assert data["defaults"]["run"]["working-directory"] == "backend/minimal_app"
    steps = data["jobs"]["test"]["steps"]
    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert setup["with"]["cache-dependency-path"].split() == ["backend/minimal_app/pyproject.toml"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    paths = upload["with"]["path"].split()
    assert "backend/minimal_app/coverage.xml" in paths
    assert all(path.startswith("backend/minimal_app/") for path in paths), paths


# --- an async env.py that reads DATABASE_URL ---------------------------------------------------------------
ASYNC_ENV_PY = """
import asyncio
import os

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

URL = os.environ["DATABASE_URL"]{convert}


def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    engine = create_async_engine(URL)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


asyncio.run(run_async_migrations())
"""

BUILT_BY = """
import os

import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("built_by", sa.Column("pid", sa.Integer), sa.Column("driver", sa.Text))
    op.execute(f"INSERT INTO built_by VALUES ({os.getpid()}, '{op.get_bind().dialect.driver}')")


def downgrade():
    op.drop_table("built_by")
"""


@pytest.mark.parametrize(
    ("env_line", "convert"),
    [
        # the developer's DATABASE_URL carries the driver; the xaio_env line keeps it for the tests
        ("DATABASE_URL=postgresql+asyncpg://{user}:{password}@{host}:{port}/{dbname}", ""),
        # env.py puts the driver in itself, from the plain URL the plugin exports
        ("APP_ENV=test", '.replace("postgresql://", "postgresql+asyncpg://", 1)'),
    ],
    ids=["asyncpg-url-in-xaio-env", "env-py-adds-the-driver"],
)
def test_async_env_py_reading_database_url_builds_the_template(
    pytester: pytest.Pytester, env_line: str, convert: str
) -> None:
    """The template is built in a fresh interpreter, through the user's own driver (asyncpg stays
    asyncpg: nothing rewrites the URL to a sync driver), and the tests see the migrated schema."""
    pytester.makeini(
        f"[pytest]\nasyncio_default_fixture_loop_scope = function\nxaio_migrations = alembic.ini\n"
        f"xaio_env =\n    {env_line}\n"
    )
    pytester.makefile(".ini", alembic="[alembic]\nscript_location = migrations\n")
    pytester.mkdir("migrations")
    pytester.path.joinpath("migrations", "env.py").write_text(ASYNC_ENV_PY.format(convert=convert))
    pytester.mkdir("migrations/versions")
    pytester.path.joinpath("migrations", "versions", "a1_built_by.py").write_text(BUILT_BY)
    pytester.makepyfile(
        """
        import os

        def test_template(xaio_db):
            pid, driver = xaio_db.execute("SELECT pid, driver FROM built_by").fetchone()
            assert driver == "asyncpg"
            assert pid != os.getpid()  # migrated by another interpreter, as alembic from a shell does
            assert xaio_db.execute("SELECT version_num FROM alembic_version").fetchone() == ("a1",)

        def test_the_tests_get_the_same_driver():
            expected = "postgresql+asyncpg://" if "DATABASE_URL" in EXPECTED_LINE else "postgresql://"
            assert os.environ["DATABASE_URL"].startswith(expected)
        """.replace("EXPECTED_LINE", repr(env_line))
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


# --- the default user's id when no hook makes rows -----------------------------------------------------------
UUID_USERS_APP = """
import os

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

SECRET = "uuid-users-secret-0123456789abcdef0123"
engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))


def get_db():
    with Session(engine) as session:
        yield session


app = FastAPI()


@app.get("/me")
def me(authorization: str = Header(), db: Session = Depends(get_db)):
    sub = jwt.decode(authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])["sub"]
    # the sub goes to the uuid column as it is, as the full-stack template's session.get(User, sub) does
    row = db.execute(text("SELECT email FROM user_account WHERE user_id = :id"), {"id": sub}).first()
    if row is None:
        raise HTTPException(404, "User not found")
    return {"email": row[0]}
"""


def test_without_the_hook_a_uuid_keyed_user_table_gets_uuid_subs(pytester: pytest.Pytester) -> None:
    """No pytest_xaio_create_user: the test user has no row. With uuid keys its id is a stable UUID,
    so the app answers its own 404 instead of a 500 from casting 'xaio-test-user' to uuid."""
    pytester.makepyfile(uuid_users_app=UUID_USERS_APP)
    pytester.makefile(".sql", schema="CREATE TABLE user_account (user_id uuid PRIMARY KEY, email text NOT NULL);\n")
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\npythonpath = .\nxaio_app = uuid_users_app:app\n"
        "xaio_schema_sql = schema.sql\n"
        "xaio_db_dependency = uuid_users_app:get_db\nxaio_jwt_secret_from = uuid_users_app:SECRET\n"
    )
    pytester.makepyfile(
        test_me="""
        import uuid

        import jwt

        def test_me(xaio_client, xaio_user, xaio_token, xaio_db):
            assert isinstance(xaio_user.id, uuid.UUID)
            claims = jwt.decode(xaio_token.for_user(), options={"verify_signature": False})
            assert claims["sub"] == str(xaio_user.id)
            response = xaio_client.get("/me")
            assert response.status_code == 404, response.text
            assert xaio_db.execute("SELECT count(*) FROM user_account").fetchone() == (0,)

        def test_the_same_id_in_every_test(xaio_user, xaio_user_factory):
            assert xaio_user.id == uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL,
                "https://pypi.org/project/pytest-xaio/#users-without-rows"), "xaio-test-user")
            assert xaio_user_factory(plan="pro").id == xaio_user.id
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "test_me.py")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*no pytest_xaio_create_user hook*UUIDs because user_account has uuid keys*"])
    # A mock-DB test reads no schema for it (a fresh session: its id would be the UUID otherwise).
    pytester.makepyfile(
        test_mock="""
        import pytest

        @pytest.mark.xaio_mock_db
        def test_mocked(xaio_client, xaio_user):
            assert xaio_user.id == "xaio-test-user"
        """
    )
    mocked = pytester.runpytest("-p", "no:cacheprovider", "test_mock.py")
    mocked.assert_outcomes(passed=1)


def test_the_guard_allows_the_plugins_databases_of_a_project_with_a_long_name(
    pytester: pytest.Pytester, service_postgres_url: str
) -> None:
    """The guard's name prefix is the one the databases are created with, whatever the project's
    length (the folder of this pytester run is longer than the 16 characters a name keeps)."""
    assert len(pytester.path.name) > 16
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nxaio_env =\n    APP_ENV=test\n")
    pytester.makepyfile(
        """
        import psycopg

        def test_own_connection(xaio_db_url):
            with psycopg.connect(xaio_db_url) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", f"--xaio-postgres-url={service_postgres_url}")
    result.assert_outcomes(passed=1)
