"""The app, with TrustedHostMiddleware fed from SECURITY__ALLOWED_HOSTS."""

from fastapi import FastAPI
from sqlalchemy import text
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app.api.routes import router
from app.core.config import get_settings
from app.core.database_session import _ASYNC_ENGINE

app = FastAPI(title="async-app")
app.include_router(router)
app.add_middleware(TrustedHostMiddleware, allowed_hosts=get_settings().security.allowed_hosts)


@app.get("/health")
async def health() -> dict[str, str]:
    async with _ASYNC_ENGINE.connect() as connection:  # the module-level pool, not a request session
        await connection.execute(text("SELECT 1"))
    return {"status": "ok"}
