"""Per-test cost of transaction isolation for an async SQLAlchemy app (asyncpg, module-level pooled
engine), against ``truncate`` and against the same suite with no database, in one run.

Each suite runs in a pytest subprocess on one async FastAPI app, once with 100 tests and once with
300. The database suites POST a row through the app (its session commits) and count rows through
``xaio_db``; the baseline suite sends the same number of requests to a route that touches no
database, with no database configured. Two figures per suite:

- *per test*: the slope between the 100- and the 300-test suite, minus the baseline's slope, divided
  by 200: what each further test costs (its transaction, the insert, the rollback), without the
  one-time setup;
- *100-test run over baseline*: (time of the 100-test suite − baseline's) / 100, which also holds
  the one-time setup (starting or reaching the server, the template, cloning the worker database).

The time of a suite is its session's: from ``pytest_configure`` to the last cleanup (the plugin's
connections closed, its loop stopped), timed by a plugin in the session. The interpreter's start,
pytest's and its plugins' imports and the interpreter's exit are the same code in every suite and
vary by ±0.3 s from one process to the next on a 2-core machine, which divided by 100 tests is ±3 ms:
they are left out of the main table, and the same figures from the processes' wall times follow it.

    python bench/bench_async.py                                   # the machine's server at 127.0.0.1:5432
    python bench/bench_async.py --repeat 7 --write docs/benchmarks.md   # replace the results block there

Run on demand; nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _common import measured_line, run_pytest, write_block

N_TESTS = 100
APP = """
import os
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

engine = create_async_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1))
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


app = FastAPI()


