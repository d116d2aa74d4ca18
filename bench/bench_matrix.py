"""Endpoint-matrix benchmark (run on demand; not part of the test suite).

    .venv/bin/python bench/bench_matrix.py                 # both parts, best of 3 rounds per variant
    .venv/bin/python bench/bench_matrix.py --part collect
    .venv/bin/python bench/bench_matrix.py --part run --rounds 1

1. collect: reading the routes of a 200-route FastAPI app and building its cases (the collection-time
   work of ``@pytest.mark.endpoint_matrix``), best and median of several rounds.
2. run: for each app variant (tests/apps/matrix_authz.py, 15 routes: ``correct``, then ``app``
   with four planted bugs: another user's row, an unguarded admin route, a 500 on a null optional
   field, a soft delete the GET ignores), rounds of three pytest sessions against the same real
   PostgreSQL, each tool alone in its own session after one warm-up request: the matrix test;
   Schemathesis' pytest integration (``@schema.parametrize()``, default checks, the same valid
   ``Authorization`` header); the same without ``status_code_conformance`` ("relaxed"). The first
   two run one right after the other, which goes first alternating between rounds. Reports each
   tool's best time over the rounds (junit times of its items), its process CPU time (all threads:
   the app runs on its loop thread), cases, planted bugs found and false positives (failures on the
   correct app), and per round the ratio of Schemathesis' time to the matrix's.

   Alone in its session, neither tool's time depends on what the other did before it. With both in
   one session (this bench until 2026-12-01), the rounds in which Schemathesis ran first gave
   ratios of 2.3-2.4 in three of four, against 2.9-4.4 when the matrix ran first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
sys.path.insert(0, str(APPS))
from _common import pytest_session  # noqa: E402
from matrix_authz import SCHEMA  # noqa: E402

sys.path.remove(str(APPS))
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"

#: Route of each planted bug in matrix_authz.py (``app``; ``correct`` has none).
PLANTED = {
    "GET /api/notes/{note_id}": "returns another user's note",
    "GET /api/admin/stats": "no admin dependency",
    "PATCH /api/me": "500 on a null optional field",
    "GET /api/tasks/{task_id}": "soft delete ignored by the GET",
}

TOOLS = ("matrix", "schemathesis", "schemathesis_relaxed")


MATRIX_TEST = """
import pytest

@pytest.mark.endpoint_matrix(expect={"POST /password-recovery/{email}": {"missing-resource": 200}})
def test_matrix(case):
    case.validate(case.call())
"""

# Runs first and belongs to neither tool: the first request of a session pays for imports and
# connections, and whichever tool ran first would carry that cost.
WARMUP_TEST = """
def test_0_warmup(xaio_client):
    assert xaio_client.get("/api/me").status_code == 200
"""

BENCH_APP = """
import os

import matrix_authz
from matrix_authz import get_db, require_admin  # noqa: F401  (named by the ini)

app = matrix_authz.app if os.environ["MATRIX_BENCH_BUGS"] == "1" else matrix_authz.correct
"""

SCHEMATHESIS_TEST = """
import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import status_code_conformance

from bench_app import app

# Loaded at import, as Schemathesis' docs show (its lazy from_fixture() fails on pytest 9:
# "'Function' object has no attribute '_nodeid'"). The app opens its database lazily, and
# xaio_client (requested below) puts the test's database behind its DB dependency.
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_schemathesis(case, xaio_client, xaio_token):
    with open(os.environ["BENCH_COUNT_FILE"] + ".schemathesis", "a") as counter:
        counter.write("1\\n")
    case.call_and_validate(headers=xaio_token.headers())
"""

# The relaxed run, in a file (and a session) of its own, after the two timed ones: its 15-30 s
# would otherwise sit between them in every other round, and the machine's speed drifts over that long.
SCHEMATHESIS_RELAXED_TEST = (
    SCHEMATHESIS_TEST.split("\n\n@schema.parametrize()")[0]
    + """

