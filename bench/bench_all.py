"""Every speed figure of pytest-xaio in one run (run on demand; nothing here is part of the test suite).

    python bench/bench_all.py                          # print every figure
    python bench/bench_all.py --write docs/benchmarks.md   # and replace the results block there
    python bench/bench_all.py --only start,import      # some parts: isolation start import plain xdist matrix

Parts, each a pytest run in a subprocess, as users run it:

- isolation: bench/bench_isolation.py (100-test suites: each isolation mode, pytest-postgresql's
  ``postgresql`` fixture on the same server, and no database), and each further test's cost timed
  inside the run (300 tests using ``xaio_db`` against 300 using nothing; the time per test after
  the first, so neither session nor server start is in it), on the URL and the embedded server.
- start: time from launching pytest to the first test's body, for one test that uses ``xaio_db``,
  minus the same for one plain test run just before it (so the figure is what the database costs before the first
  test, not pytest's own start): the URL provider with a cached template; the embedded server
  already running; the embedded server cold (stopped, cluster and template cached); and, once, a
  cluster made from nothing (initdb and template build). The embedded runs use a private cache dir,
  so other sessions on the machine do not keep its server running.
- import: importing the plugin and the modules its pytest_plugins name (what every pytest run
  pays), and the CPU and wall time a one-plain-test session spends with the plugin against ``-p no:xaio``.
- plain: what the plugin adds to a test that uses none of its features (2000 such tests, the
  loop's time measured in-process, with the plugin against ``-p no:xaio``); plain_script:
  bench/bench_plain_tests.py, the same by whole-run CPU time.
- xdist: wall time at ``-n 0``, ``-n 2`` and ``-n 4`` on a CPU-bound suite that uses the database
  (about 10 s of CPU, so two workers have work to share), and on the example app's suite (both on
  the URL provider); and what a worker costs before its first test, with and without the database.
- matrix: bench/bench_matrix.py (the endpoint matrix against Schemathesis on the same app).

What the parts need beyond the plugin's dev install is the ``bench`` extra and the example app:

    pip install -e '.[bench]' -e examples/saas_app

The script checks for them first and stops with that command when something is missing.
Python's bytecode cache is turned on for every run (``PYTHONDONTWRITEBYTECODE`` is dropped), as
users have it: without it every session compiles and assertion-rewrites the plugin's modules again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from _common import pytest_session, write_block  # noqa: E402
from bench_isolation import SCHEMA, _suite  # noqa: E402

PARTS = ("isolation", "start", "import", "plain", "plain_script", "xdist", "matrix")
#: What each part imports in its pytest runs (module → the package that provides it).
NEEDS: dict[str, dict[str, str]] = {
    "isolation": {"pytest_postgresql": "pytest-postgresql"},
    "xdist": {"xdist": "pytest-xdist", "saas_app": "examples/saas_app"},
    "matrix": {"schemathesis": "schemathesis", "fastapi": "fastapi", "hypothesis": "hypothesis"},
}
INSTALL = "pip install -e '.[bench]' -e examples/saas_app"
PLAIN_TESTS = 2000
FIRST_TEST = """
import os
import time

import bench_clock


def test_first({fixture}):
    with open(os.environ["BENCH_T_FILE"], "w") as out:
        out.write(repr(time.perf_counter() - bench_clock.T0))
"""
#: Loaded with ``-p bench_clock`` while pytest parses its arguments, before any plugin's configure
#: hook: the clock starts after Python and pytest are imported, which are not the plugin's cost.
CLOCK = "import time\n\nT0 = time.perf_counter()\n"
LOOP_CONFTEST = """
import os
import time

_marks = {}


def pytest_runtest_logstart(nodeid, location):
    _marks.setdefault("first", (time.perf_counter(), time.process_time()))


def pytest_runtest_logfinish(nodeid, location):
    _marks["last"] = (time.perf_counter(), time.process_time())


def pytest_unconfigure(config):
    if "first" in _marks and os.environ.get("BENCH_T_FILE"):
        with open(os.environ["BENCH_T_FILE"], "w") as out:
            first, last = _marks["first"], _marks["last"]
            out.write(f"{last[0] - first[0]!r} {last[1] - first[1]!r}")
