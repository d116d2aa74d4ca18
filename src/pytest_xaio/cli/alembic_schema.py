"""The table model of :mod:`pytest_xaio.cli.schema`, read from Alembic revisions.

Revisions are parsed with :mod:`ast`, never imported: the ``op.create_table``, ``op.add_column``,
``op.drop_table`` and ``op.create_check_constraint`` calls of each ``upgrade()``, in revision order.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pytest_xaio.cli.schema import Check, Column, Schema, Table

__all__ = ["call_name", "read_alembic"]

_SA_TYPES = {
    "string": "text",
    "text": "text",
    "unicode": "text",
    "unicodetext": "text",
    "varchar": "text",
    "integer": "integer",
    "biginteger": "bigint",
    "smallinteger": "smallint",
    "boolean": "boolean",
    "datetime": "timestamptz",
    "date": "date",
    "uuid": "uuid",
    "uuidtype": "uuid",
    "numeric": "numeric",
    "float": "double precision",
    "json": "jsonb",
    "jsonb": "jsonb",
}


def read_alembic(versions_dir: Path) -> tuple[Schema, list[tuple[str, str | None, str]]]:
    """The schema at head and the revisions in order, as (revision, down_revision, file name)."""
    revisions: dict[str, tuple[str | None, ast.Module, str]] = {}
    for path in sorted(versions_dir.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        values = _module_strings(tree)
        rev = values.get("revision")
        if rev:
            revisions[rev] = (values.get("down_revision"), tree, path.name)
    order: list[tuple[str, str | None, str]] = []
    seen: set[str] = set()
    current: str | None = None
    while True:
        nxt = [r for r, (down, _, _) in revisions.items() if down == current and r not in seen]
        if not nxt:
            break
        current = nxt[0]
        seen.add(current)
        order.append((current, revisions[current][0], revisions[current][2]))
    schema = Schema()
    for rev, _, name in order:
        tree = revisions[rev][1]
        upgrade = next((f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "upgrade"), None)
        if upgrade is not None:
            for node in ast.walk(upgrade):
                if isinstance(node, ast.Call):
                    _alembic_op(schema, node, name)
    return schema, order


def _module_strings(tree: ast.Module) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for node in tree.body:
        target = value = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            values[target.id] = value.value if isinstance(value.value, str) else None
    return values


def call_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _const(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _alembic_op(schema: Schema, call: ast.Call, source: str) -> None:
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "op"):
        return
    args = call.args
    if func.attr == "create_table" and args and _const(args[0]):
        table = Table(str(_const(args[0])), source=source)
        schema.tables[table.name] = table
        schema.created_by.setdefault(source, []).append(table.name)
        for arg in args[1:]:
            _alembic_element(schema, table, arg, source)
    elif func.attr == "add_column" and len(args) >= 2 and _const(args[0]) in schema.tables:
        _alembic_element(schema, schema.tables[str(_const(args[0]))], args[1], source)
    elif func.attr == "drop_table" and args:
        schema.tables.pop(_const(args[0]) or "", None)
    elif func.attr == "create_check_constraint" and len(args) >= 3 and _const(args[1]) in schema.tables:
        name, expression = _const(args[0]) or "", _const(args[2])
        if expression:
            table = schema.tables[str(_const(args[1]))]
            table.checks[name] = Check(table.name, name, expression, source)


def _alembic_element(schema: Schema, table: Table, node: ast.expr, source: str) -> None:
    kind = call_name(node)
    if not isinstance(node, ast.Call):
        return
    kwargs = {k.arg: k.value for k in node.keywords if k.arg}
    if kind == "CheckConstraint" and node.args and _const(node.args[0]):
        name = _const(kwargs.get("name")) or f"{table.name}_check_{len(table.checks)}"
        table.checks[name] = Check(table.name, name, str(_const(node.args[0])), source)
    if kind != "Column" or not node.args or not _const(node.args[0]):
        return
    name = str(_const(node.args[0]))
    type_node = node.args[1] if len(node.args) > 1 else None
    type_name = call_name(type_node).lower() if type_node is not None else ""
    sql_type = _SA_TYPES.get(type_name, type_name)
    if type_name in ("enum",) and isinstance(type_node, ast.Call):
        labels = [v for v in (_const(a) for a in type_node.args) if v is not None]
        enum_name = _const({k.arg: k.value for k in type_node.keywords}.get("name")) or f"{table.name}_{name}"
        if labels:
            schema.enums[enum_name] = labels
            sql_type = enum_name
    primary = isinstance(kwargs.get("primary_key"), ast.Constant) and kwargs["primary_key"].value is True  # type: ignore[attr-defined]
    nullable_node = kwargs.get("nullable")
    nullable = nullable_node.value if isinstance(nullable_node, ast.Constant) else not primary
    refs = [a for a in node.args[1:] if call_name(a) == "ForeignKey"]
    reference = _const(refs[0].args[0]) if refs and isinstance(refs[0], ast.Call) and refs[0].args else None
    table.columns[name] = Column(
        name,
        sql_type,
        not_null=not nullable,
        has_default=("server_default" in kwargs or (primary and sql_type in ("integer", "bigint"))),
        references=reference.split(".")[0] if reference else None,
    )
