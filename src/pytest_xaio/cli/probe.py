"""Import the user's app in a child process and report what it is, as one JSON line.

Run as ``python -m pytest_xaio.cli.probe '<json>'`` by :func:`probe_app`. Importing an app can
connect to servers, start threads or print; a child process keeps all of that out of ``xaio``
itself, and a timeout bounds it. :func:`run_child`, :func:`print_answer` and :func:`error_line`
are the two sides of such a child run, shared with ``xaio doctor``'s (:mod:`pytest_xaio.cli.project_probe`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ChildRun", "error_line", "print_answer", "probe_app", "run_child"]

_MARK = "XAIO-PROBE-RESULT:"


@dataclass
class ChildRun:
    """How a child ``python -m`` process ended: its marked JSON answer, when it printed one."""

    answer: dict[str, Any] | None
    returncode: int
    stdout: str
    stderr: str


def run_child(
    module: str, argv: list[str], mark: str, cwd: Path, env: dict[str, str], timeout: float
) -> ChildRun | None:
    """Run ``python -m module *argv`` and read the last stdout line that starts with ``mark`` as JSON.

    ``None`` when it took longer than ``timeout`` seconds. The app or the project's plugins may
    print anything; only the marked line is the answer (:func:`print_answer` writes it).
    """
    try:
        result = subprocess.run(
            [sys.executable, "-m", module, *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    answer: dict[str, Any] | None = None
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(mark):
            answer = json.loads(line[len(mark) :])
            break
    return ChildRun(answer, result.returncode, result.stdout, result.stderr)


def print_answer(mark: str, answer: dict[str, Any]) -> None:
    """The child's side of :func:`run_child`: the answer as one marked line, after all else printed."""
    sys.stdout.flush()
    print(mark + json.dumps(answer), flush=True)


def error_line(exc: BaseException, limit: int, plain: tuple[type[BaseException], ...] = ()) -> str:
    """An error as one line of at most ``limit`` characters, led by its type unless it is a plugin
    error or one of ``plain`` (those already name the problem and the fix)."""
    from pytest_xaio.cli.inspect import one_line
    from pytest_xaio.errors import XaioConfigError

    if isinstance(exc, (XaioConfigError, *plain)):
        return one_line(exc)[:limit]
    return f"{type(exc).__name__}: {one_line(exc)}"[:limit]


def probe_app(
    root: Path, import_root: str, spec: dict[str, Any], env: dict[str, str], timeout: float = 60
) -> dict[str, Any]:
    """What importing ``spec['app']`` gives: ``ok``, ``error``, ``routes``, ``public``, ``resolved``."""
    child_env = {**os.environ, **env}
    paths = [str((root / import_root).resolve()), child_env.get("PYTHONPATH", "")]
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    run = run_child("pytest_xaio.cli.probe", [json.dumps(spec)], _MARK, root, child_env, timeout)
    if run is None:
        return {"ok": False, "error": f"importing the app took longer than {timeout:.0f} s"}
    if run.answer is not None:
        return run.answer
    tail = (run.stderr.strip().splitlines() or ["no output"])[-1]
    return {"ok": False, "error": f"the import process ended with exit {run.returncode}: {tail}"}


def _resolve(spec: str, setting: str) -> Any:
    from pytest_xaio.resolve import resolve_object

    # The plugin's own resolution, so what is confirmed here is what the plugin will load.
    return resolve_object(spec, setting=setting, rootdir=os.getcwd())


def _inspect(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        from fastapi import FastAPI
    except ImportError:
        return {"ok": False, "error": "fastapi is not installed in this Python environment"}
    try:
        app = _resolve(spec["app"], "xaio_app")
    except BaseException as exc:
        return {"ok": False, "error": error_line(exc, 500)}
    if not isinstance(app, FastAPI):
        return {"ok": False, "error": f"{spec['app']} is a {type(app).__name__}, not a FastAPI app"}
    from pytest_xaio.matrix.routes import read_routes

    # The matrix's own reading: a route it would report as unprotected is one to declare public.
    routes = read_routes(app)
    public = [route.key for route in routes if route.auth is None]
    resolved = {}
    for key, path in spec.get("attributes", {}).items():
        try:
            value = _resolve(path, f"xaio_{key}")
            resolved[key] = bool(value) if key.endswith("secret_from") else callable(value)
        except BaseException:
            resolved[key] = False
    return {
        "ok": True,
        "routes": [route.key for route in routes],
        "public": public,
        "resolved": resolved,
        "validation_status": _validation_status(app),
    }


def _validation_status(app: Any) -> int | None:
    """The status the app's own RequestValidationError handler answers, when it has one."""
    import asyncio
    import inspect

    from fastapi.exceptions import RequestValidationError
    from starlette.requests import Request

    handler = app.exception_handlers.get(RequestValidationError)
    if handler is None:
        return None
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""})
    try:
        response = handler(request, RequestValidationError([]))
        if inspect.iscoroutine(response):
            response = asyncio.run(response)
        return int(response.status_code)
    except Exception:
        return None


def main() -> None:
    spec = json.loads(sys.argv[1])
    print_answer(_MARK, _inspect(spec))


if __name__ == "__main__":
    main()
