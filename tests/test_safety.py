"""Safety: the plugin never harms what it does not own. Hostile URLs and environments that would send
its CREATE/DROP elsewhere are refused before any connection; forged or leftover state on the server
is judged by the plugin's own rules; with externals mocked, the network guard refuses every way out
of the process it can see (docs/reliability.md quotes the count of these cases).

No test here sends a packet anywhere but this machine: refused targets are refused before connecting.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pytest_xaio.postgres.databases import MARK, machine_tag


def _elsewhere() -> str:
    """A documentation address (never routed) that is not one of this machine's own: on some sandboxes
    192.0.2.2 is the machine's eth0, and then it rightly counts as local."""
    from pytest_xaio.hosts import is_local_address

    return next(a for a in ("203.0.113.9", "198.51.100.7", "192.0.2.77") if not is_local_address(a))


ELSEWHERE = _elsewhere()  # never contacted: the check comes before any connection
LOCAL_URL = "postgresql://postgres@localhost:5432/postgres"

#: (id, extra args, environment) — each must end in one "not this machine" message, exit 4.
REMOTE_CASES = [
    ("redis-url-query-host", ["--xaio-redis-url", f"redis://:6390/?host={ELSEWHERE}"], {}, "redis"),
    ("pg-url-query-host", ["--xaio-postgres-url", f"postgresql://postgres@/postgres?host={ELSEWHERE}"], {}, "pg"),
    ("pg-url-query-hostaddr", ["--xaio-postgres-url", f"{LOCAL_URL}?hostaddr={ELSEWHERE}"], {}, "pg"),
    ("pg-env-PGHOSTADDR", ["--xaio-postgres-url", LOCAL_URL], {"PGHOSTADDR": ELSEWHERE}, "pg"),
    ("pg-env-PGHOST", ["--xaio-postgres-url", "postgresql:///postgres"], {"PGHOST": ELSEWHERE}, "pg"),
    ("pg-env-PGSERVICE", ["--xaio-postgres-url", LOCAL_URL], {"PGSERVICE": "elsewhere"}, "pg"),
]


@pytest.mark.parametrize(("args", "env", "kind"), [c[1:] for c in REMOTE_CASES], ids=[c[0] for c in REMOTE_CASES])
def test_remote_target_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], kind: str
) -> None:
    service_file = pytester.path / "pg_service.conf"
    service_file.write_text(f"[elsewhere]\nhostaddr={ELSEWHERE}\nport=5432\n")
    pytester.makeini("[pytest]\n" + ("xaio_postgres = none\n" if kind == "redis" else ""))
    pytester.makepyfile("def test_a(xaio_redis): pass\n" if kind == "redis" else "def test_a(xaio_db): pass\n")
    for name, value in {**env, "PGSERVICEFILE": str(service_file)}.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out
    result.stdout.fnmatch_lines(
        [f"*points at {ELSEWHERE}*which is not this machine*", "*fix: pass --xaio-allow-remote*"]
    )
    assert "Traceback" not in out


# --- state left on the server ---------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _mark(**fields: object) -> str:
    return MARK + json.dumps(fields, sort_keys=True)


