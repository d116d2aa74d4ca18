"""Bad input, one table: each gives one message naming the problem and the fix, no traceback, and
the right exit code; inputs that are valid (LOCALHOST, the machine's own name, sockets, URL query
parameters) run. docs/reliability.md quotes the count of these cases."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

USAGE = pytest.ExitCode.USAGE_ERROR
DB_TESTS = "def test_a(xaio_db): pass\ndef test_b(xaio_db): pass\n"
SERVICE = "postgres@127.0.0.1:5432/postgres"
MATRIX_APP = (Path(__file__).parent / "apps" / "matrix_inputs.py").read_text()
MATRIX_TEST = "import pytest\n\n@pytest.mark.endpoint_matrix{}\ndef test_m(case):\n    case.validate(case.call())\n"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    ret: int = USAGE
    ini: tuple[str, ...] = ()
    tests: str = DB_TESTS
    files: dict[str, str | bytes] = field(default_factory=dict)
    forbid: tuple[str, ...] = ()


def matrix(id: str, app: str, lines: tuple[str, ...], options: str = "", ret: int = 0) -> Case:
    """A matrix run on tests/apps/matrix_inputs.py (public routes, the URL provider)."""
    return Case(
        id,
        ("-v", "--xaio-postgres-url", f"postgresql://{SERVICE}"),
        lines,
        ret=ret,
        ini=(
            f"xaio_app = matrix_inputs:{app}",
            "xaio_schema_sql = schema.sql",
            "xaio_db_dependency = matrix_inputs:get_db",
            "xaio_public_routes = /*",
        ),
        tests=MATRIX_TEST.format(options),
        files={
            "matrix_inputs.py": MATRIX_APP,
            "schema.sql": "CREATE TABLE once (k integer PRIMARY KEY, label text);\n",
        },
        forbid=("empty parameter set",),
    )


COLLECT_ERROR = pytest.ExitCode.INTERRUPTED
CASES = [
    Case(
        "pg-url-unclosed-bracket",
        ("--xaio-postgres-url", "postgresql://[bad"),
        ("*cannot parse the Postgres URL 'postgresql://[bad'*", "*fix: write it as postgresql://user:password@host*"),
    ),
    Case(
        "pg-url-port-not-a-number",
        ("--xaio-postgres-url", "postgresql://127.0.0.1:abc/x"),
        ("*has the port 'abc', which is not a number*", "*fix: write it as postgresql://*"),
    ),
    Case(
        "pg-url-unescaped-at-in-password",
        ("--xaio-postgres-url", "postgresql://postgres:p@ss@127.0.0.1:5432/postgres"),
        ("*postgresql://postgres:***@127.0.0.1:5432/postgres*more than one @*", "*fix: *%40*"),
        forbid=("not this machine", "p@ss"),
    ),
    Case(
        "pg-url-several-hosts",
        ("--xaio-postgres-url", "postgresql://127.0.0.1,127.0.0.2/postgres"),
        ("*names several hosts*", "*fix: name exactly one host*"),
    ),
    Case(
        "cache-dir-is-a-file",
        ("--xaio-postgres", "embedded", "--xaio-cache-dir", "a_file"),
        ("*cannot use *a_file* as the cache directory*", "*fix: point --xaio-cache-dir*"),
        files={"a_file": "not a folder"},
    ),
    Case(
        "cache-dir-under-proc",
        ("--xaio-postgres", "embedded", "--xaio-cache-dir", "/proc/xaio-cache"),
        ("*cannot use /proc/xaio-cache as the cache directory*", "*fix: point --xaio-cache-dir*"),
    ),
    Case(
        "migration-not-utf8",
        ("--xaio-postgres-url", f"postgresql://{SERVICE}"),
        ("*the migration *V001__latin1.sql is not UTF-8 text*", "*fix: save the file as UTF-8*"),
        ini=("xaio_migrations = migrations",),
        files={"migrations/V001__latin1.sql": "CREATE TABLE caf\xe9 (id int);\n".encode("latin-1")},
    ),
    Case(
        "env-line-without-equals",
        ("--xaio-postgres-url", f"postgresql://{SERVICE}"),
        ("*xaio_env line 'JWT_SECRET' is not NAME=VALUE*", "*fix: write each line as NAME=VALUE*"),
        ini=("xaio_env =", "    DATABASE_HOST={host}", "    JWT_SECRET"),
    ),
    Case(
        "env-line-unknown-placeholder",
        ("--xaio-postgres-url", f"postgresql://{SERVICE}"),
        (
            "*xaio_env line 'DB_NAME={database}' uses {database}, which is not known*",
            "*fix: use {url} {host} {port} {user} {password} {dbname} or {redis_url}*",
        ),
        ini=("xaio_env = DB_NAME={database}",),
    ),
    Case(
        "migrations-points-at-pyproject",
        ("--xaio-postgres-url", f"postgresql://{SERVICE}"),
        ("*xaio_migrations points at the file *pyproject.toml, which is neither an alembic.ini*", "*fix: point it*"),
        ini=("xaio_migrations = pyproject.toml",),
        files={"pyproject.toml": "[project]\nname = 'x'\n"},
        forbid=("does not exist",),
    ),
    Case(
        "redis-url-no-host",
        ("--xaio-redis-url", "redis://"),
        ("*the Redis URL 'redis://' names no host*", "*fix: write it as redis://*"),
        ini=("xaio_postgres = none",),
        tests="def test_r(xaio_redis): pass\n",
    ),
    Case(
        "redis-url-port-not-a-number",
        ("--xaio-redis-url", "redis://127.0.0.1:abc/0"),
        ("*cannot parse the Redis URL*", "*fix: write it as redis://*"),
        ini=("xaio_postgres = none",),
        tests="def test_r(xaio_redis): pass\n",
    ),
    Case(
        "stripe-webhook-secret-from-not-importable",
        (),
        ("*could not import xaio_stripe_webhook_secret_from 'nowhere_xyz:settings.secret'*", "*fix: check the module*"),
        ini=("xaio_postgres = none", "xaio_stripe_webhook_secret_from = nowhere_xyz:settings.secret"),
        tests="def test_w(stripe_fake):\n    stripe_fake.event('payment_intent.succeeded', data={})\n",
        forbid=("UsageError",),
    ),
    Case(
        "stripe-webhook-secret-from-missing-attribute",
        (),
        (
            "*xaio_stripe_webhook_secret_from 'app_settings:settings.secret': *has no attribute 'secret'*",
            "*fix: check the name after the colon*",
        ),
        ini=("xaio_postgres = none", "xaio_stripe_webhook_secret_from = app_settings:settings.secret"),
        files={"app_settings.py": "class settings:\n    other = 'x'\n"},
        tests="def test_w(stripe_fake):\n    stripe_fake.event('payment_intent.succeeded', data={})\n",
        forbid=("UsageError",),
    ),
    Case(
        "stripe-webhook-secret-from-names-a-function",
        (),
        (
            "*xaio_stripe_webhook_secret_from 'app_settings:get_settings' names 'function', not the secret's text*",
            "*fix: name the attribute that holds the secret*",
        ),
        ini=("xaio_postgres = none", "xaio_stripe_webhook_secret_from = app_settings:get_settings"),
        files={"app_settings.py": "def get_settings():\n    return None\n"},
        tests="def test_w(stripe_fake):\n    stripe_fake.event('payment_intent.succeeded', data={})\n",
        forbid=("UsageError",),
    ),
    Case(
        "config-error-under-n2",
        ("-n", "2", "--xaio-postgres-url", "postgresql://[bad"),
        ("*cannot parse the Postgres URL*", "*fix: write it as postgresql://*"),
        tests=DB_TESTS + "def test_c(xaio_db): pass\ndef test_d(xaio_db): pass\n",
        forbid=("INTERNALERROR", "crashed", "replacing crashed worker"),
    ),
    Case(
        "migration-error-under-n2",
        ("-n", "2", "--xaio-postgres-url", f"postgresql://{SERVICE}"),
        ("*migration failed: *V001__broken.sql:1: *", "*fix: fix that migration*"),
        ini=("xaio_migrations = migrations",),
        files={"migrations/V001__broken.sql": "CREATE TABLE (;\n"},
        tests=DB_TESTS + "def test_c(xaio_db): pass\ndef test_d(xaio_db): pass\n",
        forbid=("INTERNALERROR", "crashed"),
    ),
    # The endpoint matrix: no cases at all is one error naming the app and the fix, never a silent skip.
    matrix(
        "matrix-app-without-routes",
        "empty",
        (
            "*the endpoint matrix found no HTTP routes to test in the app 'matrix_inputs:empty'*",
            "*fix: point xaio_app*",
        ),
        ret=COLLECT_ERROR,
    ),
    matrix(
        "matrix-app-with-only-a-websocket",
        "sockets_only",
        ("*found no HTTP routes to test in the app 'matrix_inputs:sockets_only' (websocket /ws: not covered*",),
        ret=COLLECT_ERROR,
    ),
    matrix(
        "matrix-patterns-match-no-route",
        "app",
        ("*endpoint_matrix(include=?'/nowhere/?'?) leaves no case of the 4 routes*", "*fix: check the patterns*"),
        '(include=["/nowhere/*"])',
        ret=COLLECT_ERROR,
    ),
    # ...and the shapes it used to skip or ignore: run (enum members, real files, the mount's prefix)...
    matrix(
        "matrix-enum-path-param",
        "app",
        ("*GET /colors/{color}-200-success? PASSED*", "*GET /colors/{color}-400-invalid-enum? PASSED*"),
        '(include=["/colors/*"])',
    ),
    matrix(
        "matrix-file-upload",
        "app",
        ("*POST /avatars-201-success? PASSED*", "*POST /avatars-400-missing-field? PASSED*"),
        '(include=["/avatars"])',
    ),
    matrix(
        "matrix-mounted-fastapi-app",
        "app",
        ("*POST /sub/once-201-success? PASSED*", "*POST /sub/once-201-edge-values? PASSED*"),
        '(include=["/sub/*"])',
    ),
    # ...or are named in the end-of-run table.
    matrix(
        "matrix-websocket-and-starlette-mount-named",
        "app",
        ("not covered:", "  mount /legacy (Starlette): not covered*", "  websocket /ws: not covered*"),
        '(include=["/colors/*"])',
    ),
    # Valid inputs that used to be refused or broken: they run.
    Case(
        "redis-url-own-hostname",
        ("--xaio-redis-url", f"redis://{socket.gethostname()}:6379"),
        ret=0,
        ini=("xaio_postgres = none",),
        tests="def test_r(xaio_redis):\n    assert xaio_redis.ping()\n",
    ),
    Case("pg-url-uppercase-localhost", ("--xaio-postgres-url", "postgresql://postgres@LOCALHOST:5432/postgres"), ret=0),
    Case(
        "pg-url-own-hostname",
        ("--xaio-postgres-url", f"postgresql://postgres@{socket.gethostname()}:5432/postgres"),
        ret=0,
    ),
    Case(
        "pg-url-query-parameters-kept",
        ("--xaio-postgres-url", f"postgresql://{SERVICE}?application_name=xaio-kept&sslmode=disable"),
        ret=0,
        tests="def test_a(xaio_db):\n    assert xaio_db.execute('SHOW application_name').fetchone() == ('xaio-kept',)\n",
    ),
    Case(
        "pg-url-socket-directory",
        ("--xaio-postgres-url", "postgresql:///postgres?host=/var/run/postgresql&user=postgres"),
        ret=0,
        tests="def test_a(xaio_db, xaio_postgres):\n    assert xaio_postgres.host == '/var/run/postgresql'\n"
        "    assert xaio_db.execute('SELECT 1').fetchone() == (1,)\n",
    ),
    Case(
        "redis-url-uppercase-localhost",
        ("--xaio-redis-url", "redis://LOCALHOST:6379"),
        ret=0,
        ini=("xaio_postgres = none",),
        tests="def test_r(xaio_redis):\n    assert xaio_redis.ping()\n",
    ),
    Case(
        "redis-url-unix-socket",
        ("--xaio-redis-url", "unix://{redis_socket}"),
        ret=0,
        ini=("xaio_postgres = none",),
        tests="def test_r(xaio_redis):\n    xaio_redis.set('k', 'v')\n    assert xaio_redis.get('k') == 'v'\n",
    ),
]


def under_n2(case: Case) -> Case:
    """The same bad input under ``-n 2``: one message and exit 4, never a crashed-worker loop. These
    errors come from different places (the option check, the cache folder, the template build, a
    fixture inside a worker)."""
    more = "def test_c(xaio_db): pass\n" if "xaio_db" in case.tests else "def test_c(): pass\n"
    return replace(
        case,
        id=f"{case.id}-under-n2",
        args=("-n", "2", *case.args),
        tests=case.tests + more,
        forbid=(*case.forbid, "INTERNALERROR", "crashed", "replacing crashed worker"),
    )


N2_IDS = ("cache-dir-is-a-file", "migration-not-utf8", "redis-url-no-host", "stripe-webhook-secret-from-not-importable")
CASES += [under_n2(c) for c in CASES if c.id in N2_IDS]


@pytest.fixture(scope="module")
def redis_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this test's own, on a unix socket only."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")  # the socket case needs a server of its own
    folder = tmp_path_factory.mktemp("redis-sock")
    path = folder / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(path), "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield str(path)
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, pytester: pytest.Pytester, request: pytest.FixtureRequest) -> None:
    lines = "\n".join(case.ini)
    pytester.makeini(f"[pytest]\n{lines}\n")
    for name, content in case.files.items():
        path = Path(pytester.path, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    pytester.makepyfile(test_input=case.tests)
    args = list(case.args)
    if any("{redis_socket}" in a for a in args):
        sock = request.getfixturevalue("redis_socket")
        args = [a.replace("{redis_socket}", sock) for a in args]
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == case.ret, out
    if case.lines:  # an error while the environment is exported (before conftests) is on stderr
        pytest.LineMatcher(out.splitlines()).fnmatch_lines(list(case.lines))
    for text in ("Traceback", *case.forbid):
        assert text not in out, out
    if case.ret == USAGE:
        # One message: the problem is stated once, not once per test or per worker.
        assert out.count("fix: ") == 1, out
