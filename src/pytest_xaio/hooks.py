"""Hooks a project implements in its conftest.py to teach the plugin about its app."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["register_hookspecs"]


@pytest.hookspec(firstresult=True)
def pytest_xaio_create_user(db: Any, attrs: dict[str, Any]) -> Any:
    """Insert a user row for a test and return it (an object or mapping with at least ``id``).

    ``db`` is the test's psycopg connection (inside the test's transaction); ``attrs`` are the
    attributes the test asked for (``xaio_user_factory(plan="free")``). Return ``None`` to let
    another implementation answer.
    """


@pytest.hookspec(firstresult=True)
def pytest_xaio_payload(case: Any) -> Any:
    """Return the JSON body the endpoint matrix sends for a case, or ``None`` to generate one.

    Asked for the success, 404 and 401 cases (400 cases send their own invalid input). ``case`` has
    ``method``, ``path``, ``name``, ``kind``, ``expected``, ``seed``, ``body`` (a copy of the generated
    body) and ``request`` (the test's ``FixtureRequest``, for fixtures such as real rows).
    """


def register_hookspecs(pluginmanager: pytest.PytestPluginManager) -> None:
    """Add this module's hookspecs once (the plugin and ``hookspecs_plugin`` both ask for them)."""
    caller = getattr(pluginmanager.hook, "pytest_xaio_create_user", None)
    if caller is not None and caller.has_spec():
        return
    import sys

    pluginmanager.add_hookspecs(sys.modules[__name__])