@pytest.fixture(scope="module")
def leftovers(tmp_path_factory: pytest.TempPathFactory, service_postgres_url: str) -> Iterator[dict[str, bool]]:
    """Plant leftovers on the service server, run one session there, report which databases remain."""
    tag = uuid.uuid4().hex[:6]
    dead = _dead_pid()
    host = socket.gethostname()
    planted = {
        # LIKE 'xaio_%' would match it (the _ is a wildcard): not the plugin's, it must stay.
        "like-wildcard-kept": (f"xaioX{tag}_like", _mark(kind="test", host=host, pid=dead)),
        # A database an interrupted DROP left invalid: the plugin's, so removed.
        "invalid-database-removed": (f"xaio_{tag}_invalid", _mark(kind="test", host=host, pid=dead)),
        # Killed between CREATE and COMMENT: unmarked, but under a scratch name of this machine.
        "unmarked-scratch-removed": (f"xaio_new_{machine_tag()}_p{dead}_{tag}aa", None),
        # Another machine's scratch database: not this run's to judge, it stays.
        "other-machine-scratch-kept": (
            f"xaio_new_{'0' if machine_tag()[0] != '0' else '1'}{machine_tag()[1:]}_p{dead}_{tag}bb",
            None,
        ),
        # A marked database whose owner is alive (this test process) stays.
        "live-owner-kept": (f"xaio_{tag}_alive", _mark(kind="test", host=host, pid=os.getpid())),
    }
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        for name, comment in planted.values():
            conn.execute(f'CREATE DATABASE "{name}"')
            if comment is not None:
                conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")
        conn.execute(
            "UPDATE pg_database SET datconnlimit = -2 WHERE datname = %s", (planted["invalid-database-removed"][0],)
        )
    root = tmp_path_factory.mktemp("leftovers")
    (root / "tox.ini").write_text("[pytest]\n")
    (root / "test_run.py").write_text(
        "def test_a(xaio_db):\n    assert xaio_db.execute('SELECT 1').fetchone() == (1,)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XAIO_", "PYTEST_"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--xaio-postgres-url", service_postgres_url],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        present = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        yield {case: name in present for case, (name, _) in planted.items()}
        for name, _ in planted.values():
            if name in present:
                conn.execute(
                    "UPDATE pg_database SET datconnlimit = -1 WHERE datname = %s AND datconnlimit = -2", (name,)
                )
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


LEFTOVER_CASES = [
    ("like-wildcard-kept", True),
    ("invalid-database-removed", False),
    ("unmarked-scratch-removed", False),
    ("other-machine-scratch-kept", True),
    ("live-owner-kept", True),
]


@pytest.mark.parametrize(("case", "remains"), LEFTOVER_CASES, ids=[c[0] for c in LEFTOVER_CASES])
def test_leftover_judged_by_the_plugins_rules(leftovers: dict[str, bool], case: str, remains: bool) -> None:
    assert leftovers[case] is remains


def test_forged_complete_template_mark_is_checked_against_the_hash(
    pytester: pytest.Pytester, service_postgres_url: str
) -> None:
    from pytest_xaio.config import XaioSettings
    from pytest_xaio.migrations.source import discover
    from pytest_xaio.postgres import PostgresServer
    from pytest_xaio.postgres.databases import DatabaseOwner
    from pytest_xaio.postgres.template import template_name

    (pytester.path / "migrations").mkdir()
    (pytester.path / "migrations" / "V001__widgets.sql").write_text("CREATE TABLE widgets (id int);\n")
    pytester.makeini("[pytest]\nxaio_migrations = migrations\n")
    settings = XaioSettings.from_values({"migrations": "migrations"}, rootdir=str(pytester.path))
    server = PostgresServer("127.0.0.1", 5432, "postgres", None, "?", "url")
    name = template_name(
        DatabaseOwner(server, pytester.path.name, "main", location=str(pytester.path)), discover(settings).digest()
    )
    forged = _mark(kind="template", complete=True, hash="0" * 64, project="x", host=socket.gethostname(), pid=1)
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # empty: no widgets table
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{forged}'")
    pytester.makepyfile(
        "def test_a(xaio_db): assert xaio_db.execute('SELECT count(*) FROM widgets').fetchone() == (0,)"
    )
    pytester.runpytest("--xaio-postgres-url", service_postgres_url, "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_is_postmaster_of_refuses_a_decoy(tmp_path: Path) -> None:
    from pytest_xaio.postgres.cluster import is_postmaster_of

    # A process whose command line says "postgres" and a data dir, running in that dir: still not a postmaster.
    code = "import time; time.sleep(30)  # postgres -D " + str(tmp_path)
    decoy = subprocess.Popen([sys.executable, "-c", code, "postgres", "postgresql://x"], cwd=tmp_path)
    try:
        assert not is_postmaster_of(decoy.pid, tmp_path)
    finally:
        decoy.kill()
        decoy.wait()


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("LOCALHOST", True),
        (socket.gethostname(), True),
        ("/var/run/postgresql", True),
        ("127.0.0.2", True),
        ("[::1]", True),
        (ELSEWHERE, False),
        ("db.example.com", False),
        ("", False),
    ],
)
def test_one_local_host_rule(host: str, local: bool) -> None:
    from pytest_xaio.hosts import is_local_host

    assert is_local_host(host) is local


def test_plugin_connections_pin_the_address_against_pghostaddr() -> None:
    from pytest_xaio.postgres import PostgresServer

    kwargs = PostgresServer("127.0.0.1", 5432, "postgres", None, "?", "embedded").connect_kwargs()
    assert kwargs["hostaddr"] == "127.0.0.1"  # an explicit hostaddr wins over $PGHOSTADDR in libpq


