"""Naming a Python object in a setting: ``"package.module:attr.path"``, optionally called with ``()``.

Every setting that points at code (``xaio_app``, ``xaio_db_dependency``, ``xaio_jwt_secret_from``,
``xaio_stripe_webhook_secret_from``, ``xaio_auth_dependencies``...) is read by :func:`resolve_object`,
so they all accept the same forms and fail with the same messages.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

from pytest_xaio.errors import config_error

__all__ = ["resolve_object"]


def resolve_object(spec: str, *, setting: str = "setting", rootdir: str | None = None) -> Any:
    """The object ``"package.module:attr.path"`` names; a trailing ``()`` calls it with no arguments.

    Attribute steps also look up keys of mappings, so ``"os:environ.SECRET_KEY"`` works. When the
    top-level package is not importable and ``rootdir`` is given, ``rootdir`` (and ``rootdir/src``)
    are appended to ``sys.path`` and the import is tried once more, as running from the project
    root would.
    """
    module_name, sep, path = spec.strip().partition(":")
    call = path.endswith("()")
    if call:
        path = path[:-2]
    if not sep or not module_name or not path:
        config_error(
            f"{setting} {spec!r} is not of the form package.module:attribute",
            f"write {setting} as package.module:name (for example myapp.main:app or myapp.main:create_app())",
        )
    module = _import(module_name, spec, setting, rootdir)
    obj: Any = module
    walked = module_name
    for step in path.split("."):
        part, step_call = (step[:-2], True) if step.endswith("()") else (step, False)
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif _is_mapping(obj) and part in obj:
            obj = obj[part]
        else:
            hint = _names_like(obj)
            config_error(
                f"{setting} {spec!r}: {walked!r} has no attribute {part!r}",
                f"check the name after the colon{hint}",
            )
        if step_call:  # a getter on the way, e.g. app.core.config:get_settings().security.secret
            try:
                obj = obj()
            except Exception as exc:
                config_error(
                    f"{setting} {spec!r}: calling {part}() raised {_describe(exc)}",
                    "fix the error in that function (it is called with no arguments)",
                )
        walked = f"{walked}:{step}" if walked == module_name else f"{walked}.{step}"
    if call:
        try:
            obj = obj()
        except Exception as exc:
            config_error(
                f"{setting} {spec!r}: calling {path}() raised {_describe(exc)}",
                "fix the error in the factory (it is called with no arguments)",
            )
    return obj


def _import(module_name: str, spec: str, setting: str, rootdir: str | None) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        ours = module_name == missing or module_name.startswith(missing + ".")
        if ours and rootdir is not None and _add_rootdir(rootdir):
            return _import(module_name, spec, setting, None)
        _import_failed(exc, spec, setting, ours)
    except (Exception, SystemExit) as exc:
        _import_failed(exc, spec, setting, False)


def _add_rootdir(rootdir: str) -> bool:
    added = False
    for folder in (rootdir, os.path.join(rootdir, "src")):
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.append(folder)
            added = True
    if added:
        importlib.invalidate_caches()
    return added


def _import_failed(exc: BaseException, spec: str, setting: str, not_found: bool) -> Any:
    if not_found:
        fix = (
            f"check the module path in {setting}, and that the project is importable from the rootdir "
            "(install it, or set pytest's pythonpath = . or src)"
        )
    else:
        fix = "fix the error above in the app (it happened while importing it), then run again"
    where = _app_frame(exc)
    config_error(f"could not import {setting} {spec!r}: {_describe(exc)}{where}", fix)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _app_frame(exc: BaseException) -> str:
    """Where in the project's own code the error happened (the last frame outside importlib)."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "importlib" not in f.filename
        and not f.filename.endswith(("pytest_xaio/resolve.py", "pytest_xaio\\resolve.py"))
    ]
    if not frames:
        return ""
    last = frames[-1]
    return f"\n  at {last.filename}:{last.lineno}" + (f": {last.line}" if last.line else "")


def _is_mapping(obj: Any) -> bool:
    return hasattr(obj, "keys") and hasattr(obj, "__getitem__") and hasattr(obj, "__contains__")


def _names_like(obj: Any) -> str:
    names = sorted(n for n in dir(obj) if not n.startswith("_"))[:12]
    return f"; available names: {', '.join(names)}" if names else ""
