"""Sample migration folders (SQL files and Alembic) and a helper that sets up a pytester project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def make_project(pytester: pytest.Pytester, kind: str = "sql", *ini_lines: str) -> Path:
    """Copy a sample migration folder into the pytester dir and point xaio_migrations at it."""
    if kind == "sql":
        shutil.copytree(HERE / "sql", pytester.path / "migrations")
        target = "migrations"
    else:
        shutil.copytree(HERE / "alembic", pytester.path / "alembicproj")
        target = "alembicproj/alembic.ini"
    pytester.makeini("\n".join(["[pytest]", f"xaio_migrations = {target}", *ini_lines]) + "\n")
    return pytester.path / ("migrations" if kind == "sql" else "alembicproj")
