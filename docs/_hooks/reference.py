"""mkdocs hook: the configuration reference is rendered from pytest_xaio.config.OPTIONS, so it cannot drift."""

from __future__ import annotations

from typing import Any

MARKER = "<!-- xaio:options -->"


def render_options() -> str:
    from pytest_xaio.config import OPTIONS

    sections: dict[str, list[str]] = {}
    for opt in OPTIONS:
        default = opt.default
        if default in (None, (), ""):
            shown = "—"
        else:
            shown = f"`{default}`"
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
        return markdown.replace(MARKER, render_options())
    return markdown