@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_schemathesis_relaxed(case, xaio_client, xaio_token):
    # The same without the check that flags FastAPI's undocumented 401/404/422, so it is not stopped early.
    with open(os.environ["BENCH_COUNT_FILE"] + ".schemathesis_relaxed", "a") as counter:
        counter.write("1\\n")
    case.call_and_validate(headers=xaio_token.headers(), excluded_checks=[status_code_conformance])
"""
)


# A plugin of the bench session: the process CPU time of each test item (setup, call, teardown), all
# threads included (the app runs on its loop thread). Less disturbed by other jobs than wall time.
CPU_PLUGIN = """
import json
import os
import time

import pytest

_times = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.process_time()
    try:
        return (yield)
    finally:
        _times[item.name] = _times.get(item.name, 0.0) + time.process_time() - start


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_CPU_FILE"], "w") as out:
        json.dump(_times, out)
"""


def bench_collect(routes: int = 200, rounds: int = 7) -> dict[str, Any]:
    """Read the routes of a ``routes``-route app and build its cases."""
    from enum import Enum
    from typing import Annotated

    from fastapi import APIRouter, Depends, FastAPI, Query
    from fastapi.security import HTTPBearer
    from pydantic import BaseModel, Field

    from pytest_xaio.matrix.cases import Expectations, build_cases
    from pytest_xaio.matrix.routes import read_routes

    class Plan(str, Enum):
        free = "free"
        pro = "pro"

    class Address(BaseModel):
        street: str
        zip: str = Field(pattern=r"^[0-9]{5}$")

    class ItemIn(BaseModel):
        name: str = Field(min_length=1, max_length=50)
        plan: Plan
        address: Address
        tags: list[str] = []

    bearer = HTTPBearer()
    app = FastAPI()
    for i in range(routes // 4):
        router = APIRouter(prefix=f"/r{i}", dependencies=[Depends(bearer)])

        @router.post("/items", status_code=201)
        def create(body: ItemIn) -> ItemIn:
            return body

        @router.get("/items")
        def search(limit: Annotated[int, Query(ge=1)] = 10, plan: Plan | None = None) -> list[int]:
            return []

        @router.get("/items/{item_id}")
        def get(item_id: int) -> dict[str, int]:
            return {}

        @router.delete("/items/{item_id}", status_code=204)
        def delete(item_id: int) -> None:
            return None

        app.include_router(router, prefix="/api")

    timings: list[float] = []
    cases = 0
    for _ in range(rounds):
        start = time.perf_counter()
        found = read_routes(app)
        cases = len(build_cases(found, expectations=Expectations.from_settings(422, ())))
        timings.append(time.perf_counter() - start)
        assert len(found) == routes
    return {"routes": routes, "cases": cases, "best_s": min(timings), "median_s": statistics.median(timings)}


#: The file holding each tool's test; each runs in a pytest session of its own, after the warm-up.
TOOL_FILES = {
    "matrix": "test_matrix.py",
    "schemathesis": "test_schemathesis.py",
    "schemathesis_relaxed": "test_schemathesis_relaxed.py",
}


def _project(folder: Path) -> None:
    shutil.copy(APPS / "matrix_authz.py", folder / "matrix_authz.py")
    shutil.copy(APPS / "matrix_authz_conftest.py", folder / "conftest.py")
    (folder / "bench_app.py").write_text(BENCH_APP)
    (folder / "schema.sql").write_text(SCHEMA)
    (folder / "pytest.ini").write_text(
        "[pytest]\n"
        "xaio_app = bench_app:app\n"
        "xaio_schema_sql = schema.sql\n"
        "xaio_db_dependency = matrix_authz:get_db\n"
        f"xaio_jwt_secret = {SECRET}\n"
        f"xaio_env = SECRET_KEY={SECRET}\n"
        "xaio_public_routes =\n    POST /auth/login\n    GET /login\n    POST /password-recovery/*\n"
        "xaio_admin_dependencies = matrix_authz:require_admin\n"
        "xaio_admin_attrs = is_superuser = true\n"
        "filterwarnings = ignore::DeprecationWarning\n"
    )
    (folder / "bench_cpu.py").write_text(CPU_PLUGIN)
    (folder / "test_0_warmup.py").write_text(WARMUP_TEST)
    (folder / TOOL_FILES["matrix"]).write_text(MATRIX_TEST)
    (folder / TOOL_FILES["schemathesis"]).write_text(SCHEMATHESIS_TEST)
    (folder / TOOL_FILES["schemathesis_relaxed"]).write_text(SCHEMATHESIS_RELAXED_TEST)


def _route_of(test_id: str) -> str:
    """``GET /api/me-401-expired-token`` (matrix) or ``GET /api/me (title)`` (Schemathesis) -> ``GET /api/me``."""
    test_id = test_id.split(" (")[0]
    found = re.fullmatch(r"(.*)-\d{3}-[a-z-]+", test_id)
    return found.group(1) if found else test_id


def _route_in_curl(message: str) -> str:
    """Schemathesis' server-error failures name the operation only in their curl line."""
    found = re.search(r"curl -X (\w+) .*?http://testserver(\S+)", message)
    return f"{found.group(1)} {found.group(2)}" if found else "?"