#: (id, code that reaches out, the guard's message) — run under --xaio-mock-externals by a test that
#: swallows every exception: the guard must still fail it with the message naming the target.
GUARD_CASES = [
    ("dns-getaddrinfo", "socket.getaddrinfo('api.unfaked.example', 443)", "a name lookup of 'api.unfaked.example'"),
    (
        "dns-connect-by-name",
        "socket.create_connection(('api.unfaked.example', 443), timeout=1).close()",
        "a name lookup of 'api.unfaked.example' (getaddrinfo)",
    ),
    ("dns-gethostbyname", "socket.gethostbyname('api.unfaked.example')", "*'api.unfaked.example' (gethostbyname)"),
    (
        "dns-asyncio-loop",
        "loop = asyncio.new_event_loop()\n"
        "try:\n"
        "    loop.run_until_complete(loop.getaddrinfo('api.unfaked.example', 443))\n"
        "finally:\n"
        "    loop.close()",
        "a name lookup of 'api.unfaked.example' (getaddrinfo)",
    ),
    (
        "udp-sendto",
        "with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:\n    s.sendto(b'x', (ELSEWHERE, 53))",
        f"a datagram to {ELSEWHERE}:53",
    ),
    (
        "udp-sendmsg",
        "with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:\n    s.sendmsg([b'x'], [], 0, (ELSEWHERE, 53))",
        f"a datagram to {ELSEWHERE}:53",
    ),
    (
        "c-level-socket-connect",
        "s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
        "s.settimeout(1)\n"
        "try:\n"
        "    s.connect((ELSEWHERE, 443))\n"
        "finally:\n"
        "    s.close()",
        f"a socket connection to {ELSEWHERE}:443",
    ),
    (
        "tcp-fast-open",
        "with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:\n"
        "    s.settimeout(1)\n"
        "    s.sendto(b'GET / HTTP/1.0\\r\\n\\r\\n', socket.MSG_FASTOPEN, (ELSEWHERE, 80))",
        f"a TCP Fast Open connection to {ELSEWHERE}:80",
    ),
]

GUARD_TEST = """
import _socket, asyncio, socket

ELSEWHERE = {elsewhere!r}

def reach_out():
{body}

def test_swallows_the_refusal():
    try:
        reach_out()
    except Exception:
        pass  # as an app's fallback would: the guard still fails the test
"""


@pytest.mark.parametrize(("code", "message"), [c[1:] for c in GUARD_CASES], ids=[c[0] for c in GUARD_CASES])
def test_network_guard_refuses(pytester: pytest.Pytester, code: str, message: str) -> None:
    body = "\n".join("    " + line for line in code.splitlines())
    pytester.makepyfile(GUARD_TEST.format(elsewhere=ELSEWHERE, body=body))
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "xaio_mock_externals=true")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*pytest-xaio blocked {message}*", "*allow it: xaio_allow_hosts = *"])


