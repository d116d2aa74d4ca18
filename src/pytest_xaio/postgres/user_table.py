"""The app's user table and the type of its key, read from the catalog, for users that have no row.

With no ``pytest_xaio_create_user`` hook a test user is only an id for the token's ``sub``. An app
whose users have UUID keys parses that ``sub`` as a UUID (``session.get(User, sub)``,
``uuid.UUID(sub)``), so a sub like ``xaio-test-user`` ends in a 500 from the database driver
instead of the app's own "user not found". When the user table's key is a uuid, the id is a UUID
made from the name instead: stable across runs, and the app answers as it does for any user it
does not know.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["USER_TABLES", "default_id", "find_user_key"]

#: Table names apps keep their users in, most likely first.
USER_TABLES = ("users", "user", "user_account", "user_accounts", "accounts", "app_users", "auth_users")

#: The namespace of the UUIDs made for users without a row (uuid5 of the user's name in it).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/pytest-xaio/#users-without-rows")

_QUERY = """
SELECT c.relname::text, format_type(a.atttypid, a.atttypmod)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
WHERE i.indisprimary AND i.indnatts = 1 AND c.relname = ANY(%(names)s)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY array_position(%(names)s::text[], c.relname::text), n.nspname <> 'public', n.nspname
LIMIT 1
"""


def find_user_key(conn: Any) -> tuple[str, str] | None:
    """``(table, key type)`` of the first table named like a user table with a one-column primary
    key (``("user_account", "uuid")``), or None. ``conn`` is a psycopg connection."""
    row = conn.execute(_QUERY, {"names": list(USER_TABLES)}).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def default_id(key_type: str | None, name: str) -> Any:
    """The id of the user called ``name`` that has no row: a UUID for a uuid key, else ``name``."""
    if key_type == "uuid":
        return uuid.uuid5(_NAMESPACE, name)
    return name
