"""What the bench scripts share: running a pytest session in a subprocess and timing it, the "Measured
on" line of a results table, and replacing a results block in a markdown file.

Imported by the scripts run as ``python bench/<script>.py`` (their folder is on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["PytestRun", "measured_line", "pytest_session", "run_pytest", "write_block"]


class PytestRun(NamedTuple):
    """One ``python -m pytest`` session: its output, exit status, wall and CPU seconds."""

    stdout: str
    stderr: str
    returncode: int
    wall_s: float
    cpu_s: float  # user + system time of the child process and its children


def pytest_session(cwd: Path, args: list[str], env: dict[str, str]) -> PytestRun:
    """Run ``python -m pytest -q -p no:cacheprovider *args`` in ``cwd`` with ``env``, and time it."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return PytestRun(proc.stdout, proc.stderr, proc.returncode, wall, cpu)


def run_pytest(
    project: Path,
    args: list[str],
    n_passed: int,
    *,
    drop_env: tuple[str, ...] = ("XAIO_", "PG"),
    env_extra: dict[str, str] | None = None,
) -> float:
    """Run pytest on ``project`` in a subprocess (environment variables starting with ``drop_env``
    removed); the wall time in seconds. Exits unless exactly ``n_passed`` tests passed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_env)}
    env.update(env_extra or {})
    result = pytest_session(project, ["-p", "no:randomly", *args], env)
    if result.returncode != 0 or f"{n_passed} passed" not in result.stdout:
        raise SystemExit(f"suite failed in {project} ({args}):\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return result.wall_s


def measured_line(n_tests: int, repeat: int, url: str) -> str:
    """The first line of a results table: when, where, how many tests and runs, which server."""
    parts = urlsplit(url)
    return (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.node() or 'this machine'} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}), {n_tests} tests per suite, "
        f"median of {repeat} runs after a warm-up, server {parts.hostname}:{parts.port}."
    )


def write_block(path: Path, name: str, table: str) -> None:
    """Replace the ``<!-- bench:NAME -->`` … ``<!-- /bench:NAME -->`` block of ``path`` with ``table``
    (appended when the file has none)."""
    text = path.read_text()
    block = f"<!-- bench:{name} -->\n{table}\n<!-- /bench:{name} -->"
    pattern = rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->"
    new = re.sub(pattern, lambda _: block, text, flags=re.S)
    path.write_text(new if new != text else text + "\n" + block + "\n")
    print(f"wrote {path}")
