"""The fault suite: kill -9 at many points, busy and shared servers, stale pid files, concurrent
same-name projects; each time the next run must pass and nothing unmarked may remain.

Marked ``faults``: not part of the default run (``-m "not faults"`` in the project's addopts);
``.ci/run`` runs it as its own step with ``pytest -m faults``. Only processes these tests start are
ever killed (each run is a process group of its own). docs/reliability.md quotes the count.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest
from conftest import SERVICE_POSTGRES_URL

from pytest_xaio.postgres.databases import MARK, machine_tag

pytestmark = pytest.mark.faults

SCRATCH = re.compile(r"^xaio_new_([0-9a-f]{8})_p(\d+)_")

MIGRATIONS = {f"V00{i}__step{i}.sql": f"CREATE TABLE step{i} (id int);\nSELECT pg_sleep(0.3);\n" for i in range(1, 6)}
TESTS = textwrap.dedent(
    """
    import time
    import pytest

    @pytest.mark.parametrize("n", range(6))
    def test_write(xaio_db, n):
        xaio_db.execute("INSERT INTO step5 VALUES (%s)", (n,))
        time.sleep(0.2)
        assert xaio_db.execute("SELECT count(*) FROM step5").fetchone() == (1,)
    """
)
#: Run by the recovery run: no unmarked xaio_ database of a dead run is left on the server.
CHECK = textwrap.dedent(
    f"""
    import os, re, psycopg

    def test_no_unmarked_leftovers(xaio_database, xaio_postgres):
        with psycopg.connect(**xaio_postgres.connect_kwargs()) as conn:
            rows = conn.execute(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE left(datname, 5) = 'xaio_'"
            ).fetchall()
        bad = []
        for name, comment in rows:
            if comment and comment.startswith({MARK!r}):
                continue
            found = re.match(r"^xaio_new_{machine_tag()}_p(\\d+)_", name)
            if found and os.path.exists(f"/proc/{{found.group(1)}}"):
                continue  # a live session's database being made right now
            if found or name.startswith("xaio_" + os.path.basename(os.getcwd())[:16]):
                bad.append(name)
        assert bad == []
    """
)


def _project(root: Path, name: str = "faultproj", migrations: dict[str, str] | None = None) -> Path:
    path = root / name
    (path / "migrations").mkdir(parents=True)
    for file, sql in (migrations or MIGRATIONS).items():
        (path / "migrations" / file).write_text(sql)
    (path / "tox.ini").write_text("[pytest]\nxaio_migrations = migrations\n")
    (path / "test_writes.py").write_text(TESTS)
    (path / "test_zz_check.py").write_text(CHECK)
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("XAIO_", "PYTEST_", "PG"))}


def _pytest(path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore", *args]


def _run(path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_pytest(path, *args), cwd=path, env=_env(), capture_output=True, text=True, timeout=timeout)


def _kill_after(path: Path, delay: float, *args: str) -> None:
    """Start a run in a process group of its own and kill -9 the whole group after ``delay`` seconds."""
    proc = subprocess.Popen(
        _pytest(path, *args),
        cwd=path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        proc.wait(delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _assert_recovers(path: Path, *args: str) -> None:
    result = _run(path, *args)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "7 passed" in result.stdout, result.stdout[-2000:]


# --- kill -9 at many points -----------------------------------------------------------------------
COLD_START_POINTS = [0.8, 1.6, 2.5, 3.5, 5.0, 7.0]
TEMPLATE_POINTS = [1.5, 2.5, 3.5, 4.5]
CLONE_POINTS = [3.0, 5.0, 7.0]


@pytest.mark.parametrize("delay", COLD_START_POINTS, ids=[f"cold-start-kill-at-{d}s" for d in COLD_START_POINTS])
def test_kill_during_cold_start_of_the_embedded_server(tmp_path: Path, delay: float, embedded_cache: Path) -> None:
    path = _project(tmp_path)
    # --opt=value: a bare existing path among the arguments would change pytest's rootdir
    args = ("--xaio-postgres=embedded", f"--xaio-cache-dir={embedded_cache}")
    _kill_after(path, delay, *args)
    _assert_recovers(path, *args)


@pytest.mark.parametrize("delay", TEMPLATE_POINTS, ids=[f"template-build-kill-at-{d}s" for d in TEMPLATE_POINTS])
def test_kill_during_template_build_on_the_users_server(tmp_path: Path, delay: float) -> None:
    path = _project(tmp_path)
    _kill_after(path, delay, "--xaio-postgres-url", SERVICE_POSTGRES_URL)
    _assert_recovers(path, "--xaio-postgres-url", SERVICE_POSTGRES_URL)


@pytest.mark.parametrize("delay", CLONE_POINTS, ids=[f"n2-clone-kill-at-{d}s" for d in CLONE_POINTS])
def test_kill_during_n2_clone_run_on_the_users_server(tmp_path: Path, delay: float) -> None:
    path = _project(tmp_path)
    args = ("--xaio-postgres-url", SERVICE_POSTGRES_URL, "--xaio-isolation", "clone", "-n", "2")
    _kill_after(path, delay, *args)
    _assert_recovers(path, *args)


# --- shared, busy and stale servers ---------------------------------------------------------------
def _cluster_dir(cache: Path) -> Path:
    found = [p for p in cache.iterdir() if p.name.startswith("embedded-pg")]
    assert len(found) == 1, list(cache.iterdir())
    return found[0]


def test_busy_server_used_by_another_session_survives_a_new_session(tmp_path: Path, embedded_cache: Path) -> None:
    cache = embedded_cache
    args = ("--xaio-postgres=embedded", f"--xaio-cache-dir={cache}")
    first = _project(tmp_path, "warmup")
    assert _run(first, *args).returncode == 0  # initdb once; the server stops at the end
    base = _cluster_dir(cache)
    with (base / "data" / "xaio.conf").open("a") as conf:  # few slots, none reserved: easy to fill
        conf.write("max_connections = 12\nsuperuser_reserved_connections = 0\nreserved_connections = 0\n")
    holder = tmp_path / "holder"
    holder.mkdir()
    (holder / "tox.ini").write_text("[pytest]\n")
    (holder / "test_hold.py").write_text(
        "import time\n"
        "def test_hold(xaio_db):\n"
        "    time.sleep(25)\n"
        "    assert xaio_db.execute('SELECT 1').fetchone() == (1,)\n"
    )
    session_a = subprocess.Popen(_pytest(holder, *args), cwd=holder, env=_env(), stdout=subprocess.PIPE, text=True)
    pid_file = base / "data" / "postmaster.pid"
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and (base / "clients.json").read_text().strip() not in ("", "[]")):
        assert time.monotonic() < deadline, "session A never started the server"
        time.sleep(0.2)
    time.sleep(3)  # session A is inside its test now
    postmaster = int(pid_file.read_text().splitlines()[0])
    port = int(pid_file.read_text().splitlines()[3])
    fillers: list[psycopg.Connection[object]] = []
    while True:  # take every free slot: the server now answers "too many clients"
        try:
            fillers.append(psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres"))
        except psycopg.OperationalError:
            break
    assert fillers, "could not fill the server"

    def close_fillers() -> None:
        for conn in fillers:
            conn.close()

    release = threading.Timer(6.0, close_fillers)
    release.start()
    try:
        session_b = _run(_project(tmp_path, "second"), *args)
    finally:
        release.join()
    if session_a.poll() is None:  # A still runs: on the very same server process, never restarted
        assert int(pid_file.read_text().splitlines()[0]) == postmaster
    out_a, _ = session_a.communicate(timeout=120)
    assert session_a.returncode == 0, out_a  # session A's tests did not die mid-run
    assert session_b.returncode == 0, session_b.stdout[-3000:]  # B waited for the busy server
    assert "7 passed" in session_b.stdout


def test_decoy_process_named_by_a_stale_pid_file_survives(tmp_path: Path, embedded_cache: Path) -> None:
    cache = embedded_cache
    args = ("--xaio-postgres=embedded", f"--xaio-cache-dir={cache}")
    path = _project(tmp_path)
    assert _run(path, *args).returncode == 0
    data = _cluster_dir(cache) / "data"
    # A process that looks like a postgres to a careless check: "postgres" in its command line,
    # a postgresql:// URL, and running inside the data directory.
    decoy = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "postgres", "-D", str(data), "postgresql://x"],
        cwd=data,
    )
    try:
        (data / "postmaster.pid").write_text(f"{decoy.pid}\n{data}\n1700000000\n5999\n\n127.0.0.1\n0 0\nready\n")
        _assert_recovers(path, *args)
        assert decoy.poll() is None, "the plugin killed a process that was not its server"
    finally:
        decoy.kill()
        decoy.wait()


def test_concurrent_same_name_projects_keep_their_templates(tmp_path: Path) -> None:
    one = _project(tmp_path / "a", "backend")
    other = _project(tmp_path / "b", "backend", {**MIGRATIONS, "V006__more.sql": "CREATE TABLE more (id int);\n"})
    args = ("--xaio-postgres-url", SERVICE_POSTGRES_URL)
    for _ in range(2):
        procs = [
            subprocess.Popen(_pytest(p, *args), cwd=p, env=_env(), stdout=subprocess.PIPE, text=True)
            for p in (one, other)
        ]
        outs = [proc.communicate(timeout=300)[0] for proc in procs]
        for proc, out in zip(procs, outs, strict=True):
            assert proc.returncode == 0, out[-3000:]
    # The second round found both templates cached: neither run dropped the other's.
    assert all("template cached" in out for out in outs), outs


def test_postmaster_dying_mid_run_is_said_once_and_the_rest_stop(tmp_path: Path, embedded_cache: Path) -> None:
    cache = embedded_cache
    path = tmp_path / "dies"
    path.mkdir()
    (path / "tox.ini").write_text("[pytest]\n")
    (path / "test_dies.py").write_text(
        textwrap.dedent(
            f"""
            import os, signal, pathlib, time
            import pytest

            def test_1_kills_its_server(xaio_db):
                data = next(pathlib.Path({str(cache)!r}).glob("embedded-pg*/data"))
                os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
                time.sleep(1)

            @pytest.mark.parametrize("n", range(11))
            def test_2_after(xaio_db, n):
                xaio_db.execute("SELECT 1")
            """
        )
    )
    result = _run(path, "--xaio-postgres=embedded", f"--xaio-cache-dir={cache}")
    out = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert out.count("stopped answering mid-run") == 1, out[-3000:]
    # The test that was running when the server died may fail on its own; none of the rest runs.
    assert "test_2_after" not in out, out[-3000:]
    assert "Traceback (most recent call last)" not in out, out[-3000:]  # the session's cleanup says nothing raw
    # The kept worker database could not be checked: the summary does not claim it was kept.
    assert "could not be checked: the server did not answer" in out, out[-3000:]
    assert "kept for the next run" not in out, out[-3000:]


HOLDER_TEST = textwrap.dedent(
    """
    import os, pathlib, time

    def test_hold(xaio_db):
        pathlib.Path("inside").touch()  # the driving test waits for this, then acts
        deadline = time.monotonic() + 180
        while not pathlib.Path("go").exists():
            assert time.monotonic() < deadline, "never told to go on"
            time.sleep(0.1)
        assert xaio_db.execute("SELECT 1").fetchone() == (1,)
    """
)


def _wait_for(path: Path, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert proc.poll() is None, f"{what} ended early: {proc.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, f"{what} never got inside its test"
        time.sleep(0.1)


def _cluster_and_holder(tmp_path: Path, embedded_cache: Path) -> tuple[tuple[str, ...], Path, Path]:
    """A warmed-up embedded cluster (initdb once) and a project whose test holds a session on it:
    the run arguments, the cluster's postmaster.pid and the holder project's folder."""
    args = ("--xaio-postgres=embedded", f"--xaio-cache-dir={embedded_cache}")
    assert _run(_project(tmp_path, "warmup"), *args).returncode == 0  # initdb once
    holder = tmp_path / "holder"
    holder.mkdir()
    (holder / "tox.ini").write_text("[pytest]\n")
    (holder / "test_hold.py").write_text(HOLDER_TEST)
    return args, _cluster_dir(embedded_cache) / "data" / "postmaster.pid", holder


def test_silent_server_used_by_a_live_session_is_left_alone(tmp_path: Path, embedded_cache: Path) -> None:
    """A server that does not answer at all (stopped with SIGSTOP here) while another live session is
    registered on it: the new session says so and stops; it never signals the server."""
    args, pid_file, holder = _cluster_and_holder(tmp_path, embedded_cache)
    session_a = subprocess.Popen(_pytest(holder, *args), cwd=holder, env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        _wait_for(holder / "inside", session_a, "session A")
        postmaster = int(pid_file.read_text().splitlines()[0])
        os.kill(postmaster, signal.SIGSTOP)  # it accepts TCP connections but never answers
        try:
            session_b = _run(_project(tmp_path, "second"), *args)
        finally:
            os.kill(postmaster, signal.SIGCONT)
        out_b = session_b.stdout + session_b.stderr
        assert session_b.returncode == pytest.ExitCode.USAGE_ERROR, out_b[-3000:]
        assert f"(pid {postmaster}, port" in out_b, out_b[-3000:]
        assert f"does not answer; test sessions {session_a.pid} use it, so the plugin leaves it alone" in out_b
        assert int(pid_file.read_text().splitlines()[0]) == postmaster  # never restarted
    finally:
        (holder / "go").touch()
        out_a, _ = session_a.communicate(timeout=120)
    assert session_a.returncode == 0, out_a[-3000:]  # A's test went on on the same server


def test_concurrent_runs_of_one_project_with_different_migrations(tmp_path: Path) -> None:
    """One checkout, two runs at once, the second after a migration was added: the second builds its
    own template and does not drop the one the first still clones from (clone isolation: a clone per test)."""
    path = tmp_path / "oneproject"
    (path / "migrations").mkdir(parents=True)
    (path / "migrations" / "V001__one.sql").write_text("CREATE TABLE one (id int);\n")
    (path / "tox.ini").write_text("[pytest]\nxaio_migrations = migrations\nxaio_isolation = clone\n")
    (path / "test_hold.py").write_text(
        textwrap.dedent(
            """
            import os, pathlib, time

            def test_1_hold(xaio_db):
                if os.environ.get("HOLD") == "1":
                    pathlib.Path("inside").touch()
                    deadline = time.monotonic() + 180
                    while not pathlib.Path("go").exists():
                        assert time.monotonic() < deadline, "never told to go on"
                        time.sleep(0.1)

            def test_2_clones_again(xaio_db):  # a fresh clone of this run's own template
                rows = xaio_db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                tables = {r[0] for r in rows if not r[0].startswith("xaio_")}  # not the plugin's history
                assert tables == set(os.environ["TABLES"].split(","))
            """
        )
    )
    args = ("--xaio-postgres-url", SERVICE_POSTGRES_URL, "-p", "no:randomly")
    first = subprocess.Popen(
        _pytest(path, *args),
        cwd=path,
        env={**_env(), "HOLD": "1", "TABLES": "one"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(path / "inside", first, "the first run")
        (path / "migrations" / "V002__two.sql").write_text("CREATE TABLE two (id int);\n")
        second = subprocess.run(
            _pytest(path, *args),
            cwd=path,
            env={**_env(), "TABLES": "one,two"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
        assert "2 passed" in second.stdout
    finally:
        (path / "go").touch()
        out_first, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out_first[-3000:]  # its template was still there for test_2
    assert "2 passed" in out_first


def test_hung_server_that_no_live_session_uses_is_replaced(tmp_path: Path, embedded_cache: Path) -> None:
    """The other side of the rule above: a run was killed while its server hung (SIGSTOP), so no live
    session is registered on a server that does not answer. The next session stops it and starts a
    new one on the same data directory, and its tests pass."""
    args, pid_file, holder = _cluster_and_holder(tmp_path, embedded_cache)
    session_a = subprocess.Popen(
        _pytest(holder, *args), cwd=holder, env=_env(), stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    _wait_for(holder / "inside", session_a, "session A")
    postmaster = int(pid_file.read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGSTOP)
    session_a.kill()  # the run dies; its server is left running, stopped, with nobody registered
    session_a.communicate(timeout=30)
    try:
        _assert_recovers(_project(tmp_path, "next"), *args)
        assert not _running(postmaster)  # the hung server was stopped, a new one served the run
    finally:
        if _running(postmaster):
            os.kill(postmaster, signal.SIGCONT)


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
