"""The benchmark's 10-route app (bench/bench_matrix.py). With MATRIX_BENCH_BUGS=1 it carries five
planted bugs, so the bench can count what each tool finds:

1. POST /api/projects/{project_id}/publish has no auth dependency
2. GET /api/projects/{project_id} answers 200 for an id that does not exist
3. POST /api/waitlist crashes on a valid body (500)
4. GET /api/me accepts an expired token
5. PATCH /api/projects/{project_id} accepts any token, even alg=none
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from matrix_app import Db, Kind, ProjectIn, ProjectOut, get_db  # noqa: F401  (get_db: the DB dependency)
from pydantic import BaseModel, Field
from sqlalchemy import text

BUGS = os.environ.get("MATRIX_BENCH_BUGS") == "1"
bearer = HTTPBearer(auto_error=False)


def _user(creds: HTTPAuthorizationCredentials | None, *, verify_exp: bool = True, verify: bool = True) -> str:
    if creds is None:
        raise HTTPException(401, "not authenticated")
    try:
        if verify:
            claims = jwt.decode(
                creds.credentials, os.environ["SECRET_KEY"], algorithms=["HS256"], options={"verify_exp": verify_exp}
            )
        else:
            claims = jwt.decode(creds.credentials, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise HTTPException(401, "bad token") from None
    return str(claims["sub"])


def current_user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    return _user(creds)


def me_user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    return _user(creds, verify_exp=not BUGS)


def patch_user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    return _user(creds, verify=not BUGS)


User = Annotated[str, Depends(current_user)]


class ProjectPatch(BaseModel):
    name: str = Field(min_length=1, max_length=40)


class WaitlistIn(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=200)
    source: Kind


def _find(db: Any, user: str, project_id: int) -> Any:
    return db.execute(
        text("SELECT id, name, kind FROM projects WHERE id = :i AND owner = :o"), {"i": project_id, "o": user}
    ).first()


def _owned(db: Any, user: str, project_id: int) -> Any:
    row = _find(db, user, project_id)
    if row is None:
        raise HTTPException(404, "project not found")
    return row


router = APIRouter(prefix="/api")


@router.post("/projects", status_code=201, response_model=ProjectOut)
async def create_project(body: ProjectIn, user: User, db: Db) -> ProjectOut:
    row = db.execute(
        text("INSERT INTO projects (owner, name, kind) VALUES (:o, :n, :k) RETURNING id"),
        {"o": user, "n": body.name, "k": body.kind.value},
    ).one()
    return ProjectOut(id=row.id, name=body.name, kind=body.kind)


@router.get("/projects", response_model=list[ProjectOut])
def list_projects(user: User, db: Db, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[ProjectOut]:
    rows = db.execute(
        text("SELECT id, name, kind FROM projects WHERE owner = :o ORDER BY id LIMIT :l"), {"o": user, "l": limit}
    )
    return [ProjectOut(id=r.id, name=r.name, kind=Kind(r.kind)) for r in rows]


@router.get("/projects/{project_id}", response_model=ProjectOut | None)
def get_project(project_id: int, user: User, db: Db) -> ProjectOut | None:
    row = _find(db, user, project_id) if BUGS else _owned(db, user, project_id)
    return None if row is None else ProjectOut(id=row.id, name=row.name, kind=Kind(row.kind))


@router.patch("/projects/{project_id}", response_model=ProjectOut)
def rename_project(
    project_id: int, body: ProjectPatch, user: Annotated[str, Depends(patch_user)], db: Db
) -> ProjectOut:
    row = _owned(db, user, project_id)
    db.execute(text("UPDATE projects SET name = :n WHERE id = :i"), {"n": body.name, "i": project_id})
    return ProjectOut(id=row.id, name=body.name, kind=Kind(row.kind))


@router.delete("/projects/{project_id}", status_code=204)
def delete_project(project_id: int, user: User, db: Db) -> None:
    _owned(db, user, project_id)
    db.execute(text("DELETE FROM projects WHERE id = :i"), {"i": project_id})


if BUGS:

    @router.post("/projects/{project_id}/publish")
    def publish_project(project_id: int, db: Db) -> dict[str, Any]:
        row = db.execute(text("SELECT id FROM projects WHERE id = :i"), {"i": project_id}).first()
        if row is None:
            raise HTTPException(404, "project not found")
        return {"id": row.id, "published": True}
else:

    @router.post("/projects/{project_id}/publish")
    def publish_project(project_id: int, user: User, db: Db) -> dict[str, Any]:
        row = _owned(db, user, project_id)
        return {"id": row.id, "published": True}


@router.get("/me")
def me(user: Annotated[str, Depends(me_user)]) -> dict[str, str]:
    return {"id": user}


@router.post("/waitlist", status_code=201)
def join_waitlist(body: WaitlistIn, db: Db) -> dict[str, str]:
    if BUGS:
        body.email.split("@")[2]  # IndexError on every valid address
    return {"email": body.email, "status": "pending"}


@router.get("/waitlist")
def waitlist(user: User, db: Db) -> list[dict[str, str]]:
    return []


app = FastAPI()
app.include_router(router)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
