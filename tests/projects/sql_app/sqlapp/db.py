from collections.abc import Iterator

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from sqlapp.settings import settings

engine = create_engine(settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
SessionLocal = sessionmaker(bind=engine)


def get_db() -> Iterator[Session]:
    with SessionLocal() as session:
        yield session
