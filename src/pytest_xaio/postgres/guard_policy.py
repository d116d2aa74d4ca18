"""What the connection guard allows in the test process: the plugin's databases on its server.

Allowed: on the embedded server (the plugin's own cluster) any database; on a server the plugin
was given (URL provider, containers) the databases named with this project's prefix
(``xaio_<project>_...``, only the plugin creates those) and the maintenance database of the URL it
was given; and whatever ``xaio_allow_databases`` lists (a database name on any server, or a URL).
Everything else is refused with the URL it tried and what to change.
"""

from __future__ import annotations

from pytest_xaio.config import XaioSettings
from pytest_xaio.postgres import PostgresServer, is_local_host
from pytest_xaio.postgres.connection_guard import ConnectionGuard, Target, resolve_target
from pytest_xaio.postgres.databases import project_prefix

__all__ = ["guard_message", "guard_wanted", "install_guard", "same_server"]


def same_server(a_host: str, a_port: int, b_host: str, b_port: int) -> bool:
    if a_port != b_port:
        return False
    if is_local_host(a_host) and is_local_host(b_host):
        return True
    return a_host.strip("[]").lower() == b_host.strip("[]").lower()


def _allowed_extra(target: Target, allowed: tuple[str, ...]) -> bool:
    for entry in allowed:
        if "://" in entry or "=" in entry:
            other = resolve_target(entry)
            if other.dbname == target.dbname and same_server(other.host, other.port, target.host, target.port):
                return True
        elif entry == target.dbname:
            return True
    return False


def guard_message(target: Target, server: PostgresServer, prefix: str) -> str:
    return (
        f"pytest-xaio: refused a database connection to {target.url}: the tests may only reach the databases "
        f"pytest-xaio created ({server.host}:{server.port}, names starting with {prefix}_). The app or a test built "
        "its URL from settings that still point at a real database.\n"
        "  fix: map the settings the app reads to the test database with xaio_env lines (e.g. POSTGRES_DB={dbname}, "
        "DATABASE__HOSTNAME={host}, DATABASE_URL={url}); build engines from settings read after the plugin exported "
        "the environment (it does so before conftest.py files are imported, so a cached settings object made earlier, "
        "e.g. by a plugin or sitecustomize, is stale); to allow this database on purpose, list it in "
        "xaio_allow_databases"
    )


def guard_wanted(settings: XaioSettings) -> bool:
    """The guard watches an app under test: a run with xaio_app, xaio_db_dependency or xaio_env."""
    return bool(settings.app.app or settings.postgres.db_dependency or settings.postgres.env)


def install_guard(server: PostgresServer, settings: XaioSettings) -> ConnectionGuard | None:
    if not guard_wanted(settings):
        return None
    prefix = project_prefix(settings.project)  # the owner's own prefix, so its databases always pass
    allowed = settings.postgres.allow_databases

    def policy(target: Target) -> str | None:
        if same_server(target.host, target.port, server.host, server.port) and (
            server.provider == "embedded"  # the plugin's own cluster: nothing of the developer's lives there
            or target.dbname.startswith(prefix + "_")
            or target.dbname == server.maintenance_db  # the database the plugin was pointed at (xaio_postgres.url)
        ):
            return None
        if _allowed_extra(target, allowed):
            return None
        return guard_message(target, server, prefix)

    return ConnectionGuard(policy).install()
