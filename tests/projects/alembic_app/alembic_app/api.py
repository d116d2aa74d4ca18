from collections.abc import Iterator

from fastapi import Depends, FastAPI

from alembic_app import config


def get_session() -> Iterator[str]:
    yield f"postgresql://{config.POSTGRES_USER}@{config.POSTGRES_SERVER}:{config.POSTGRES_PORT}/{config.POSTGRES_DB}"


api = FastAPI()


@api.get("/orders")
def orders(session: str = Depends(get_session)) -> list[str]:
    return []
