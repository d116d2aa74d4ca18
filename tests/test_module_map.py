"""The module map in CONTRIBUTING.md stays true: every module of ``src/pytest_xaio`` sits in one
layer, imports only its own layer or lower ones, and no files import each other round a circle.

Every import counts: top-level, function-level (lazy) and ``if TYPE_CHECKING:`` ones. This reads
source text only (pure logic), so it is a unit test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pytest_xaio"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """``pytest_xaio.a.b`` → its file, for every module and package of the source tree."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that the file imports anywhere (resolving relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            submodules = {f"{module}.{alias.name}" for alias in node.names} & known
            targets.update(submodules)
            # `from pkg import submodule` imports the submodule; other names come from pkg itself
            if len(submodules) < len(node.names):
                targets.add(module)
    found: set[str] = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def layers(text: str) -> dict[str, int]:
    """``entry → layer number`` from the list between the module-layers markers of CONTRIBUTING.md."""
    match = re.search(r"<!-- module-layers -->(.*?)<!-- /module-layers -->", text, re.S)
    assert match, "CONTRIBUTING.md has no <!-- module-layers --> list"
    table: dict[str, int] = {}
    for line in match.group(1).splitlines():
        row = re.match(r"\s*(\d+)\.\s+[^:]+:(.*)", line)
        if row:
            for entry in re.findall(r"`([\w.]+)`", row.group(2)):
                assert entry not in table, f"{entry} is listed twice"
                table[entry] = int(row.group(1))
    return table


def layer_of(module: str, table: dict[str, int]) -> int | None:
    """The layer of the most specific entry naming the module or a package above it."""
    short = module.removeprefix("pytest_xaio.") if module != "pytest_xaio" else "pytest_xaio"
    while short:
        if short in table:
            return table[short]
        short = short.rpartition(".")[0]
    return None


# --- the rules, on the real source tree -----------------------------------------------------------
def test_no_import_circle_between_files() -> None:
    assert circles(import_graph()) == []


def test_every_module_has_a_layer_and_imports_no_higher_layer() -> None:
    table = layers(CONTRIBUTING.read_text(encoding="utf-8"))
    graph = import_graph()
    unplaced = sorted(m for m in graph if layer_of(m, table) is None)
    assert unplaced == [], "add these modules to the module-layers list in CONTRIBUTING.md"
    upward = sorted(
        f"{m} (layer {layer_of(m, table)}) imports {t} (layer {layer_of(t, table)})"
        for m, targets in graph.items()
        for t in targets
        if (layer_of(t, table) or 0) > (layer_of(m, table) or 0)
    )
    assert upward == []


def test_every_listed_module_exists() -> None:
    table = layers(CONTRIBUTING.read_text(encoding="utf-8"))
    names = {m.removeprefix("pytest_xaio.") for m in module_files()} | {"pytest_xaio"}
    assert sorted(set(table) - names) == []


def test_no_pytest_internals() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in module_files().values()
        if re.search(r"^\s*(from|import)\s+_pytest\b", path.read_text(encoding="utf-8"), re.M)
    )
    assert offenders == []


def test_public_fixtures_are_typed_without_any() -> None:
    """What ``pytest --fixtures`` lists for users: each public fixture says what it gives."""
    untyped = []
    for name, path in module_files().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
                continue
            if not any(ast.unparse(d).startswith("pytest.fixture") for d in node.decorator_list):
                continue
            returns = ast.unparse(node.returns) if node.returns else ""
            if not returns or re.search(r"\bAny\b", returns):
                untyped.append(f"{name}.{node.name} -> {returns or '(no annotation)'}")
    assert untyped == []


# --- the checker itself, on small trees ---------------------------------------------------------------
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "pytest_xaio"
    for rel, text in files.items():
        path = package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def _graph(package: Path) -> dict[str, set[str]]:
    files = module_files(package)
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def test_lazy_and_type_checking_imports_make_circles(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "def f():\n    from pytest_xaio.b import g\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pytest_xaio import a\n",
            "c.py": "from . import a\n",
        },
    )
    graph = _graph(package)
    assert graph["pytest_xaio.c"] == {"pytest_xaio.a"}
    assert circles(graph) == [["pytest_xaio.a", "pytest_xaio.b"]]


def test_importing_a_submodule_does_not_count_as_importing_its_package(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "db/__init__.py": "from pytest_xaio.db.constraints import check\n",
            "db/constraints.py": "from pytest_xaio.db import schema\ncheck = 1\n",
            "db/schema.py": "",
            "db/other.py": "from ..db import check\n",
        },
    )
    graph = _graph(package)
    assert graph["pytest_xaio.db.constraints"] == {"pytest_xaio.db.schema"}
    assert graph["pytest_xaio.db.other"] == {"pytest_xaio.db"}
    assert circles(graph) == []


@pytest.mark.parametrize(
    ("module", "expected"),
    [("pytest_xaio.postgres.fixtures", 3), ("pytest_xaio.postgres.cluster", 1), ("pytest_xaio.nowhere", None)],
)
def test_most_specific_layer_entry_wins(module: str, expected: int | None) -> None:
    table = layers(
        "<!-- module-layers -->\n1. parts: `postgres`, `redis`\n3. plugins: `postgres.fixtures`\n<!-- /module-layers -->"
    )
    assert layer_of(module, table) == expected