def test_network_guard_blames_the_test_that_started_a_late_thread(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_threads=f"""
        import socket, threading

        go, done, seen = threading.Event(), threading.Event(), []

        def reach_out_later():
            go.wait(30)
            try:
                socket.create_connection(({ELSEWHERE!r}, 443), timeout=1).close()
            except Exception as exc:
                seen.append(type(exc).__name__)
            finally:
                done.set()

        def test_starts_a_thread_and_returns():
            threading.Thread(target=reach_out_later, daemon=True).start()

        def test_runs_while_that_thread_reaches_out():
            go.set()
            assert done.wait(30)
            assert seen == ["BlockedRequestError"]
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-o", "xaio_mock_externals=true")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_starts_a_thread_and_returns*",
            f"*pytest-xaio blocked a socket connection to {ELSEWHERE}:443",
            "*from a thread that test_threads.py::test_starts_a_thread_and_returns started and left running*",
        ]
    )
    assert "ERROR at teardown of test_runs_while_that_thread_reaches_out" not in result.stdout.str()


# --- a live Stripe key in the environment: refused only where the fakes are in use ----------------
@pytest.mark.parametrize("use", ["stripe_fake", "flag"])
def test_a_live_stripe_key_in_the_environment_ends_a_run_that_uses_the_fakes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, use: str
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_" + "51Habcdefghij")
    if use == "flag":
        pytester.makepyfile("def test_x(): pass")
        result = pytester.runpytest("-p", "no:cacheprovider", "--xaio-mock-externals")
    else:
        pytester.makepyfile("def test_x(stripe_fake): pass")
        result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*pytest-xaio refused a live Stripe key*in the environment variable $STRIPE_API_KEY*"])


def test_a_live_stripe_key_in_the_environment_leaves_a_suite_without_fakes_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plugin is loaded (installed) but this suite uses neither the fakes nor the flag.
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_" + "51Habcdefghij")
    pytester.makepyfile("def test_x(): pass\ndef test_y(): pass")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


# --- the endpoint matrix sends its requests to the app it read ------------------------------------
MARKER_APP = """
from fastapi import FastAPI

other = FastAPI()  # xaio_app: it has none of the routes below, so every request sent here is a 404

app = FastAPI()


@app.get("/things/{thing_id}")
def thing(thing_id: int) -> dict[str, int]:
    return {"id": thing_id}  # never a 404: a missing thing is served too
"""


def test_matrix_requests_go_to_the_app_the_marker_names(pytester: pytest.Pytester) -> None:
    """endpoint_matrix(app=...) reads its cases from that app and must send them there: against
    xaio_app the success case would be a 404 and the -404-missing-resource case would pass falsely."""
    pytester.makepyfile(marker_app=MARKER_APP)
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef thing_id():\n    return 7\n")
    pytester.makeini("[pytest]\nxaio_app = marker_app:other\nxaio_postgres = none\nxaio_public_routes = /*\n")
    pytester.makepyfile(
        test_m="import pytest\n\n"
        '@pytest.mark.endpoint_matrix(app="marker_app:app")\n'
        "def test_m(case):\n    case.validate(case.call())\n"
    )
    result = pytester.runpytest("-v", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.stdout.fnmatch_lines(
        [
            "*GET /things/{thing_id}-200-success? PASSED*",
            "*GET /things/{thing_id}-404-missing-resource? FAILED*",
            "*case missing-resource: expected status 404, got 200*",
        ]
    )


def test_a_killed_runs_create_database_still_running_is_waited_for_and_removed(
    service_postgres_url: str, tmp_path: Path
) -> None:
    """kill -9 ends the client, not its CREATE DATABASE: the server goes on with it, and the scratch
    database appears after the next run's cleanup listed the names. The cleanup waits for it."""
    import threading

    from pytest_xaio.postgres import PostgresServer
    from pytest_xaio.postgres.databases import DatabaseOwner

    tag = uuid.uuid4().hex[:6]
    source, scratch = f"racesrc_{tag}", f"xaio_new_{machine_tag()}_p{_dead_pid()}_{tag}cc"
    with psycopg.connect(service_postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{source}"')
    holder = psycopg.connect(service_postgres_url)  # holds a lock that CREATE DATABASE ... TEMPLATE waits for
    holder.execute(f"COMMENT ON DATABASE \"{source}\" IS 'held'")

    def create_scratch() -> None:  # what the killed run had sent: it stalls on the held lock
        with psycopg.connect(service_postgres_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}" TEMPLATE "{source}"')

    creating = threading.Thread(target=create_scratch)
    creating.start()
    release = threading.Timer(1.5, holder.rollback)  # the stalled statement goes on 1.5 s later
    release.start()
    try:
        with psycopg.connect(service_postgres_url, autocommit=True) as admin:
            for _ in range(100):  # the CREATE DATABASE is waiting on the server
                if admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE position(%s in query) > 0", (scratch,)
                ).fetchone():
                    break
                time.sleep(0.02)
        server = PostgresServer("127.0.0.1", 5432, "postgres", None, "?", "url")
        owner = DatabaseOwner(server, f"race{tag}", "t", location=str(tmp_path))
        owner.drop_stale()
        owner.close()
        creating.join(timeout=30)
        with psycopg.connect(service_postgres_url, autocommit=True) as admin:
            left = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (scratch,)).fetchone()
        assert left is None, f"{scratch} appeared after the cleanup and stayed"
    finally:
        release.join()
        holder.close()
        creating.join(timeout=30)
        with psycopg.connect(service_postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
            admin.execute(f'DROP DATABASE IF EXISTS "{source}"')
