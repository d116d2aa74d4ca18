"""What ``pytest --setup-plan`` shows: plain tests get none of the plugin's fixtures, a test that uses
a feature gets that feature's per-test fixture (added at collection, set up first), and the Postgres
fixtures chain server → owner → template → worker databases → the test's database."""

from __future__ import annotations

import re

import pytest

TESTS = """
import pytest

def test_plain():
    pass

def test_redis(xaio_redis_url):
    pass

@pytest.mark.xaio_mock_db
def test_mock():
    pass

def test_fake(stripe_fake):
    pass

def test_db(xaio_db):
    pass
"""


def _plan(pytester: pytest.Pytester, *ini: str) -> tuple[dict[str, set[str]], list[str]]:
    pytester.makeini("[pytest]\n" + "\n".join(ini) + "\n")
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--setup-plan", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    used: dict[str, set[str]] = {}
    for line in result.stdout.lines:
        match = re.search(r"::(test_\w+)(?: \(fixtures used: (.*)\))?$", line)
        if match:
            used[match.group(1)] = set((match.group(2) or "").split(", ")) - {""}
    assert set(used) == {"test_plain", "test_redis", "test_mock", "test_fake", "test_db"}
    return used, [line.strip() for line in result.stdout.lines]


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if "xaio" in n or n.endswith("_fake")}


def test_plain_tests_get_no_plugin_fixture_and_features_get_theirs(pytester: pytest.Pytester) -> None:
    used, lines = _plan(pytester)
    assert _ours(used["test_plain"]) == set()
    assert _ours(used["test_redis"]) == {"_xaio_redis_flush", "_xaio_redis_server", "xaio_redis_url"}
    assert _ours(used["test_mock"]) == {"xaio_db_mock"}
    assert _ours(used["test_fake"]) == {"_xaio_externals_switch", "stripe_fake"}
    assert _ours(used["test_db"]) == {"xaio_postgres", "_xaio_owner", "_xaio_template", "_xaio_workers"} | {
        "xaio_database",
        "xaio_db",
    }
    # the flush is set up before the test's other fixtures, so it is torn down after them
    assert lines.index("SETUP    F _xaio_redis_flush") < lines.index(
        "SETUP    F xaio_redis_url (fixtures used: _xaio_redis_flush, _xaio_redis_server, pytestconfig)"
    )
    # the Postgres chain, each fixture handed the one before it
    for fixture, parent in [
        ("_xaio_owner", "xaio_postgres"),
        ("_xaio_template", "_xaio_owner"),
        ("_xaio_workers", "_xaio_template"),
    ]:
        assert any(line.startswith(f"SETUP    S {fixture} (fixtures used: ") and parent in line for line in lines)
    assert "SETUP    F xaio_database (fixtures used: _xaio_workers)" in lines


def test_project_settings_give_every_test_the_feature_it_turns_on(pytester: pytest.Pytester) -> None:
    """``xaio_mock_externals`` guards every test; ``{redis_url}`` in ``xaio_env`` means the app may write
    to Redis in any test, so every test gets the flush."""
    used, _ = _plan(pytester, "xaio_mock_externals = true", "xaio_env = REDIS_URL={redis_url}")
    assert _ours(used["test_plain"]) == {"_xaio_externals_switch", "_xaio_redis_flush"}