class ItemIn(BaseModel):
    name: str


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/items", status_code=201)
async def create(item: ItemIn, session: Annotated[AsyncSession, Depends(get_session)]) -> dict[str, int]:
    await session.execute(text("INSERT INTO items (name) VALUES (:n)"), {"n": item.name})
    await session.commit()
    return {"count": (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()}
"""
SCHEMA = "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE);\n"
N_LONG = 3 * N_TESTS  # the slope over 200 more tests: twice the signal of 100 more, the same noise
BARE = """
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_n(xaio_anon_client, i):
    assert xaio_anon_client.get("/ping").status_code == 200
"""
WITH_DB = """
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_n(xaio_anon_client, xaio_db, i):
    response = xaio_anon_client.post("/items", json={{"name": "same"}})   # UNIQUE: a leaked row fails the next test
    assert response.json() == {{"count": 1}}, response.text
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (1,)
"""


# A plugin of the bench sessions: the time from pytest_configure (before the plugins' own configure)
# to the last cleanup (after the plugin's exit stack: connections closed, the app loop stopped).
SESSION_TIMER = """
import os
import time

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    start = time.perf_counter()

    def stop():
        with open(os.environ["BENCH_SESSION_FILE"], "w") as out:
            out.write(str(time.perf_counter() - start))

    config.add_cleanup(stop)  # cleanups run last-in first-out: this one after the plugin's
"""


def _run(project: Path, args: list[str], n: int, env_extra: dict[str, str] | None = None) -> tuple[float, float]:
    """The wall time of the pytest process and the time of its session (see SESSION_TIMER)."""
    out = project / "session-time.txt"
    env = {**(env_extra or {}), "BENCH_SESSION_FILE": str(out)}
    wall = run_pytest(
        project, ["-p", "bench_session_timer", *args], n, drop_env=("XAIO_", "PG", "DATABASE_URL"), env_extra=env
    )
    return wall, float(out.read_text())


def per_test_figures(
    labels: list[str], wall: dict[tuple[str, int], float]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per label: the slope per test over the baseline's, and the 100-test run over the baseline's, per test."""
    base = labels[0]
    base_slope = wall[(base, N_LONG)] - wall[(base, N_TESTS)]
    slope = {
        label: (wall[(label, N_LONG)] - wall[(label, N_TESTS)] - base_slope) / (N_LONG - N_TESTS) for label in labels
    }
    whole = {label: (wall[(label, N_TESTS)] - wall[(base, N_TESTS)]) / N_TESTS for label in labels}
    return slope, whole


def render(
    labels: list[str], wall: dict[tuple[str, int], float], process: dict[tuple[str, int], float], repeat: int, url: str
) -> str:
    """The results table from the median session times (``wall``), then the per-test figures from the
    processes' wall times (``process``); ``labels[0]`` is the baseline, ``labels[2]`` truncate."""
    base = labels[0]
    slope, whole = per_test_figures(labels, wall)
    truncate = slope[labels[2]]
    process_slope, process_whole = per_test_figures(labels, process)
    process_rows = [
        f"| {label} | {process_slope[label] * 1000:.2f} ms | {process_whole[label] * 1000:.2f} ms |"
        for label in labels[1:]
    ]
    rows = []
    for label in labels:
        sizes = f"| {label} | {wall[(label, N_TESTS)]:.2f} s | {wall[(label, N_LONG)]:.2f} s |"
        if label == base:
            rows.append(f"{sizes} — | — | — |")
            continue
        if slope[label] > 0:
            per_test = f"{slope[label] * 1000:.2f} ms"
            ratio = f"{truncate / slope[label]:.1f}×" if label != labels[2] else "—"
        else:  # the runs' spread is larger than what a test costs: no figure to quote
            per_test, ratio = f"not measurable (slope {slope[label] * 1000:.2f} ms, within the noise)", "—"
        rows.append(f"{sizes} {per_test} | {whole[label] * 1000:.2f} ms | {ratio} |")
    return "\n".join(
        [
            measured_line(N_TESTS, repeat, url).replace(
                f"{N_TESTS} tests per suite", f"{N_TESTS}- and {N_LONG}-test suites"
            ),
            "",
            f"| suite (async app: asyncpg, module-level pooled engine) | {N_TESTS} tests | {N_LONG} tests "
            "| per test over no database "
            f"| {N_TESTS}-test run over no database, per test | per test, cheaper than truncate by |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "The same from the processes' wall times (interpreter start, plugin imports and exit included):",
            "",
            f"| suite | per test over no database | {N_TESTS}-test run over no database, per test |",
            "|---|---|---|",
            *process_rows,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", type=Path, help="markdown file whose results block is replaced")
    opts = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="xaio-bench-async-"))
    (root / "bench_app.py").write_text(APP)
    (root / "schema.sql").write_text(SCHEMA)
    (root / "bench_session_timer.py").write_text(SESSION_TIMER)
    for n in (N_TESTS, N_LONG):
        (root / f"test_bare_{n}.py").write_text(BARE.format(n=n))
        (root / f"test_db_{n}.py").write_text(WITH_DB.format(n=n))
    (root / "pytest.ini").write_text(
        "[pytest]\nxaio_app = bench_app:app\nxaio_schema_sql = schema.sql\nxaio_db_dependency = bench_app:get_session\n"
    )
    url = ["--xaio-postgres-url", opts.url]
    # The baseline has no database at all: the app is imported with a URL nothing connects to.
    bare_env = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    plans: list[tuple[str, str, list[str], dict[str, str] | None]] = [
        ("no database (baseline)", "bare", ["-o", "xaio_postgres=none", "-o", "xaio_db_dependency="], bare_env),
        ("async app, transaction (default), URL", "db", url, None),
        ("async app, truncate, URL", "db", [*url, "--xaio-isolation", "truncate"], None),
        ("async app, transaction (default), embedded", "db", [], None),
    ]

    def args_for(kind: str, n: int, args: list[str]) -> list[str]:
        return [f"test_{kind}_{n}.py", *args]

    for _, kind, args, env in plans:  # warm-up: template built, caches hot
        _run(root, args_for(kind, N_TESTS, args), N_TESTS, env)
    timings: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(opts.repeat):  # the variants interleaved, so a burst of load hits them all alike
        for label, kind, args, env in plans:
            for n in (N_TESTS, N_LONG):
                timings.setdefault((label, n), []).append(_run(root, args_for(kind, n, args), n, env))
    process = {key: statistics.median(w for w, _ in runs) for key, runs in timings.items()}
    session = {key: statistics.median(t for _, t in runs) for key, runs in timings.items()}
    for (label, n), runs in timings.items():
        print(
            f"{label:46s} {n:4d} tests: session median {session[(label, n)]:.3f}s of {[round(t, 3) for _, t in runs]}"
            f"; process median {process[(label, n)]:.3f}s of {[round(w, 3) for w, _ in runs]}"
        )

    table = render([label for label, *_ in plans], session, process, opts.repeat, opts.url)
    print("\n" + table)
    if opts.write:
        write_block(opts.write, "async", table)


if __name__ == "__main__":
    main()
