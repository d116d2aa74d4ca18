"""A clean database for each Hypothesis example, inside one function-scoped test.

Function-scoped fixtures run once per test, not once per generated example, so without help the
rows of example 1 are still there for example 2. ``xaio_example(db)`` wraps one example: in
``transaction`` isolation it is a savepoint rolled back at the end (cheap); in ``truncate``
isolation the tables written are emptied afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["xaio_example"]


@contextmanager
def xaio_example(db: Any) -> Iterator[Any]:
    """Run one Hypothesis example against a database that looks as it did before the example.

    ``db`` is ``xaio_db`` (a psycopg connection), ``xaio_database`` or a SQLAlchemy session/connection.

    Example::

        @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(email=emails())
        def test_signup(xaio_db, xaio_client, email):
            with xaio_example(xaio_db):
                assert xaio_client.post("/api/waitlist", json={"email": email}).status_code == 201
                assert xaio_db.execute("SELECT count(*) FROM waitlist").fetchone()[0] == 1
    """
    if type(db).__name__ == "TestDatabase":
        if db.isolation == "truncate":
            try:
                yield db
            finally:
                db.truncate_written()
            return
        if db.isolation != "transaction":
            from pytest_xaio.errors import config_error

            config_error(
                f"xaio_example does not work with isolation={db.isolation!r} (one clone per example "
                "would be far too slow)",
                "use isolation='transaction' (default) or 'truncate'",
            )
        db = db.connection
    if type(db).__module__.startswith("sqlalchemy"):
        nested = db.begin_nested()
        try:
            yield db
        finally:
            if nested.is_active:
                nested.rollback()
        return
    with db.transaction(savepoint_name="xaio_example", force_rollback=True):
        yield db
