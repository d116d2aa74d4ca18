import importlib.util
import os

import sqlalchemy as sa
from alembic import context

_spec = importlib.util.spec_from_file_location(
    "fixture_models", os.path.join(os.path.dirname(os.path.dirname(__file__)), "models.py")
)
assert _spec is not None
assert _spec.loader is not None
_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_models)

target_metadata = _models.metadata


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
