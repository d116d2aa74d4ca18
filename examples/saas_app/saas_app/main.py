"""The ASGI app: ``uvicorn saas_app.main:app``."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from saas_app.routers import auth, billing, github, health, projects, waitlist

__all__ = ["app", "create_app"]


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Our API contract (and our mobile client) treats every invalid request as 400 Bad Request. The
    # offending input is not echoed back: it can be huge, or not even encodable as UTF-8.
    errors = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
    return JSONResponse(status_code=status.HTTP_400_BAD_REQUEST, content={"detail": jsonable_encoder(errors)})


def create_app() -> FastAPI:
    app = FastAPI(title="SaaS App", version="0.1.0")
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    for module in (health, auth, projects, waitlist, billing, github):
        app.include_router(module.router)
    return app


app = create_app()
