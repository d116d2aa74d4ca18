"""Read a project's settings from its source: the env variables it reads, the JWT and Stripe secrets.

Shapes read: ``os.environ[...]``, ``os.getenv(...)`` and small helpers around them; pydantic
``BaseSettings`` fields (with ``env_prefix``, aliases, and nested models under
``env_nested_delimiter``: ``database: Database`` reads ``DATABASE__HOSTNAME`` ...); settings
objects made at module level (``settings = Settings()``) or by a getter (``get_settings()``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from pytest_xaio.cli.alembic_schema import call_name

__all__ = ["FoundSettings", "find_settings"]

_SECRET_NAMES = ("jwt_secret_key", "jwt_secret", "jwt_key", "secret_key", "auth_secret", "token_secret")


@dataclass
class FoundSettings:
    env_reads: dict[str, bool] = field(default_factory=dict)  # env var -> read without a default
    jwt_secret_from: str | None = None
    stripe_webhook_secret_from: str | None = None


def find_settings(modules: list[tuple[str, ast.Module]]) -> FoundSettings:
    """What the modules (name, parsed source) read from the environment, and where the secrets live."""
    found = FoundSettings()
    secrets: list[tuple[int, str]] = []
    webhook: list[str] = []
    for name, tree in modules:
        _env_reads(found.env_reads, tree)
        instances = _instances(tree)
        for owner, attr in _settings_attributes(found.env_reads, tree):
            if owner is None:
                where = f"{name}:{attr}"
            elif owner in instances:
                where = f"{name}:{instances[owner]}.{attr}"
            else:
                continue
            lowered = attr.rsplit(".", 1)[-1].lower()
            if lowered in _SECRET_NAMES:
                secrets.append((_SECRET_NAMES.index(lowered), where))
            if "stripe" in lowered and "webhook" in lowered and "secret" in lowered:
                webhook.append(where)
    if secrets:
        found.jwt_secret_from = sorted(secrets)[0][1]
    if webhook:
        found.stripe_webhook_secret_from = webhook[0]
    return found


def _instances(tree: ast.Module) -> dict[str, str]:
    """Class name -> the module-level variable holding its instance (``settings = Settings()``)."""
    found: dict[str, str] = {}
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    for node in tree.body:
        if not (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            continue
        func = node.value.func
        if isinstance(func, ast.Attribute):  # Settings.from_env()
            func = func.value
        if isinstance(func, ast.Name) and func.id in classes:
            found.setdefault(func.id, node.targets[0].id)
    for node in tree.body:  # a getter: def get_settings() -> Settings: return Settings() (often lru_cached)
        if isinstance(node, ast.FunctionDef) and not node.args.args:
            for ret in ast.walk(node):
                if (
                    isinstance(ret, ast.Return)
                    and isinstance(ret.value, ast.Call)
                    and isinstance(ret.value.func, ast.Name)
                    and ret.value.func.id in classes
                ):
                    found.setdefault(ret.value.func.id, f"{node.name}()")
    return found


def _settings_attributes(reads: dict[str, bool], tree: ast.Module) -> list[tuple[str | None, str]]:
    """(class name or None for module level, attribute) of every assigned name; records env reads
    of pydantic settings classes on the way."""
    found: list[tuple[str | None, str]] = []
    models = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            found += [(None, t.id) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.append((None, node.target.id))
        elif isinstance(node, ast.ClassDef):
            pydantic = any(call_name(b).endswith("BaseSettings") for b in node.bases)
            prefix = _env_prefix(node) if pydantic else ""
            delimiter = _class_setting(node, "env_nested_delimiter") if pydantic else ""
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    found.append((node.name, item.target.id))
                    nested = models.get(item.annotation.id) if isinstance(item.annotation, ast.Name) else None
                    if pydantic and delimiter and nested is not None:
                        # database: Database with env_nested_delimiter="__": DATABASE__HOSTNAME, DATABASE__PORT ...
                        for sub in nested.body:
                            if isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name):
                                found.append((node.name, f"{item.target.id}.{sub.target.id}"))
                                env = f"{prefix}{item.target.id}{delimiter}{sub.target.id}".upper()
                                reads[env] = reads.get(env, False) or sub.value is None
                    elif pydantic and item.target.id != "model_config":
                        env = _alias(item.value) or (prefix + item.target.id)
                        required = item.value is None or (
                            isinstance(item.value, ast.Call)
                            and call_name(item.value) == "Field"
                            and bool(item.value.args)
                            and isinstance(item.value.args[0], ast.Constant)
                            and item.value.args[0].value is Ellipsis
                        )
                        reads[env.upper()] = reads.get(env.upper(), False) or required
                elif isinstance(item, ast.Assign):
                    found += [(node.name, t.id) for t in item.targets if isinstance(t, ast.Name)]
    return found


def _env_prefix(cls: ast.ClassDef) -> str:
    return _class_setting(cls, "env_prefix")


def _class_setting(cls: ast.ClassDef, name: str) -> str:
    """A pydantic-settings option given as a constant: ``SettingsConfigDict(name=...)`` or ``name = ...``."""
    for node in ast.walk(cls):
        if isinstance(node, ast.keyword) and node.arg == name and isinstance(node.value, ast.Constant):
            return str(node.value.value)
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
    return ""


def _alias(value: ast.expr | None) -> str | None:
    if isinstance(value, ast.Call) and call_name(value) == "Field":
        for kw in value.keywords:
            if kw.arg in ("alias", "validation_alias", "env") and isinstance(kw.value, ast.Constant):
                return str(kw.value.value)
    return None


def _env_reads(reads: dict[str, bool], tree: ast.Module) -> None:
    # Small helpers such as ``def _env(name, default=""): return os.environ.get(name, default)``
    # read the variable named by their first argument.
    wrappers = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(
            (isinstance(n, ast.expr) and _is_environ(n)) or (isinstance(n, ast.Attribute) and n.attr == "getenv")
            for n in ast.walk(node)
        )
    }
    for node in ast.walk(tree):
        name: str | None = None
        required = False
        if isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.slice, ast.Constant):
            name, required = str(node.slice.value), isinstance(node.ctx, ast.Load)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            func = node.func
            if isinstance(func, ast.Attribute) and (
                (func.attr == "getenv" and _dotted(func.value) == "os")
                or (func.attr == "get" and _is_environ(func.value))
            ):
                name, required = node.args[0].value, len(node.args) < 2 and not node.keywords
            elif isinstance(func, ast.Name) and func.id == "getenv":
                name, required = node.args[0].value, len(node.args) < 2
            elif isinstance(func, ast.Name) and func.id in wrappers:
                name = node.args[0].value
        if name and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            reads[name] = reads.get(name, False) or required


def _is_environ(node: ast.expr) -> bool:
    return _dotted(node) in ("os.environ", "environ")


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""