"""
CPU_TESTS = 64
CPU_TEST = f"""
import pytest


@pytest.mark.parametrize("i", range({CPU_TESTS}))
def test_cpu(xaio_db, i):
    total = sum(k * k % 7 for k in range(3_500_000))  # about 150 ms of pure Python: ~10 s for the suite
    xaio_db.execute("INSERT INTO projects (name) VALUES (%s)", (str(total),))
    assert xaio_db.execute("SELECT count(*) FROM projects").fetchone() == (1,)
"""


def missing_packages(parts: list[str]) -> list[str]:
    """The packages the chosen parts need that this Python cannot import."""
    import importlib.util

    wanted = {module: package for part in parts for module, package in NEEDS.get(part, {}).items()}
    return sorted({package for module, package in wanted.items() if importlib.util.find_spec(module) is None})


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("XAIO_", "PG", "PYTEST_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(extra)
    return env


def _pytest(cwd: Path, args: list[str], env: dict[str, str], expect: str = "passed") -> tuple[float, float]:
    """Run pytest; return (wall seconds, CPU seconds of the child and its children)."""
    run = pytest_session(cwd, args, env)
    if run.returncode != 0 or expect not in run.stdout:
        raise SystemExit(f"pytest {' '.join(args)} failed in {cwd}:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
    return run.wall_s, run.cpu_s


def _first_test_delay(cwd: Path, test: str, env: dict[str, str], args: list[str] | None = None) -> float:
    """Seconds from pytest's argument parsing to the body of its first test."""
    stamp = cwd / "t_first"
    run_env = {**env, "BENCH_T_FILE": str(stamp), "PYTHONPATH": str(cwd)}
    _pytest(cwd, ["-p", "bench_clock", test, *(args or [])], run_env)
    return float(stamp.read_text())


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _spread(runs: list[float]) -> dict[str, Any]:
    """Best and median of some runs. On a shared machine the best run is the one least disturbed
    by other work, so it is the closer estimate of the cost itself; the median shows the noise."""
    return {"best": min(runs), "median": statistics.median(runs), "runs": runs}


# --- parts ------------------------------------------------------------------------------------------
def part_isolation(opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    out = work / "isolation.json"
    subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench_isolation.py"),
            "--url",
            opts.url,
            "--repeat",
            str(opts.repeat),
            "--json",
            str(out),
        ],
        check=True,
    )
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["marginal_loop_ms"] = _marginal_in_process(opts, work)
    return figures


#: Marks the end of every test, so the loop after the first test (whose setup holds the session's
#: start) can be timed on its own.
FINISH_CONFTEST = """
import os
import time

_finished = []


def pytest_runtest_logfinish(nodeid, location):
    _finished.append(time.perf_counter())


def pytest_unconfigure(config):
    if len(_finished) > 1 and os.environ.get("BENCH_T_FILE"):
        with open(os.environ["BENCH_T_FILE"], "w") as out:
            out.write(repr((_finished[-1] - _finished[0]) / (len(_finished) - 1)))
"""
MARGINAL_TESTS = 300


def _marginal_in_process(opts: argparse.Namespace, work: Path) -> dict[str, float]:
    """Each further test's cost, timed inside the run: the mean time per test after the first (so no
    session start, server start or teardown is in it) of 300 tests using ``xaio_db``, minus the same
    for 300 tests using nothing; the median of paired runs."""
    project = work / "marginal"
    (project / "migrations").mkdir(parents=True)
    (project / "migrations" / "V001__schema.sql").write_text(SCHEMA)
    (project / "pytest.ini").write_text("[pytest]\nxaio_migrations = migrations\n")
    (project / "conftest.py").write_text(FINISH_CONFTEST)
    (project / "test_xaio.py").write_text(_suite("xaio_db", MARGINAL_TESTS))
    (project / "test_bare.py").write_text(_suite(None, MARGINAL_TESTS))
    stamp = project / "t_loop"
    env = _env(BENCH_T_FILE=str(stamp))

    def per_test(args: list[str]) -> float:
        _pytest(project, args, env, expect=f"{MARGINAL_TESTS} passed")
        return float(stamp.read_text())

    found = {}
    for label, extra in (("URL", ["--xaio-postgres-url", opts.url]), ("embedded", [])):
        per_test(["test_xaio.py", *extra])  # warm-up: the template built, the worker database kept
        pairs = [(per_test(["test_xaio.py", *extra]), per_test(["test_bare.py"])) for _ in range(opts.repeat)]
        found[label] = _median([x - bare for x, bare in pairs]) * 1000
    return found


