"""Merge settings into ``[tool.pytest.ini_options]`` with tomlkit, keeping comments and every other key.

pytest reads one configuration file: ``pytest.ini`` wins over ``pyproject.toml``, and a
``pyproject.toml`` without ``[tool.pytest.ini_options]`` yields to ``tox.ini`` and ``setup.cfg``.
Writing the keys into a file pytest does not read would do nothing, so then they are printed for
the user to add to the file that counts.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_xaio.cli.inspect import CliError

__all__ = ["IniTarget", "find_ini_target", "merge_ini"]


@dataclass
class IniTarget:
    path: Path
    document: Any = None  # the parsed pyproject (tomlkit), or None when another file holds pytest's config


def find_ini_target(root: Path) -> IniTarget:
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            return IniTarget(root / name)
    pyproject = root / "pyproject.toml"
    document = _read_pyproject(pyproject) if pyproject.exists() else None
    has_section = document is not None and "ini_options" in document.get("tool", {}).get("pytest", {})
    if not has_section:
        for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(root / name, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
            if parser.has_section(section):
                return IniTarget(root / name)
    if document is None:
        import tomlkit

        document = tomlkit.document()
    return IniTarget(pyproject, document)


def _read_pyproject(path: Path) -> Any:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise CliError(f"{path} is not valid TOML ({exc}); fix it and run again") from None
    tool = document.get("tool", {})
    if (
        not isinstance(tool, dict)
        or not isinstance(tool.get("pytest", {}), dict)
        or not isinstance(tool.get("pytest", {}).get("ini_options", {}), dict)
    ):
        raise CliError(f"{path}: [tool.pytest.ini_options] is not a table; fix it and run again")
    return document


def merge_ini(target: IniTarget, values: dict[str, Any], force: bool) -> list[str]:
    """Add the keys the section lacks (and replace the others with ``force``); report each decision."""
    if target.document is None:
        lines = [
            f"{target.path.name} holds pytest's settings, so pyproject.toml was not changed; "
            f"add these lines to its pytest section:"
        ]
        for key, value in values.items():
            if isinstance(value, list):
                lines.append(f"    {key} =" + "".join(f"\n        {item}" for item in value))
            else:
                lines.append(f"    {key} = {str(value).lower() if isinstance(value, bool) else value}")
        return lines
    import tomlkit

    document = target.document
    if "tool" not in document:
        document.add("tool", tomlkit.table(is_super_table=True))
    tool = document["tool"]
    if "pytest" not in tool:
        tool.add("pytest", tomlkit.table(is_super_table=True))
    if "ini_options" not in tool["pytest"]:
        tool["pytest"].add("ini_options", tomlkit.table())
    section = tool["pytest"]["ini_options"]
    added, replaced, kept = [], [], []
    for key, value in values.items():
        item: Any = value
        if isinstance(value, list):
            item = tomlkit.array()
            item.extend(value)
            item.multiline(len(value) > 1)
        if key not in section:
            section.add(key, item)
            added.append(key)
        elif _plain(section[key]) == value:
            continue
        elif force:
            section[key] = item
            replaced.append(key)
        else:
            kept.append(key)
    rel = target.path.name
    if added or replaced:
        target.path.write_text(tomlkit.dumps(document), encoding="utf-8")
    report = []
    if added:
        report.append(f"added  {', '.join(added)} to [tool.pytest.ini_options] in {rel}")
    if replaced:
        report.append(f"over   {', '.join(replaced)} in {rel}")
    if kept:
        report.append(f"kept   {', '.join(kept)} in {rel} (already set to other values; --force replaces them)")
    if not report:
        report.append(f"kept   {rel}: [tool.pytest.ini_options] already has these settings")
    return report


def _plain(item: Any) -> Any:
    unwrap = getattr(item, "unwrap", None)
    return unwrap() if callable(unwrap) else item
