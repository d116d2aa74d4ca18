"""Sample projects for the `xaio` command's tests, and helpers to run it as users do on copies of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECTS = Path(__file__).parent
EXAMPLES = Path(__file__).parent.parent.parent / "examples"


def xaio(
    *args: str, cwd: Path | None = None, env: dict[str, str | None] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``xaio ARGS`` in a child process (``python -m pytest_xaio.cli``, what the console script runs);
    ``env`` values of None unset that variable."""
    child_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest_xaio.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={k: v for k, v in child_env.items() if v is not None},
    )


# What an earlier run leaves in a project folder (the example's addopts measure coverage); copies of a
# project for a test leave it out, so a test sees the project as a fresh checkout has it.
RUN_LEFTOVERS = ("__pycache__", ".pytest_cache", ".coverage", ".coverage.*", ".hypothesis")


def copy_tree(source: Path, target: Path, *also_ignore: str) -> Path:
    """Copy a project folder without the leftovers of earlier runs (and any ``also_ignore`` patterns)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*RUN_LEFTOVERS, *also_ignore))
    return target


def copy_project(name: str, tmp_path: Path) -> Path:
    return copy_tree(PROJECTS / name, tmp_path / name)


def ruff() -> str:
    found = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(found).exists():
        pytest.skip("ruff is not installed")
    return found


def run_generated_tests(project: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``project`` as its developer would (a fixture the generated tests use that the
    plugin does not provide fails the run, like any other error)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XAIO_") or k == "XAIO_CACHE_DIR"}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *paths],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    return result
