"""mkdocs hook: the configuration reference is rendered from pytest_xaio.config.OPTIONS, so it cannot drift."""

from __future__ import annotations

from typing import Any

MARKER = "<!-- xaio:options -->"


def render_options() -> str:
    from pytest_xaio.config import OPTIONS

    sections: dict[str, list[str]] = {}
    for opt in OPTIONS:
        default = opt.default
        shown = "—" if default in (None, (), "") else f"`{default}`"
        choices = f" One of: {', '.join(f'`{c}`' for c in opt.choices)}." if opt.choices else ""
        cli = f"`{opt.cli_flag}`" if opt.cli else "—"
        env = f"`{opt.env_name}`" if opt.env else "—"
        sections.setdefault(opt.section, []).append(
            f"| `{opt.ini_name}` | {cli} | {env} | {opt.kind} | {shown} | {opt.help}{choices} |"
        )
    out = []
    for section, rows in sections.items():
        out.append(f"\n### {section}\n")
        out.append("| ini key | option | environment | type | default | meaning |")
        out.append("|---|---|---|---|---|---|")
        out.extend(rows)
    return "\n".join(out) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, render_options())
    if "<!-- xaio:changelog -->" in markdown:
        from pathlib import Path

        markdown = markdown.replace(
            "<!-- xaio:changelog -->",
            (Path(config["config_file_path"]).parent / "CHANGELOG.md").read_text(encoding="utf-8"),
        )
    return _fill_errors(markdown)


ERRORS_MARKER = "<!-- xaio:errors -->"


def _template(node: Any) -> str:
    """A message's text with its {placeholders} shown as ‹…›."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_template(v) if isinstance(v, ast.Constant) else "‹…›" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _template(node.left) + _template(node.right)
    return "‹…›"


def render_errors() -> str:
    """Every ``config_error(problem, fix)`` in the package, with the module it comes from."""
    import ast
    from pathlib import Path

    import pytest_xaio

    root = Path(pytest_xaio.__file__).parent
    rows = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "config_error" and len(node.args) >= 2:
                problem, fix = _template(node.args[0]), _template(node.args[1])
            elif name == "missing_extra" and len(node.args) >= 3:
                problem = f"{_template(node.args[2])} needs the Python package {_template(node.args[0])!s}"
                fix = f"pip install 'pytest-xaio[{_template(node.args[1])}]'"
            else:
                continue
            where = path.relative_to(root).as_posix()
            cell = lambda text: text.replace("|", "\\|").replace("\n", " ")  # noqa: E731
            rows.append(f"| {cell(problem)} | {cell(fix)} | `{where}` |")
    header = ["| message (`pytest-xaio: …`) | fix printed with it | raised in |", "|---|---|---|"]
    return "\n".join(header + sorted(set(rows))) + "\n"


def _fill_errors(markdown: str) -> str:
    return markdown.replace(ERRORS_MARKER, render_errors()) if ERRORS_MARKER in markdown else markdown
