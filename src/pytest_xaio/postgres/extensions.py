"""uuid-ossp and pgcrypto on the embedded server, whose wheel ships neither.

PostgreSQL 18's ``extension_control_path`` lets a server find extensions outside its own share
directory. The plugin carries pure-SQL stand-ins for the functions migrations use most
(``uuid_generate_v4()``, ``digest()``, ``gen_random_bytes()``... see ``pg_extensions/``) and points
the template database at them, so ``CREATE EXTENSION IF NOT EXISTS "uuid-ossp"`` works there. The
setting is per database (``ALTER DATABASE ... SET``): the shared embedded cluster is not
reconfigured, and other servers (the URL provider, containers) are left as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_xaio.postgres.databases import DatabaseOwner

__all__ = ["BUNDLED", "EXTENSIONS_DIR", "enable_bundled_extensions"]

#: The folder holding ``extension/<name>.control`` and the SQL scripts.
EXTENSIONS_DIR = Path(__file__).parent / "pg_extensions"
BUNDLED = ("uuid-ossp", "pgcrypto")


def enable_bundled_extensions(owner: DatabaseOwner, dbname: str) -> bool:
    """On the embedded server (PostgreSQL 18+), let ``dbname`` find the bundled extensions."""
    server = owner.server
    if server.provider != "embedded" or _major(server.version) < 18:
        return False
    from psycopg import sql

    path = f"{EXTENSIONS_DIR}:$system"
    with owner.admin() as conn:
        available = {row[0] for row in conn.execute("SELECT name FROM pg_available_extensions").fetchall()}
        if all(name in available for name in BUNDLED):
            return False  # a build of the server that has the real ones
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET extension_control_path = {}").format(
                sql.Identifier(dbname), sql.Literal(path)
            )
        )
    return True


def _major(version: str) -> int:
    digits = version.split(".")[0].split()[0] if version else "0"
    return int(digits) if digits.isdigit() else 0
