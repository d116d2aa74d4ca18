"""The matrix app with planted bugs; each must show up as a failing case.

- GET /api/projects/{project_id}/summary forgot its auth dependency   -> 401-unprotected-route
- GET /api/projects/{project_id} answers 200 for an id that is not there -> 404-missing-resource
- POST /api/projects crashes on a valid body                          -> 201-success
- GET /api/me does not check the expiry                               -> 401-expired-token
- GET /api/admin/stats does not check the signature at all            -> expired, wrong signature, alg=none
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from matrix_app import Db, ProjectIn, ProjectOut, User, get_db  # noqa: F401  (get_db: the DB dependency)
from sqlalchemy import text

bearer = HTTPBearer()


def user_ignoring_expiry(creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    try:
        claims = jwt.decode(
            creds.credentials, os.environ["SECRET_KEY"], algorithms=["HS256"], options={"verify_exp": False}
        )
    except jwt.PyJWTError:
        raise HTTPException(401, "bad token") from None
    return str(claims["sub"])


def user_trusting_any_token(creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    try:
        claims = jwt.decode(creds.credentials, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise HTTPException(401, "bad token") from None
    return str(claims["sub"])


router = APIRouter(prefix="/api")


@router.post("/projects", status_code=201, response_model=ProjectOut)
def create_project(body: ProjectIn, user: User, db: Db) -> ProjectOut:
    average = body.settings.retries / (len(body.name) - len(body.name))  # ZeroDivisionError on every body
    return ProjectOut(id=int(average), name=body.name, kind=body.kind)


@router.get("/projects/{project_id}")
def get_project(project_id: int, user: User, db: Db) -> Any:
    row = db.execute(text("SELECT id, name, kind FROM projects WHERE id = :i"), {"i": project_id}).first()
    return None if row is None else {"id": row.id, "name": row.name, "kind": row.kind}


@router.get("/projects/{project_id}/summary")
def project_summary(project_id: int, db: Db) -> dict[str, Any]:
    row = db.execute(text("SELECT id, name FROM projects WHERE id = :i"), {"i": project_id}).first()
    if row is None:
        raise HTTPException(404, "project not found")
    return {"id": row.id, "name": row.name}


@router.get("/me")
def me(user: Annotated[str, Depends(user_ignoring_expiry)]) -> dict[str, str]:
    return {"id": user}


@router.get("/admin/stats")
def stats(user: Annotated[str, Depends(user_trusting_any_token)]) -> dict[str, int]:
    return {"projects": 0}


app = FastAPI()
app.include_router(router)
