"""Real virtual environments for the ecosystem tests: httpx2 without httpx, pytest 8.

Each environment is built once and cached under /var/tmp, keyed on what goes into it: the Python
version, the repository it installs editable, the plugin's pyproject.toml and the exact pins (taken
from the versions installed in the running environment, so the cached venv follows the lock).
pip reads the machine's own configuration, so it installs from the same index as the dev venv.
A build is marked done only once pip succeeded, under a file lock (xdist workers wait for
one build instead of racing).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XAIO_TEST_VENV_CACHE", "/var/tmp/xaio-test-venvs"))


def pins(names: Iterable[str], **override: str) -> list[str]:
    """``name==version`` for each name, at the version installed here (or the override given)."""
    result = []
    for name in names:
        version = override.get(name.replace("-", "_")) or importlib.metadata.version(name)
        result.append(f"{name}=={version}")
    return result


def cached_venv(label: str, editable: str, requirements: list[str], base: str = sys.executable) -> Path:
    """The python of a venv holding ``editable`` (a path with extras, pip -e) and ``requirements``.

    ``base`` is the interpreter the venv is made from (another account may need one it can read).
    """
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    key_text = "\n".join([sys.version, base, str(ROOT), editable, *sorted(requirements)]).encode() + pyproject
    key = hashlib.sha256(key_text).hexdigest()[:16]
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"{label}-{key}"
    python = target / "bin" / "python"
    done_marker = target / "xaio-built"
    with open(CACHE / f"{label}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done_marker.exists():
            return python
        shutil.rmtree(target, ignore_errors=True)  # a build that was cut off
        subprocess.run([base, "-m", "venv", str(target)], check=True, timeout=300)
        install = [str(python), "-m", "pip", "install", "-q", "-e", editable, *requirements]
        built = subprocess.run(install, capture_output=True, text=True, check=False, timeout=900)
        if built.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise RuntimeError(f"building the {label} venv failed:\n{built.stdout}\n{built.stderr}")
        done_marker.write_text("\n".join([editable, *requirements]) + "\n")
        return python


def has_module(python: Path, module: str) -> bool:
    """Whether ``module`` is importable by that interpreter."""
    probe = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([str(python), "-c", probe], check=False, timeout=60).returncode == 0


def clean_env() -> dict[str, str]:
    """The environment for a run in another venv: none of this session's XAIO_* or PYTHON* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XAIO_", "PYTHON", "VIRTUAL_ENV", "PYTEST_"))}
    env["XAIO_REUSE_DB"] = "false"
    return env
