"""The generated parts of the docs: the configuration reference (from pytest_xaio.config.OPTIONS) and
the troubleshooting table (every config_error/missing_extra in the source), so neither can drift.

The generated text is kept in the committed Markdown between ``<!-- xaio:NAME -->`` and
``<!-- /xaio:NAME -->``, so GitHub readers see it too. ``python docs/_hooks/reference.py --write``
refreshes it; ``--check`` (run in CI and by tests/test_docs.py) fails when it is stale. As an
mkdocs hook it fills the same blocks at build time.
"""

from __future__ import annotations

from typing import Any


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


def fill(markdown: str, name: str, content: str) -> str:
    """Put ``content`` between ``<!-- xaio:NAME -->`` and ``<!-- /xaio:NAME -->`` (the end is added when missing)."""
    start, end = f"<!-- xaio:{name} -->", f"<!-- /xaio:{name} -->"
    if start not in markdown:
        return markdown
    head, _, rest = markdown.partition(start)
    tail = rest.partition(end)[2] if end in rest else rest
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


#: The committed files that hold generated blocks, and what fills them.
GENERATED: dict[str, tuple[str, Any]] = {
    "configuration.md": ("options", lambda: render_options()),
    "troubleshooting.md": ("errors", lambda: render_errors()),
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    markdown = fill(markdown, "options", render_options())
    markdown = fill(markdown, "errors", render_errors())
    if "<!-- xaio:changelog -->" in markdown:
        from pathlib import Path

        markdown = markdown.replace(
            "<!-- xaio:changelog -->",
            (Path(config["config_file_path"]).parent / "CHANGELOG.md").read_text(encoding="utf-8"),
        )
    return markdown


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


def stale_files(docs: Any = None, *, write: bool = False) -> list[str]:
    """The committed docs whose generated blocks differ from a fresh render (rewritten when ``write``)."""
    from pathlib import Path

    folder = Path(docs) if docs is not None else Path(__file__).resolve().parent.parent
    stale = []
    for name, (block, render) in GENERATED.items():
        path = folder / name
        text = path.read_text(encoding="utf-8")
        fresh = fill(text, block, render())
        if fresh != text:
            stale.append(name)
            if write:
                path.write_text(fresh, encoding="utf-8")
    return stale


if __name__ == "__main__":
    import sys

    write = "--write" in sys.argv
    found = stale_files(write=write)
    if found and not write:
        print(f"generated docs are stale: {', '.join(found)}; run python docs/_hooks/reference.py --write")
        sys.exit(1)
    print("generated docs " + ("rewritten: " + ", ".join(found) if found else "are current"))