def compare(correct: dict[str, Any], buggy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per tool: planted bugs found (a failure on the bug's route that the correct app does not
    have) and false positives (failures on the correct app)."""
    summary: dict[str, dict[str, Any]] = {}
    for tool in TOOLS:
        baseline = set(correct[tool]["failed"])
        new = [f for f in buggy[tool]["failed"] if f not in baseline]
        summary[tool] = {
            "bugs_found": sorted({_route_of(f) for f in new} & set(PLANTED)),
            "false_positives": sorted(baseline),
        }
    return summary


def bench_run(buggy: bool, schemathesis_first: bool = False) -> dict[str, Any]:
    """One round: each tool in a pytest session of its own (the warm-up first in each), the matrix
    and Schemathesis' default checks one right after the other (which goes first alternates), then
    the relaxed Schemathesis run."""
    tools: dict[str, dict[str, Any]] = {tool: {"time_s": 0.0, "cpu_s": 0.0, "items": 0, "failed": []} for tool in TOOLS}
    order = ["schemathesis", "matrix"] if schemathesis_first else ["matrix", "schemathesis"]
    session_s = 0.0
    with tempfile.TemporaryDirectory(prefix="xaio-bench-") as tmp:
        folder = Path(tmp)
        _project(folder)
        count_file = folder / "st_calls.txt"
        env = {
            **os.environ,
            "MATRIX_BENCH_BUGS": "1" if buggy else "0",
            "BENCH_COUNT_FILE": str(count_file),
            "PYTHONPATH": str(folder),
        }
        for tool in [*order, "schemathesis_relaxed"]:
            junit = folder / f"junit-{tool}.xml"
            cpu_file = folder / f"cpu-{tool}.json"
            args = ["-p", "bench_cpu", f"--junitxml={junit}", "-o", "junit_family=xunit2"]
            proc = pytest_session(
                folder, [*args, "test_0_warmup.py", TOOL_FILES[tool]], {**env, "BENCH_CPU_FILE": str(cpu_file)}
            )
            session_s += proc.wall_s
            if not junit.exists():
                raise SystemExit(f"the bench session of {tool} did not run:\n{proc.stdout}\n{proc.stderr}")
            _read_session(tools, junit, cpu_file)
        tools["matrix"]["cases"] = tools["matrix"]["items"]
        for tool in TOOLS[1:]:
            counted = Path(f"{count_file}.{tool}")
            tools[tool]["cases"] = len(counted.read_text().splitlines()) if counted.exists() else 0
    return {"buggy": buggy, "session_s": session_s, **tools}


def _read_session(tools: dict[str, dict[str, Any]], junit: Path, cpu_file: Path) -> None:
    """Add one session's junit times, failures and CPU times to ``tools`` (the warm-up belongs to none)."""
    for name, seconds in json.loads(cpu_file.read_text()).items():
        tool = name.split("[")[0].removeprefix("test_")
        if tool in tools:
            tools[tool]["cpu_s"] += seconds
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        tool = name.split("[")[0].removeprefix("test_")
        if tool not in tools:
            continue  # the warm-up
        entry = tools[tool]
        entry["time_s"] += float(case.get("time", 0))
        entry["items"] += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            if tool == "matrix":
                entry["failed"].append(name[name.index("[") + 1 : -1])
            else:  # one junit item per operation, all named test_schemathesis: the message names it
                message = problem.get("message", "")
                operation = re.search(r"operation='([^']+)'", message)
                title = re.search(r"title='([^']+)'", message)
                route = operation.group(1) if operation else _route_in_curl(message)
                entry["failed"].append(f"{route} ({title.group(1) if title else message.splitlines()[0]})")


def best_of(rounds: int, buggy: bool) -> dict[str, Any]:
    """The first session's findings, with each tool's best time over ``rounds`` sessions (the
    machine is shared: the best time is the one least disturbed by other jobs); every other
    round runs Schemathesis before the matrix. ``ratios`` holds each round's Schemathesis time over
    the matrix's: the two sessions run one right after the other, so the machine's drift from round
    to round mostly cancels out of it."""
    first = bench_run(buggy)
    first["ratios"] = [_ratio(first)]
    for n in range(1, rounds):
        again = bench_run(buggy, schemathesis_first=n % 2 == 1)
        first["ratios"].append(_ratio(again))
        first["session_s"] = min(first["session_s"], again["session_s"])
        for tool in TOOLS:
            first[tool]["time_s"] = min(first[tool]["time_s"], again[tool]["time_s"])
            first[tool]["cpu_s"] = min(first[tool]["cpu_s"], again[tool]["cpu_s"])
    return first


def _ratio(result: dict[str, Any]) -> float:
    return float(result["schemathesis"]["time_s"] / result["matrix"]["time_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("collect", "run", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per app variant; times are the best")
    args = parser.parse_args()
    if args.part in ("collect", "all"):
        result = bench_collect()
        print(
            f"collect: {result['routes']} routes -> {result['cases']} cases in "
            f"{result['best_s'] * 1000:.0f} ms best, {result['median_s'] * 1000:.0f} ms median"
        )
    if args.part in ("run", "all"):
        runs = {buggy: best_of(args.rounds, buggy) for buggy in (False, True)}
        for buggy, result in runs.items():
            label = f"{len(PLANTED)} planted bugs" if buggy else "correct"
            print(f"run (15-route app, {label}): its three pytest sessions {result['session_s']:.2f} s")
            for tool in TOOLS:
                entry = result[tool]
                print(
                    f"  {tool:22s} {entry['time_s']:6.2f} s  cpu {entry['cpu_s']:6.2f} s  items {entry['items']:3d}  "
                    f"cases {entry['cases']:5d}  "
                    f"failed {len(entry['failed'])}"
                )
            ratios = result["ratios"]
            print(
                f"  Schemathesis (default checks) time / matrix time, per round: "
                f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}, "
                f"lowest {min(ratios):.2f}"
            )
        for tool, found in compare(runs[False], runs[True]).items():
            print(
                f"{tool}: planted bugs found {len(found['bugs_found'])}/{len(PLANTED)}, "
                f"false positives on the correct app {len(found['false_positives'])}"
            )
            for route in found["bugs_found"]:
                print(f"    found: {route} ({PLANTED[route]})")
            for route in sorted(set(PLANTED) - set(found["bugs_found"])):
                print(f"    missed: {route} ({PLANTED[route]})")
            for item in found["false_positives"]:
                print(f"    false positive: {item}")


if __name__ == "__main__":
    main()
