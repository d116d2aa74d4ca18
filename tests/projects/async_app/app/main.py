"""The app, with TrustedHostMiddleware fed from SECURITY__ALLOWED_HOSTS."""

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from app.api.routes import router
from app.core.config import get_settings

app = FastAPI(title="async-app")
app.include_router(router)
app.add_middleware(TrustedHostMiddleware, allowed_hosts=get_settings().security.allowed_hosts)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
