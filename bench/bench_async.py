"""Per-test cost of transaction isolation for an async SQLAlchemy app (asyncpg, module-level pooled
engine), against ``truncate`` and against the same suite with no database, in one run.

Each suite is 100 tests run by pytest in a subprocess on one async FastAPI app. The database suites
POST a row through the app (its session commits) and count rows through ``xaio_db``; the baseline
suite sends the same number of requests to a route that touches no database, with no database
configured. The overhead per test is (suite wall time − baseline wall time) / 100, so it includes
the one-time setup (connecting, cloning the worker database) and the inserts themselves.

    python bench/bench_async.py                                   # the machine's server at 127.0.0.1:5432
    python bench/bench_async.py --repeat 5 --write docs/benchmarks.md   # replace the results block there

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
BARE = f"""
import pytest

@pytest.mark.parametrize("i", range({N_TESTS}))
def test_n(xaio_anon_client, i):
    assert xaio_anon_client.get("/ping").status_code == 200
"""
WITH_DB = f"""
import pytest

@pytest.mark.parametrize("i", range({N_TESTS}))
def test_n(xaio_anon_client, xaio_db, i):
    response = xaio_anon_client.post("/items", json={{"name": "same"}})   # UNIQUE: a leaked row fails the next test
    assert response.json() == {{"count": 1}}, response.text
    assert xaio_db.execute("SELECT count(*) FROM items").fetchone() == (1,)
"""


def _run(project: Path, args: list[str], env_extra: dict[str, str] | None = None) -> float:
    return run_pytest(project, args, N_TESTS, drop_env=("XAIO_", "PG", "DATABASE_URL"), env_extra=env_extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path, help="markdown file whose results block is replaced")
    opts = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="xaio-bench-async-"))
    (root / "bench_app.py").write_text(APP)
    (root / "schema.sql").write_text(SCHEMA)
    (root / "test_bare.py").write_text(BARE)
    (root / "test_db.py").write_text(WITH_DB)
    (root / "pytest.ini").write_text(
        "[pytest]\nxaio_app = bench_app:app\nxaio_schema_sql = schema.sql\nxaio_db_dependency = bench_app:get_session\n"
    )
    url = ["--xaio-postgres-url", opts.url]
    # The baseline has no database at all: the app is imported with a URL nothing connects to.
    bare_env = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}
    plans: list[tuple[str, list[str], dict[str, str] | None]] = [
        ("no database (baseline)", ["test_bare.py", "-o", "xaio_postgres=none", "-o", "xaio_db_dependency="], bare_env),
        ("async app, transaction (default), URL", ["test_db.py", *url], None),
        ("async app, truncate, URL", ["test_db.py", *url, "--xaio-isolation", "truncate"], None),
        ("async app, transaction (default), embedded", ["test_db.py"], None),
    ]
    for _, args, env in plans:  # warm-up: template built, caches hot
        _run(root, args, env)
    timings: dict[str, float] = {}
    for label, args, env in plans:
        runs = [_run(root, args, env) for _ in range(opts.repeat)]
        timings[label] = statistics.median(runs)
        print(f"{label:46s} median {timings[label]:.3f}s of {[round(r, 3) for r in runs]}", flush=True)

    base = timings[plans[0][0]]
    per_test = {label: (wall - base) / N_TESTS for label, wall in timings.items()}
    truncate = per_test[plans[2][0]]
    rows = []
    for label, wall in timings.items():
        cost = per_test[label]
        if label == plans[0][0]:
            rows.append(f"| {label} | {wall:.2f} s | — | — |")
            continue
        ratio = f"{truncate / cost:.1f}×" if cost > 0 and label != plans[2][0] else "—"
        rows.append(f"| {label} | {wall:.2f} s | {cost * 1000:.2f} ms | {ratio} |")
    table = "\n".join(
        [
            measured_line(N_TESTS, opts.repeat, opts.url),
            "",
            "| suite (async app: asyncpg, module-level pooled engine) | wall time | per test over no database "
            "| cheaper than truncate by |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    print("\n" + table)
    if opts.write:
        write_block(opts.write, "async", table)


if __name__ == "__main__":
    main()
