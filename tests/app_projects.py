"""Texts and files that more than one test file writes into its pytester projects.

The apps under tests/apps/ come as three files, ``<name>_app.py``, ``<name>_schema.sql`` and
``<name>_conftest.py``; :func:`copy_app` puts them where a project expects them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"

# The ini of tests/apps/client_app.py (test_client.py, and the other venvs in test_eco_envs.py).
CLIENT_INI = """
[pytest]
xaio_app = client_app:app
asyncio_default_fixture_loop_scope = function
xaio_schema_sql = schema.sql
xaio_db_dependency = client_app:get_db
xaio_jwt_secret_from = client_app:SECRET_KEY
xaio_env =
    SECRET_KEY=client-app-secret-0123456789abcdef0123456789
"""

# Typed settings written as TOML, and a test that reads them back through xaio_settings.
TOML_VALUES = """\
xaio_cov_threshold = 80
xaio_validation_status = 400
xaio_mock_externals = true
xaio_jwt_lifetime = 60
xaio_keep_tables = ["plans"]
"""

SHOW_SETTINGS = """
def test_show(xaio_settings):
    assert xaio_settings.coverage.cov_threshold == 80.0
    assert xaio_settings.matrix.validation_status == 400
    assert xaio_settings.externals.mock_externals is True
    assert xaio_settings.auth.jwt_lifetime == 60
    assert xaio_settings.postgres.keep_tables == ("plans",)
"""


def copy_app(pytester: pytest.Pytester, name: str, ini: str) -> pytest.Pytester:
    """The app ``name`` (``<name>_app.py``, its schema as schema.sql, its conftest) and ``ini``."""
    shutil.copy(APPS / f"{name}_app.py", pytester.path / f"{name}_app.py")
    shutil.copy(APPS / f"{name}_schema.sql", pytester.path / "schema.sql")
    shutil.copy(APPS / f"{name}_conftest.py", pytester.path / "conftest.py")
    pytester.makeini(ini)
    return pytester


def outcomes_by_id(result: pytest.RunResult) -> dict[str, str]:
    """The outcome (PASSED, FAILED, SKIPPED, ERROR) of each matrix case of a ``-v`` run, by its id:
    the ``test_endpoints`` items of the project's test_endpoints.py."""
    found: dict[str, str] = {}
    for line in result.outlines:
        match = re.match(r"test_endpoints\.py::test_endpoints\[(.*)\] (PASSED|FAILED|SKIPPED|ERROR)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found
