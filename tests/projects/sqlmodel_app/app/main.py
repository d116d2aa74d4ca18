"""The FastAPI app, built at import like the SQLModel full-stack template's."""

from fastapi import APIRouter, FastAPI

from app.api.routes import items, login, users
from app.core.config import settings

api_router = APIRouter()
api_router.include_router(login.router)
api_router.include_router(users.router)
api_router.include_router(items.router)

app = FastAPI(title=settings.PROJECT_NAME)
app.include_router(api_router, prefix="/api/v1")


@app.get("/api/v1/utils/health-check/")
def health_check() -> bool:
    return True
