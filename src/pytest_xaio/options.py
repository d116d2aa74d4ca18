"""One setting's definition (:class:`Option`), how a settings section declares one (:func:`setting`),
and how its value is read from the command line, the environment or the ini file.

:mod:`pytest_xaio.config` builds the option table from its section dataclasses with these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

__all__ = ["Kind", "Option", "ini_type", "option_of_field", "read_option", "setting"]

Kind = Literal["str", "bool", "int", "float", "choice", "lines", "path"]


@dataclass(frozen=True)
class Option:
    """A setting's definition: the single source for CLI, env, ini and the docs' reference."""

    name: str
    section: str
    help: str
    kind: Kind = "str"
    default: Any = None
    choices: tuple[str, ...] = ()
    cli: bool = True
    env: bool = True

    @property
    def ini_name(self) -> str:
        return f"xaio_{self.name}"

    @property
    def cli_flag(self) -> str:
        return "--xaio-" + self.name.replace("_", "-")

    @property
    def env_name(self) -> str:
        return f"XAIO_{self.name.upper()}"

    @property
    def dest(self) -> str:
        return f"xaio_{self.name}"


def setting(
    help: str,
    *,
    default: Any = None,
    kind: Kind | None = None,
    choices: tuple[str, ...] = (),
    cli: bool = True,
    env: bool = True,
) -> Any:
    """A section field that is a setting: its default, help and choices, declared once. The kind is
    read from the default unless given ("path", or a number whose default is None)."""
    if kind is None:
        kind = _kind_of(default, choices)
    return field(default=default, metadata={_SPEC: _Spec(help, kind, choices, cli, env)})


@dataclass(frozen=True)
class _Spec:
    help: str
    kind: Kind
    choices: tuple[str, ...]
    cli: bool
    env: bool


_SPEC = "pytest_xaio.setting"


def _kind_of(default: Any, choices: tuple[str, ...]) -> Kind:
    if choices:
        return "choice"
    for python_type, kind in ((bool, "bool"), (int, "int"), (float, "float"), (tuple, "lines")):
        if isinstance(default, python_type):
            return kind  # type: ignore[return-value]
    return "str"


def option_of_field(f: dataclasses.Field[Any], section: str) -> Option:
    """The option a section field declared with :func:`setting` stands for."""
    spec: _Spec = f.metadata[_SPEC]
    return Option(f.name, section, spec.help, spec.kind, f.default, spec.choices, spec.cli, spec.env)


def _pytest_has_typed_numbers() -> bool:
    """pytest 8.4 added the ``int`` and ``float`` ini types (pytest 9's ``[tool.pytest]`` table needs them)."""
    major, minor = (int(part) for part in pytest.__version__.split(".")[:2])
    return (major, minor) >= (8, 4)


_INI_TYPES = {"bool": "bool", "lines": "linelist", "int": "int", "float": "float"}


def ini_type(opt: Option) -> str:
    """The ini type an option is registered with: typed wherever the running pytest supports it."""
    kind = _INI_TYPES.get(opt.kind, "string")
    if kind in ("int", "float") and not _pytest_has_typed_numbers():
        return "string"
    return kind


def read_option(config: pytest.Config, opt: Option, env: Mapping[str, str], options: Any = None) -> Any:
    """Option > env > ini; an explicit empty or zero on the command line still wins."""
    if opt.cli:
        cli_value = (
            getattr(options, opt.dest, None) if options is not None else config.getoption(opt.dest, default=None)
        )
        if cli_value is not None:
            return _coerce(opt, cli_value, f"{opt.cli_flag}")
    if opt.env and opt.env_name in env:
        return _coerce(opt, env[opt.env_name], f"${opt.env_name}")
    ini_value = config.getini(opt.ini_name)
    if ini_value is None or ini_value == [] or ini_value == "":
        return None
    return _coerce(opt, ini_value, f"ini {opt.ini_name}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(opt: Option, raw: Any, where: str) -> Any:
    if opt.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise pytest.UsageError(f"pytest-xaio: {where} must be true or false, not {raw!r}")
    if opt.kind in ("int", "float"):
        try:
            return int(raw) if opt.kind == "int" else float(raw)
        except (TypeError, ValueError):
            raise pytest.UsageError(f"pytest-xaio: {where} must be a number, not {raw!r}") from None
    if opt.kind == "lines":
        return _as_lines(raw)
    text = str(raw).strip()
    if opt.kind == "choice" and text not in opt.choices:
        raise pytest.UsageError(f"pytest-xaio: {where} must be one of {', '.join(opt.choices)}; got {text!r}")
    return text


def _as_lines(raw: Any) -> tuple[str, ...]:
    """ini linelists arrive as lists; CLI and env values as one string separated by newlines or commas."""
    if isinstance(raw, str):
        parts: Sequence[str] = raw.splitlines() if "\n" in raw else raw.split(",")
    else:
        parts = list(raw)
    return tuple(p.strip() for p in parts if p and p.strip())
