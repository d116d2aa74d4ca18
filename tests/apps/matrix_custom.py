"""An app that answers invalid input with 400 (a custom validation handler), authenticates with
OAuth2 bearer tokens and one API-key route, and keeps its items in memory.

Covers: uuid path ids, two body params (embedded), a list body, a required header, Literal query
values, a public login route and an app-level prefix-less router.
"""

from __future__ import annotations

import os
import uuid
from typing import Annotated, Literal

import jwt
from fastapi import APIRouter, Body, Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from pydantic import BaseModel, Field

KNOWN_ITEM = uuid.UUID("00000000-0000-4000-8000-000000000001")
API_KEY = "matrix-api-key"

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/login")
api_key = APIKeyHeader(name="X-API-Key")


def current_user(token: Annotated[str, Depends(oauth2)]) -> str:
    try:
        return str(jwt.decode(token, os.environ["SECRET_KEY"], algorithms=["HS256"])["sub"])
    except jwt.PyJWTError:
        raise HTTPException(401, "bad token", headers={"WWW-Authenticate": "Bearer"}) from None


def service(key: Annotated[str, Depends(api_key)]) -> str:
    if key != API_KEY:
        raise HTTPException(401, "bad key")
    return "service"


class Login(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9.]+$")
    password: str = Field(min_length=8)


class Item(BaseModel):
    title: str
    price: float = Field(gt=0)
    currency: Literal["EUR", "USD"]


class Meta(BaseModel):
    note: str | None = None


items: dict[uuid.UUID, Item] = {KNOWN_ITEM: Item(title="known", price=1.0, currency="EUR")}

router = APIRouter(prefix="/v1", dependencies=[Depends(current_user)])


@router.put("/items/{item_id}")
async def replace_item(item_id: uuid.UUID, item: Item, meta: Annotated[Meta, Body()]) -> Item:
    if item_id not in items:
        raise HTTPException(404, "no such item")
    return item


@router.get("/items")
def list_items(x_tenant: Annotated[str, Header()], order: Literal["asc", "desc"] = "asc") -> list[Item]:
    return sorted(items.values(), key=lambda i: i.title, reverse=order == "desc")


@router.post("/tags", status_code=201)
def add_tags(tags: list[str]) -> dict[str, int]:
    return {"added": len(tags)}


app = FastAPI()


@app.exception_handler(RequestValidationError)
async def validation_as_400(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": "invalid request"}, status_code=400)


@app.post("/auth/login")
def login(body: Login) -> dict[str, str]:
    return {"access_token": "x", "token_type": "bearer"}


@app.get("/service/keys")
def service_keys(who: Annotated[str, Depends(service)]) -> dict[str, str]:
    return {"who": who}


app.include_router(router)
