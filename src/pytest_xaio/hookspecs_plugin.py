"""Keeps the project hooks known to pytest when the plugin itself is turned off.

A project's conftest.py implements ``pytest_xaio_create_user``; pytest refuses a conftest whose
``pytest_*`` function has no hookspec (``PluginValidationError: unknown hook``). This tiny plugin
has its own entry point, so ``pytest -p no:xaio`` still loads it: the specs stay registered, the
implementations are simply never called, and turning pytest-xaio off never breaks a project.
"""

from __future__ import annotations

import pytest

from pytest_xaio.hooks import register_hookspecs


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    register_hookspecs(pluginmanager)
