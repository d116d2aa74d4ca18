"""A small, correct FastAPI app for the endpoint matrix's tests: every case it generates passes.

Sync and async routes, a router with a prefix, path/query/body params, enums, nested models,
201/204 routes and a public route; data lives in PostgreSQL (table ``projects``).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

# Its table is matrix_expected.SCHEMA.

_engine = None


def get_db() -> Iterator[Session]:
    global _engine
    if _engine is None:
        _engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(_engine) as session:
        yield session


bearer = HTTPBearer(auto_error=False)


def get_current_user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    if creds is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not authenticated")
    try:
        claims = jwt.decode(creds.credentials, os.environ["SECRET_KEY"], algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"bad token: {exc}") from None
    return str(claims["sub"])


class Kind(str, enum.Enum):
    web = "web"
    worker = "worker"


class Settings(BaseModel):
    retries: int = Field(ge=0, le=5)
    region: str = "eu"


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    kind: Kind
    settings: Settings


class ProjectOut(BaseModel):
    id: int
    name: str
    kind: Kind


User = Annotated[str, Depends(get_current_user)]
Db = Annotated[Session, Depends(get_db)]

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectOut)
async def create_project(body: ProjectIn, user: User, db: Db) -> ProjectOut:
    row = db.execute(
        text("INSERT INTO projects (owner, name, kind, retries) VALUES (:o, :n, :k, :r) RETURNING id"),
        {"o": user, "n": body.name, "k": body.kind.value, "r": body.settings.retries},
    ).one()
    db.commit()
    return ProjectOut(id=row.id, name=body.name, kind=body.kind)


@router.get("", response_model=list[ProjectOut])
def list_projects(
    user: User, db: Db, limit: int = Query(10, ge=1, le=100), kind: Kind | None = None
) -> list[ProjectOut]:
    sql = "SELECT id, name, kind FROM projects WHERE owner = :o"
    if kind is not None:
        sql += " AND kind = :k"
    rows = db.execute(text(sql + " ORDER BY id LIMIT :l"), {"o": user, "k": kind and kind.value, "l": limit})
    return [ProjectOut(id=r.id, name=r.name, kind=Kind(r.kind)) for r in rows]


def _project(db: Session, user: str, project_id: int) -> ProjectOut:
    row = db.execute(
        text("SELECT id, name, kind FROM projects WHERE id = :i AND owner = :o"), {"i": project_id, "o": user}
    ).first()
    if row is None:
        raise HTTPException(404, "project not found")
    return ProjectOut(id=row.id, name=row.name, kind=Kind(row.kind))


@router.get("/{project_id}", response_model=ProjectOut)
async def get_project(project_id: int, user: User, db: Db) -> ProjectOut:
    return _project(db, user, project_id)


@router.delete("/{project_id}", status_code=204)
def delete_project(project_id: int, user: User, db: Db) -> None:
    _project(db, user, project_id)
    db.execute(text("DELETE FROM projects WHERE id = :i"), {"i": project_id})
    db.commit()


api = APIRouter(prefix="/api")
api.include_router(router)

app = FastAPI()
app.include_router(api)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
