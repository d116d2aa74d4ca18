"""Per-test isolation cost: pytest-xaio's three modes against pytest-postgresql's ``postgresql`` fixture.

Each suite is 100 tests that insert a row and count rows, run by pytest in a subprocess against the
same PostgreSQL server. The isolation overhead of a suite is its wall time minus the wall time of the
same 100 tests with no database at all (it includes one-time setup: connecting, cloning the worker
database, and for the embedded server starting and stopping it). The marginal cost per test of the
default mode is the slope between a 100-test and a 300-test suite, each minus its bare twin.

    python bench/bench_isolation.py                       # the machine's server at 127.0.0.1:5432
    python bench/bench_isolation.py --url postgresql://postgres@127.0.0.1:5432/postgres --repeat 5
    python bench/bench_isolation.py --write docs/benchmarks.md   # replace the results block there
    python bench/bench_isolation.py --json out.json              # the figures, for bench/bench_all.py

Run on demand; nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from _common import measured_line, run_pytest, write_block

N_TESTS = 100
SCHEMA = """
CREATE TABLE projects (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE deployments (id serial PRIMARY KEY, project_id int REFERENCES projects(id), status text);
CREATE TABLE members (id serial PRIMARY KEY, project_id int REFERENCES projects(id), email text);
CREATE TABLE env_vars (id serial PRIMARY KEY, project_id int REFERENCES projects(id), name text);
CREATE TABLE events (id serial PRIMARY KEY, project_id int REFERENCES projects(id), kind text);
"""
BODY = """
    db.execute("INSERT INTO projects (name) VALUES ('p')")
    assert db.execute("SELECT count(*) FROM projects").fetchone()[0] == 1
"""


def _suite(fixture: str | None, n: int = N_TESTS) -> str:
    lines = ["import pytest", ""]
    if fixture is None:
        lines += [f"@pytest.mark.parametrize('i', range({n}))", "def test_n(i):", "    assert True"]
    else:
        lines += [
            f"@pytest.mark.parametrize('i', range({n}))",
            f"def test_n({fixture}, i):",
            f"    db = {fixture}",
            *BODY.strip("\n").splitlines(),
        ]
    return "\n".join(lines) + "\n"


def _pytest_postgresql_conftest(url: str) -> str:
    parts = urlsplit(url)
    return f"""
from pathlib import Path

from pytest_postgresql import factories

postgresql_noproc = factories.postgresql_noproc(
    host={parts.hostname!r}, port={parts.port or 5432}, user={parts.username or "postgres"!r},
    password={parts.password!r}, dbname="xaio_bench_ppg", load=[Path(__file__).parent / "schema.sql"],
)
postgresql = factories.postgresql("postgresql_noproc")
"""


def _run(project: Path, args: list[str], n: int = N_TESTS) -> float:
    return run_pytest(project, args, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path, help="markdown file whose results block is replaced")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    opts = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="xaio-bench-"))
    (root / "schema.sql").write_text(SCHEMA)
    (root / "migrations").mkdir()
    (root / "migrations" / "V001__schema.sql").write_text(SCHEMA)
    suites = {
        "bare": ("test_bare.py", _suite(None)),
        "xaio": ("test_xaio.py", _suite("xaio_db")),
        "ppg": ("test_ppg.py", _suite("postgresql")),
        "bare300": ("test_bare300.py", _suite(None, 3 * N_TESTS)),
        "xaio300": ("test_xaio300.py", _suite("xaio_db", 3 * N_TESTS)),
    }
    for _, (name, text) in suites.items():
        (root / name).write_text(text)
    (root / "pytest.ini").write_text("[pytest]\nxaio_migrations = migrations\n")
    (root / "conftest.py").write_text(_pytest_postgresql_conftest(opts.url))

    plans = [
        ("no database (baseline)", ["test_bare.py"]),
        ("pytest-xaio transaction (default), URL", ["test_xaio.py", "--xaio-postgres-url", opts.url]),
        (
            "pytest-xaio truncate, URL",
            ["test_xaio.py", "--xaio-postgres-url", opts.url, "--xaio-isolation", "truncate"],
        ),
        ("pytest-xaio clone, URL", ["test_xaio.py", "--xaio-postgres-url", opts.url, "--xaio-isolation", "clone"]),
        ("pytest-postgresql `postgresql`, same server", ["test_ppg.py", "-p", "no:xaio"]),
        ("pytest-xaio transaction (default), embedded", ["test_xaio.py"]),
    ]
    for _, args in plans:  # warm-up: template built, caches hot
        _run(root, args)
    timings: dict[str, float] = {}
    for label, args in plans:
        runs = [_run(root, args) for _ in range(opts.repeat)]
        timings[label] = statistics.median(runs)
        print(f"{label:48s} median {timings[label]:.3f}s of {[round(r, 3) for r in runs]}", flush=True)

    slopes: dict[str, float] = {}
    for label, extra in [("URL", ["--xaio-postgres-url", opts.url]), ("embedded", [])]:
        big = statistics.median(
            _run(root, ["test_xaio300.py", *extra], 3 * N_TESTS) - _run(root, ["test_bare300.py"], 3 * N_TESTS)
            for _ in range(opts.repeat)
        )
        small = timings[f"pytest-xaio transaction (default), {label}"] - timings["no database (baseline)"]
        slopes[label] = (big - small) / (2 * N_TESTS)
        print(f"marginal cost per test, transaction, {label}: {slopes[label] * 1000:.2f} ms", flush=True)

    base = timings["no database (baseline)"]
    ppg = timings["pytest-postgresql `postgresql`, same server"] - base
    rows = []
    for label, wall in timings.items():
        overhead = wall - base
        compared = label not in (plans[0][0], plans[4][0])
        ratio = f"{ppg / overhead:.0f}×" if overhead > 0 and compared else "—"
        per_test = f"{overhead / N_TESTS * 1000:.2f} ms" if label != plans[0][0] else "—"
        if label != plans[0][0] and overhead <= 0:  # smaller than the runs' spread
            per_test = f"within the noise ({per_test})"
        rows.append(f"| {label} | {wall:.2f} s | {overhead:.2f} s | {per_test} | {ratio} |")
    table = "\n".join(
        [
            measured_line(N_TESTS, opts.repeat, opts.url),
            "",
            "| suite | wall time | isolation overhead | per test | lower than pytest-postgresql by |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "Marginal cost per test of the default `transaction` isolation (slope between 100- and 300-test suites, "
            "each minus its bare twin): "
            + ", ".join(f"{label} {value * 1000:.2f} ms" for label, value in slopes.items())
            + ".",
        ]
    )
    print("\n" + table)
    if opts.json:
        figures = {
            "wall_s": timings,
            "baseline": plans[0][0],
            "pytest_postgresql": plans[4][0],
            "marginal_ms": {label: value * 1000 for label, value in slopes.items()},
            "table": table,
        }
        opts.json.write_text(json.dumps(figures, indent=2))
    if opts.write:
        write_block(opts.write, "isolation", table)


if __name__ == "__main__":
    main()
