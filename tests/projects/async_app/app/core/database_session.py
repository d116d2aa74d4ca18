"""One async engine (default pool) and one async_sessionmaker, made at import."""

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.core.config import get_settings

_ASYNC_ENGINE = create_async_engine(get_settings().sqlalchemy_database_uri, pool_pre_ping=True)
_ASYNC_SESSIONMAKER = async_sessionmaker(_ASYNC_ENGINE, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with _ASYNC_SESSIONMAKER() as session:
        yield session
