"""pytest hooks and fixtures for database tests: migrations, snapshots, the opt-in mock DB, migration
checks and Hypothesis profiles."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.config import get_settings
from pytest_xaio.errors import config_error, exit_on_config_error
from pytest_xaio.markers import has_marker, use_fixture_first

if TYPE_CHECKING:  # the helpers are imported by the fixtures that use them
    from pytest_xaio.db.mock import MockSession
    from pytest_xaio.db.snapshot import Snapshotter
    from pytest_xaio.migrations.migrator import Migrator
    from pytest_xaio.postgres.databases import DatabaseOwner

__all__ = ["xaio_db_mock", "xaio_migrations", "xaio_snapshot"]

_mock_key = pytest.StashKey[tuple["MockSession", Any]]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Register the Hypothesis profiles before Hypothesis' own plugin loads the one asked for, but
    # import Hypothesis only when it is asked for (or already loaded): startup stays light.
    profile = config.getoption("--hypothesis-profile", default=None)
    if (isinstance(profile, str) and profile.startswith("xaio-")) or "hypothesis" in sys.modules:
        try:
            from pytest_xaio.strategies import register_profiles
        except ImportError:
            return
        register_profiles()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # Mark the tests that use a feature here, instead of a per-test autouse fixture or hook.
    for item in items:
        if has_marker(item, "xaio_mock_db"):
            use_fixture_first(item, "xaio_db_mock")
        obj = getattr(item, "obj", None)
        if getattr(obj, "_xaio_given", False):
            # An outer @settings replaces the settings xaio_given adjusted; adjust them again.
            from pytest_xaio.strategies import suppress_fixture_check

            suppress_fixture_check(obj)
    settings = get_settings(config)
    if not settings.db.migration_checks:
        return
    from pytest_xaio.migrations.checks import check_items
    from pytest_xaio.migrations.source import discover

    source = discover(settings)
    if source.kind == "none":
        config_error(
            "xaio_migration_checks is on, but xaio_migrations is not set",
            "set xaio_migrations to an alembic.ini or a folder of V001__name.sql files",
        )
    checks = check_items(session, source)
    items.extend(checks)
    # Tell the reporters, so "collected N items" counts the checks too.
    report = pytest.CollectReport("xaio-migrations", "passed", None, list(checks))
    config.hook.pytest_collectreport(report=report)


class _MockDbCall:
    """The call-phase wrapper of mock-DB tests, registered when a test first uses ``xaio_db_mock``:
    a run without mock-DB tests has no per-test hook for it."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        """While a mock-DB test runs: the app's DB dependency answers the mock, real connections fail."""
        entry = item.stash.get(_mock_key, None)
        if entry is None:
            return (yield)
        session, dependency = entry
        from pytest_xaio.db.mock import apps_in, block_real_databases
        from pytest_xaio.patching import Patcher

        with Patcher() as overrides, block_real_databases():
            if dependency is not None:
                funcargs = getattr(item, "funcargs", {})
                from pytest_xaio.app import loaded_apps

                for app in apps_in([*funcargs.values(), *loaded_apps(item.config)]):
                    overrides.setitem(app.dependency_overrides, dependency, lambda: session)
            return (yield)


_MOCK_CALL_PLUGIN = "xaio-mock-db-call"


@pytest.fixture
def xaio_migrations(request: pytest.FixtureRequest, _xaio_owner: DatabaseOwner) -> Iterator[Migrator]:
    """The project's migrations and an empty scratch database of this test's own to run them in.

    ``upgrade(to=...)``, ``downgrade(to=...)``, ``head``, ``current``, ``versions``, and inspection:
    ``tables()``, ``columns(t)``, ``constraints(t)``, ``indexes(t)``, ``table_exists(t)``, ``dump()``;
    ``execute(sql, params)`` to insert and read rows.

    Example::

        def test_v075(xaio_migrations):
            xaio_migrations.upgrade(to="075")
            xaio_migrations.execute("INSERT INTO waitlist (email) VALUES ('a@example.com')")
            xaio_migrations.downgrade(to="074")
            assert not xaio_migrations.table_exists("waitlist")
    """
    from pytest_xaio.migrations.source import discover

    with exit_on_config_error():
        from pytest_xaio.migrations.migrator import Migrator

        migrator = Migrator(_xaio_owner, discover(get_settings(request.config)))
    try:
        yield migrator
    finally:
        migrator.close()


@pytest.fixture
def xaio_snapshot(request: pytest.FixtureRequest, xaio_database: Any) -> Iterator[Snapshotter]:
    """Take snapshots of every table (and the test's Redis DB, if it uses ``xaio_redis_url``).

    Example::

        def test_delete(xaio_client, xaio_snapshot, project):
            before = xaio_snapshot()
            xaio_client.delete(f"/api/projects/{project.id}")
            diff = xaio_snapshot().diff(before)
            diff.assert_only_removed({"projects": 1, "deployments": 3})
            diff.assert_no_rows_left(where={"project_id": project.id})
            diff.assert_redis_removed(f"project:{project.id}:*")
    """
    clients: list[Any] = []
    redis_factory = None
    if "xaio_redis_url" in request.fixturenames:
        url = request.getfixturevalue("xaio_redis_url")

        def redis_factory() -> Any:
            if not clients:
                import redis

                clients.append(redis.Redis.from_url(url))
            return clients[0]

    from pytest_xaio.db.snapshot import Snapshotter

    yield Snapshotter(lambda: xaio_database.connection, redis_factory)
    for client in clients:
        client.close()


@pytest.fixture
def xaio_db_mock(request: pytest.FixtureRequest) -> MockSession:
    """A recording mock session that replaces the app's DB dependency (``xaio_db_dependency``) while
    the test runs; any real database connection the test opens fails loudly. Same as
    ``@pytest.mark.xaio_mock_db``. Real PostgreSQL stays the default for every other test.

    Example::

        def test_create_records(xaio_client, xaio_db_mock):
            xaio_client.post("/api/projects", json={"name": "Demo"})
            assert [type(o).__name__ for o in xaio_db_mock.added] == ["Project"]
            assert xaio_db_mock.commits == 1
    """
    from pytest_xaio.db.mock import MockSession, resolve_dependency

    spec = get_settings(request.config).postgres.db_dependency
    dependency = None
    if spec:
        with exit_on_config_error():
            dependency = resolve_dependency(spec, str(request.config.rootpath))
    session = MockSession()
    request.node.stash[_mock_key] = (session, dependency)
    manager = request.config.pluginmanager
    if not manager.has_plugin(_MOCK_CALL_PLUGIN):
        manager.register(_MockDbCall(), _MOCK_CALL_PLUGIN)
    return session
