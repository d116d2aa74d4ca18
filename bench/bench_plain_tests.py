"""What the plugin costs tests that use none of it: 2,000 plain tests with pytest-xaio loaded vs ``-p no:xaio``.

Each run is pytest in a subprocess on the same generated suite (20 files of 100 ``def test_n(): pass``,
no conftest, no ini settings of the plugin). The figure is CPU time (user + system of the child,
from ``resource.getrusage``), the median of several runs after a warm-up, so other work on a shared
machine disturbs it less than wall time. Bytecode caching is on, as for users (the warm-up run writes
pytest's rewritten ``.pyc`` files). Two numbers per test:

- *whole run*: (CPU with the plugin − CPU without) / 2,000; it includes loading the plugin once.
- *per test*: the same difference for 2,000 tests minus the difference for 200 tests, divided by
  1,800: what each further test costs, without the one-time load.

    python bench/bench_plain_tests.py                          # 7 runs of each
    python bench/bench_plain_tests.py --repeat 11 --write docs/benchmarks.md

Run on demand; nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

FILES = 20
PER_FILE = 100
SMALL = 200  # tests in the small suite used to take the one-time cost out
MARK = "<!-- bench:plain-tests -->"


def make_suite(root: Path, n_tests: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    per_file = min(PER_FILE, n_tests)
    for i in range(n_tests // per_file):
        body = "".join(f"def test_{j}():\n    pass\n\n\n" for j in range(per_file))
        (root / f"test_plain_{i:02d}.py").write_text(body)
    return root


def cpu_seconds(suite: Path, *extra: str) -> float:
    """User + system CPU time of one pytest run of ``suite`` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Bytecode caching as users have it: with PYTHONDONTWRITEBYTECODE set, pytest rewrites and
    # compiles every module of an entry-point plugin again in each run (a one-time cost per run).
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("XAIO_", "PYTEST_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, str(suite)],
        cwd=suite,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or " passed" not in proc.stdout:
        raise SystemExit(f"the plain suite did not pass:\n{proc.stdout[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="xaio-bench-plain-") as tmp:
        big = make_suite(Path(tmp) / "big", FILES * PER_FILE)
        small = make_suite(Path(tmp) / "small", SMALL)
        variants = {
            "with": (big, ()),
            "without": (big, ("-p", "no:xaio")),
            "with_small": (small, ()),
            "without_small": (small, ("-p", "no:xaio")),
        }
        for suite, extra in variants.values():
            cpu_seconds(suite, *extra)  # warm-up: file cache, .pyc files
        # interleave the variants, so a slow spell of the machine hits all of them
        results: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(repeat):
            for name, (suite, extra) in variants.items():
                results[name].append(cpu_seconds(suite, *extra))
    return {k: statistics.median(v) for k, v in results.items()}


def report(m: dict[str, float], repeat: int) -> str:
    n = FILES * PER_FILE
    whole = (m["with"] - m["without"]) / n * 1000
    marginal = ((m["with"] - m["without"]) - (m["with_small"] - m["without_small"])) / (n - SMALL) * 1000
    machine = f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    return "\n".join(
        [
            MARK,
            f"Measured {date.today().isoformat()} on {machine}, CPU time (user + system), "
            f"median of {repeat} runs of each after a warm-up.",
            "",
            "| suite | with pytest-xaio | `-p no:xaio` | difference |",
            "|---|---|---|---|",
            f"| {n} plain tests | {m['with']:.3f} s | {m['without']:.3f} s | {m['with'] - m['without']:+.3f} s |",
            f"| {SMALL} plain tests | {m['with_small']:.3f} s | {m['without_small']:.3f} s | "
            f"{m['with_small'] - m['without_small']:+.3f} s |",
            "",
            f"Whole run: **{whole:+.4f} ms per test** (loading the plugin included); "
            f"each further test: **{marginal:+.4f} ms** (target: at most 0.05 ms).",
            MARK.replace("<!-- ", "<!-- /"),
        ]
    )


def write(path: Path, block: str) -> None:
    text = path.read_text()
    end = MARK.replace("<!-- ", "<!-- /")
    pattern = re.compile(re.escape(MARK) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no {MARK} … {end} block to replace")
    path.write_text(pattern.sub(lambda _: block, text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--write", type=Path, help="replace the results block in this Markdown file")
    args = parser.parse_args()
    block = report(measure(args.repeat), args.repeat)
    print(block)
    if args.write:
        write(args.write, block)


if __name__ == "__main__":
    main()