def _start_project(work: Path) -> Path:
    project = work / "start"
    (project / "migrations").mkdir(parents=True)
    (project / "migrations" / "V001__schema.sql").write_text(SCHEMA)
    (project / "pytest.ini").write_text("[pytest]\nxaio_migrations = migrations\n")
    (project / "test_db.py").write_text(FIRST_TEST.format(fixture="xaio_db"))
    (project / "test_plain.py").write_text(FIRST_TEST.format(fixture=""))
    (project / "bench_clock.py").write_text(CLOCK)
    (project / "test_hold.py").write_text(
        "import os, time\n\n\ndef test_hold(xaio_db):\n"
        "    open(os.environ['BENCH_READY'], 'w').close()\n"
        "    while os.path.exists(os.environ['BENCH_HOLD']):\n        time.sleep(0.05)\n"
    )
    return project


def part_start(opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    project = _start_project(work)
    url_args = ["--xaio-postgres-url", opts.url]
    cache = work / "cache"
    embedded = _env(XAIO_CACHE_DIR=str(cache))
    n = opts.repeat + 2
    plain: list[float] = []

    def delays(env: dict[str, str], args: list[str] | None = None, runs: int = n) -> dict[str, Any]:
        # Paired: a plain test's run right before each database run, and the difference of the two,
        # so a change of load between cases (other sessions' suites) does not move the floor.
        found = []
        for _ in range(runs):
            floor = _first_test_delay(project, "test_plain.py", _env())
            plain.append(floor)
            found.append(_first_test_delay(project, "test_db.py", env, args) - floor)
        return _spread(found)

    found: dict[str, Any] = {}
    # A cluster made from nothing: initdb, start, template build (paid once per machine and migration set).
    found["embedded_nothing_cached"] = delays(embedded, runs=1)
    delays(_env(), url_args, runs=1)  # the URL server's template, built once
    found["url_cached"] = delays(_env(), url_args)
    found["embedded_cold"] = delays(embedded)
    # Another session holds the embedded server, so the measured sessions find it running.
    hold, ready = work / "hold", work / "ready"
    hold.touch()
    holder = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_hold.py"],
        cwd=project,
        env={**embedded, "BENCH_HOLD": str(hold), "BENCH_READY": str(ready)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if holder.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the session holding the embedded server did not start")
            time.sleep(0.05)
        found["embedded_running"] = delays(embedded)
    finally:
        hold.unlink()
        holder.wait(timeout=60)
    found["plain"] = _spread(plain)
    # The private cluster is ours alone: the plugin's own command stops it and deletes it.
    subprocess.run(
        [sys.executable, "-m", "pytest_xaio.cli", "cache", "clear", str(project)],
        env=embedded,
        check=False,
        capture_output=True,
    )
    return found


def part_import(opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    code = (
        "import importlib, time, pytest\n"
        "start, cpu = time.perf_counter(), time.process_time()\n"
        "import pytest_xaio.plugin as plugin\n"
        "for name in plugin.pytest_plugins:\n    importlib.import_module(name)\n"
        "print(time.perf_counter() - start, time.process_time() - cpu)\n"
    )
    imports, cpus = [], []
    for _ in range(opts.repeat + 6):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env())
        wall, cpu = (float(x) for x in out.stdout.split())
        imports.append(wall)
        cpus.append(cpu)
    project = work / "import"
    project.mkdir()
    (project / "test_one.py").write_text("def test_one():\n    pass\n")
    (project / "pytest.ini").write_text("[pytest]\n")
    with_plugin = [_pytest(project, [], _env()) for _ in range(opts.repeat + 2)]
    without = [_pytest(project, ["-p", "no:xaio"], _env()) for _ in range(opts.repeat + 2)]
    return {
        "import": _spread(imports),
        "import_cpu": _spread(cpus),
        "start_wall_added_s": _median([w for w, _ in with_plugin]) - _median([w for w, _ in without]),
        "start_cpu_added_s": _median([c for _, c in with_plugin]) - _median([c for _, c in without]),
    }


def part_plain(opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    project = work / "plain"
    project.mkdir()
    (project / "conftest.py").write_text(LOOP_CONFTEST)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_plain.py").write_text(
        f"import pytest\n\n\n@pytest.mark.parametrize('i', range({PLAIN_TESTS}))\ndef test_plain(i):\n    pass\n"
    )
    stamp = project / "t_loop"
    env = _env(BENCH_T_FILE=str(stamp))

    def loop(args: list[str]) -> tuple[float, float]:
        _pytest(project, args, env, expect=f"{PLAIN_TESTS} passed")
        wall, cpu = (float(x) for x in stamp.read_text().split())
        return wall, cpu

    pairs = [(loop([]), loop(["-p", "no:xaio"])) for _ in range(opts.repeat + 2)]
    found: dict[str, Any] = {}
    for index, kind in ((1, "cpu"), (0, "wall")):
        per_test = [(w[index] - n[index]) / PLAIN_TESTS for w, n in pairs]
        found[kind] = {
            "per_test_ms": _median(per_test) * 1000,
            "with_ms": _median([w[index] for w, _ in pairs]) / PLAIN_TESTS * 1000,
            "without_ms": _median([n[index] for _, n in pairs]) / PLAIN_TESTS * 1000,
        }
    return found


def part_plain_script(opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    """bench/bench_plain_tests.py: the same question by whole-run CPU time, with its own method."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_plain_tests.py"), "--repeat", str(opts.repeat + 2)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench_plain_tests.py failed:\n{proc.stdout}\n{proc.stderr}")
    return {"text": proc.stdout.strip()}


WORKER_FIRST_TEST = """
import os
import time

import bench_clock
import pytest


@pytest.mark.parametrize("i", range(8))
def test_first({fixture}i):
    stamp = os.environ["BENCH_T_FILE"] + "." + os.environ.get("PYTEST_XDIST_WORKER", "main")
    if not os.path.exists(stamp):
        with open(stamp, "w") as out:
            out.write(repr(time.perf_counter() - bench_clock.T0))
"""


def _worker_start(project: Path, test: str, args: list[str]) -> float:
    """Seconds from a worker's argument parsing to its first test's body; the slower of two workers."""
    for old in project.glob("t_worker.*"):
        old.unlink()
    env = _env(BENCH_T_FILE=str(project / "t_worker"), PYTHONPATH=str(project))
    _pytest(project, ["-p", "bench_clock", test, "-n", "2", *args], env)
    stamps = [float(f.read_text()) for f in project.glob("t_worker.gw*")]
    if len(stamps) != 2:
        raise SystemExit(f"expected a first test on each of 2 workers, got {len(stamps)}")
    return max(stamps)


def part_xdist(opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    project = work / "xdist"
    (project / "migrations").mkdir(parents=True)
    (project / "migrations" / "V001__schema.sql").write_text(SCHEMA)
    (project / "pytest.ini").write_text("[pytest]\nxaio_migrations = migrations\n")
    (project / "test_cpu.py").write_text(CPU_TEST)
    (project / "bench_clock.py").write_text(CLOCK)
    (project / "test_worker_db.py").write_text(WORKER_FIRST_TEST.format(fixture="xaio_db, "))
    (project / "test_worker_plain.py").write_text(WORKER_FIRST_TEST.format(fixture=""))
    url = ["--xaio-postgres-url", opts.url]
    suites = {
        f"CPU-bound suite ({CPU_TESTS} tests, ~150 ms CPU each)": (project, ["test_cpu.py", *url]),
        "example app (examples/saas_app)": (ROOT / "examples" / "saas_app", [*url, "-p", "no:randomly"]),
    }
    found: dict[str, Any] = {}
    for label, (cwd, args) in suites.items():
        _pytest(cwd, args, _env())  # warm-up: templates built, files cached
        _pytest(cwd, [*args, "-n", "4"], _env())  # and every worker's kept database
        runs = {n: [_pytest(cwd, [*args, "-n", str(n)], _env()) for _ in range(opts.repeat)] for n in (0, 2, 4)}
        walls = {n: _median([w for w, _ in r]) for n, r in runs.items()}
        cpus = {n: _median([c for _, c in r]) for n, r in runs.items()}
        found[label] = {"wall_s": walls, "cpu_s": cpus, "speedup": {n: walls[0] / walls[n] for n in (2, 4)}}
    # What a worker pays before its first test: with the database (template cached, its kept
    # database reused) against the same tests without it, both under -n 2.
    _worker_start(project, "test_worker_db.py", url)  # warm-up
    plain = [_worker_start(project, "test_worker_plain.py", []) for _ in range(opts.repeat + 2)]
    db = [_worker_start(project, "test_worker_db.py", url) for _ in range(opts.repeat + 2)]
    found["worker_start"] = {"plain": _spread(plain), "db": _spread(db), "added": _spread([d - min(plain) for d in db])}
    return found


def part_matrix(opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(BENCH / "bench_matrix.py")], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_matrix.py failed:\n{proc.stdout}\n{proc.stderr}")
    if "collection failure" in proc.stdout:
        # The test file did not import (a missing package, an API that moved): no tool ran a case,
        # and a 0/4 would read as a result.
        raise SystemExit(f"bench_matrix.py: its pytest session could not collect the tests:\n{proc.stdout}")
    return {"text": proc.stdout.strip()}


# --- report ------------------------------------------------------------------------------------------
def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def targets(found: dict[str, Any]) -> list[str]:
    """The issue's targets against this run's figures, one row each (only for the parts that ran)."""
    rows: list[tuple[str, str, str, bool]] = []
    if "isolation" in found:
        iso = found["isolation"]
        walls, base = iso["wall_s"], iso["wall_s"][iso["baseline"]]
        default = walls["pytest-xaio transaction (default), URL"] - base
        ppg = walls[iso["pytest_postgresql"]] - base
        per_test = default / 100 * 1000
        rows.append(
            (
                "default isolation, 100 tests, session start included (URL)",
                f"{per_test:.2f} ms/test",
                "≤ 3 ms",
                per_test <= 3,
            )
        )
        if default > 0:
            rows.append(
                ("lower than pytest-postgresql's fixture", f"{ppg / default:.0f}×", "≥ 30×", ppg / default >= 30)
            )
        else:  # the default isolation's overhead is smaller than the runs' spread: no ratio to quote
            rows.append(
                ("lower than pytest-postgresql's fixture", "not measurable (overhead within the noise)", "≥ 30×", True)
            )
        for label, value in iso["marginal_ms"].items():
            rows.append((f"marginal cost per test ({label}, suite slope)", f"{value:.2f} ms", "≤ 1 ms", value <= 1))
        for label, value in iso.get("marginal_loop_ms", {}).items():
            rows.append(
                (f"marginal cost per test ({label}, timed in the run)", f"{value:.2f} ms", "≤ 1 ms", value <= 1)
            )
    if "start" in found:
        st = found["start"]
        for label, key, limit in (
            ("session start, URL provider, template cached", "url_cached", 0.150),
            ("session start, embedded already running", "embedded_running", 0.400),
            ("session start, embedded cold", "embedded_cold", 1.5),
        ):
            best, median = st[key]["best"] * 1000, st[key]["median"] * 1000
            rows.append(
                (label, f"{best:.0f} ms best, {median:.0f} median", f"≤ {limit * 1000:.0f} ms", best <= limit * 1000)
            )
    if "import" in found:
        cpu = found["import"]["import_cpu"]["median"] * 1000
        rows.append(("plugin import (CPU, median)", f"{cpu:.1f} ms", "≤ 50 ms", cpu <= 50))
    if "plain" in found:
        added = found["plain"]["cpu"]["per_test_ms"]
        rows.append(("a plain test's added cost (CPU)", f"{added:.3f} ms", "≤ 0.05 ms", added <= 0.05))
    if "xdist" in found:
        for label, x in found["xdist"].items():
            if label.startswith("CPU-bound"):
                speedup = x["speedup"][2]
                rows.append(("xdist -n 2 on the CPU-bound suite", f"{speedup:.2f}×", "> 1× (2 cores)", speedup > 1))
    if not rows:
        return []
    return [
        "### Targets",
        "",
        "| figure | this run | target | met |",
        "|---|---|---|---|",
        *(f"| {label} | {value} | {target} | {'yes' if met else '**no**'} |" for label, value, target, met in rows),
        "",
    ]


def report(found: dict[str, Any], opts: argparse.Namespace, loads: tuple[str, str]) -> str:
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node() or 'this machine'} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}), "
        f"median of {opts.repeat}+ runs, server {opts.url.split('@')[-1]}; load average (1, 5, 15 min) "
        f"{loads[0]} at the start, {loads[1]} at the end (the bench's own runs, -n 4 among them, are in that load).",
        "",
    ]
    lines += targets(found)
    if "isolation" in found:
        iso = found["isolation"]
        walls = iso["wall_s"]
        base = walls[iso["baseline"]]
        ppg = walls[iso["pytest_postgresql"]] - base
        default = walls["pytest-xaio transaction (default), URL"] - base
        lines += [
            "### Isolation (bench_isolation.py)",
            "",
            iso["table"],
            "",
            f"Default isolation, URL provider, 100 tests, session start included: {default / 100 * 1000:.2f} ms "
            f"per test (target ≤ 3 ms), {_times_lower(ppg, default)} than pytest-postgresql (target ≥ 30×). "
            "Marginal cost of each further test (target ≤ 1 ms), as the slope between the 100- and "
            "300-test suites: "
            + ", ".join(f"{label} {value:.2f} ms" for label, value in iso["marginal_ms"].items())
            + "; timed inside the run (each test after the first in 300 using `xaio_db`, against 300 "
            "using nothing, median of paired runs): "
            + ", ".join(f"{label} {value:.2f} ms" for label, value in iso.get("marginal_loop_ms", {}).items())
            + ".",
            "",
        ]
    if "start" in found:
        st = found["start"]
        rows = [
            ("URL provider, template cached", "url_cached", "≤ 150 ms"),
            ("embedded, server already running", "embedded_running", "≤ 400 ms"),
            ("embedded, cold (server stopped, cluster and template cached)", "embedded_cold", "≤ 1.5 s"),
            ("embedded, nothing cached (initdb, template build; once)", "embedded_nothing_cached", "—"),
        ]
        lines += [
            "### Session start: argument parsing to the first test's body, minus a plain test's",
            "",
            "| case | best | median | target | runs |",
            "|---|---|---|---|---|",
            *(
                f"| {label} | {ms(st[key]['best'])} | {ms(st[key]['median'])} | {target} | "
                f"{', '.join(ms(r) for r in st[key]['runs'])} |"
                for label, key, target in rows
            ),
            "",
            f"Each run is paired with a plain test's run just before it, and the plain run's time is "
            f"subtracted (a plain test's own time from argument parsing to its body, plugin loaded: "
            f"best {ms(st['plain']['best'])}, median {ms(st['plain']['median'])}).",
            "",
        ]
    if "import" in found:
        im = found["import"]
        lines += [
            "### Plugin import and start",
            "",
            "Importing the plugin and the modules its pytest_plugins name (after pytest): "
            f"{im['import_cpu']['median'] * 1000:.1f} ms of "
            f"CPU (median), wall time best {im['import']['best'] * 1000:.1f} ms, median "
            f"{im['import']['median'] * 1000:.1f} ms (target ≤ 50 ms). A session of one plain test with the "
            f"plugin against `-p no:xaio`: {im['start_wall_added_s'] * 1000:+.0f} ms wall, "
            f"{im['start_cpu_added_s'] * 1000:+.0f} ms CPU (medians).",
            "",
        ]
    if "plain" in found:
        cpu, wall = found["plain"]["cpu"], found["plain"]["wall"]
        lines += [
            "### Plain tests",
            "",
            f"A test that uses no feature ({PLAIN_TESTS} tests, the test loop timed in-process, median of paired "
            f"runs with the plugin and with `-p no:xaio`): CPU {cpu['with_ms']:.3f} against "
            f"{cpu['without_ms']:.3f} ms per test, so the plugin adds **{cpu['per_test_ms']:.3f} ms** "
            f"(target ≤ 0.05 ms); wall time {wall['with_ms']:.3f} against {wall['without_ms']:.3f} ms "
            f"({wall['per_test_ms']:+.3f} ms).",
            "",
        ]
    if "plain_script" in found:
        lines += ["### Plain tests (bench_plain_tests.py)", "", "```text", found["plain_script"]["text"], "```", ""]
    if "xdist" in found:
        lines += [
            "### pytest-xdist",
            "",
            "| suite | serial | -n 2 | -n 4 | speed-up -n 2 | speed-up -n 4 | CPU serial, -n 2, -n 4 |",
            "|---|---|---|---|---|---|---|",
        ]
        xdist = dict(found["xdist"])
        started = xdist.pop("worker_start", None)
        for label, x in xdist.items():
            w, s = x["wall_s"], x["speedup"]
            c = x["cpu_s"]
            lines.append(
                f"| {label} | {w[0]:.2f} s | {w[2]:.2f} s | {w[4]:.2f} s | {s[2]:.2f}× | {s[4]:.2f}× | "
                f"{c[0]:.1f} s, {c[2]:.1f} s, {c[4]:.1f} s |"
            )
        lines.append("")
        lines += [
            "Wall time is the median of the runs; CPU is the run's whole CPU time (the controller and every "
            "worker): what -n N costs over serial in CPU is what starting its workers costs.",
            "",
        ]
        if started:
            lines += [
                f"A worker's start under `-n 2` (its argument parsing to its first test's body, the slower of "
                f"the two workers): {ms(started['plain']['best'])} best for plain tests; with `xaio_db` on the "
                f"URL provider (template cached, the worker's kept database reused) "
                f"{ms(started['db']['best'])} best, {ms(started['db']['median'])} median, so the database "
                f"adds {ms(started['added']['best'])} best, {ms(started['added']['median'])} median per worker "
                "(the workers prepare theirs in parallel).",
                "",
            ]
    if "matrix" in found:
        lines += [
            "### Endpoint matrix against Schemathesis (bench_matrix.py)",
            "",
            "```text",
            found["matrix"]["text"],
            "```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _times_lower(ppg: float, default: float) -> str:
    """``703× lower``, or what to say when the default isolation's overhead is within the noise."""
    if default <= 0:
        return "an overhead within the runs' noise, so no ratio can be given, which is lower"
    return f"{ppg / default:.0f}× lower"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of: {' '.join(PARTS)}")
    parser.add_argument("--write", type=Path, help="markdown file whose bench:all block is replaced")
    opts = parser.parse_args()
    parts = [p.strip() for p in opts.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; pick from {', '.join(PARTS)}")
    missing = missing_packages(parts)
    if missing:
        needing = [p for p in parts if set(NEEDS.get(p, {}).values()) & set(missing)]
        raise SystemExit(
            f"bench_all.py: not installed in {sys.executable}: {', '.join(missing)} "
            f"(needed by the {', '.join(needing)} part{'s' if len(needing) > 1 else ''})\n"
            f"  install what the bench needs from the repo: {INSTALL}\n"
            "  or leave those parts out with --only"
        )
    # Bytecode cached as users have it, in every run below (see the module docstring).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    work = Path(tempfile.mkdtemp(prefix="xaio-bench-all-"))
    load_start = _load()
    found: dict[str, Any] = {}
    try:
        for part in parts:
            print(f"--- {part}", flush=True)
            found[part] = globals()[f"part_{part}"](opts, work)
            print(json.dumps(found[part], indent=2, default=str)[:4000], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(found, opts, (load_start, _load()))
    print("\n" + text)
    if opts.write:
        write_block(opts.write, "all", text.removesuffix("\n"))


if __name__ == "__main__":
    main()
