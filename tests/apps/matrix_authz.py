"""A 15-route app for the matrix's authorization, edge-value and after-delete cases (tests and bench).

``correct`` has no bug. ``app`` is the same app with one planted bug of each kind the matrix finds
and open tools miss:

1. GET /api/notes/{note_id} returns another user's note (PUT and DELETE check the owner)
2. GET /api/admin/stats has no admin dependency (GET /api/admin/users has one)
3. PATCH /api/me answers 500 for ``{"email": null}`` (it writes the null into a NOT NULL column)
4. DELETE /api/tasks/{task_id} soft-deletes, and GET /api/tasks/{task_id} ignores the mark

Both carry the routes that gave false positives before: an HTML page, a form login, an
anti-enumeration route (200 for any email), and a plain-text export. ``forbidding`` is a small app
that answers 403 (not 401) for a bad token and declares it in ``responses=``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

SCHEMA = """
CREATE TABLE users (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    is_superuser boolean NOT NULL DEFAULT false,
    password text NOT NULL DEFAULT 'correct horse'
);
CREATE TABLE notes (
    id serial PRIMARY KEY,
    owner_id integer NOT NULL REFERENCES users (id),
    title text NOT NULL,
    body text NOT NULL DEFAULT ''
);
CREATE TABLE tasks (
    id serial PRIMARY KEY,
    owner_id integer NOT NULL REFERENCES users (id),
    title text NOT NULL,
    deleted_at timestamptz
);
"""

_engine = None


def get_db() -> Iterator[Session]:
    global _engine
    if _engine is None:
        _engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(_engine) as session:
        yield session


Db = Annotated[Session, Depends(get_db)]
bearer = HTTPBearer(auto_error=False)


class UserOut(BaseModel):
    id: int
    email: str
    name: str


class UserPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=80)
    email: str | None = Field(None, max_length=120)


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = ""


class NoteOut(BaseModel):
    id: int
    title: str
    body: str


class TaskOut(BaseModel):
    id: int
    title: str


def _user_from(creds: HTTPAuthorizationCredentials | None, db: Session, status: int) -> Any:
    if creds is None:
        raise HTTPException(status, "not authenticated")
    try:
        claims = jwt.decode(creds.credentials, os.environ["SECRET_KEY"], algorithms=["HS256"])
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        raise HTTPException(status, "bad token") from None
    row = db.execute(text("SELECT id, email, name, is_superuser FROM users WHERE id = :i"), {"i": user_id}).first()
    if row is None:
        raise HTTPException(status, "no such user")
    return row


def current_user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)], db: Db) -> Any:
    return _user_from(creds, db, 401)


User = Annotated[Any, Depends(current_user)]


def require_admin(user: User) -> Any:
    if not user.is_superuser:
        raise HTTPException(403, "admins only")
    return user


Admin = Annotated[Any, Depends(require_admin)]


def create_app(bugs: bool) -> FastAPI:
    app = FastAPI()
    api = APIRouter(prefix="/api")

    @app.post("/auth/login")
    def login(username: Annotated[str, Form()], password: Annotated[str, Form()], db: Db) -> dict[str, str]:
        row = db.execute(
            text("SELECT id FROM users WHERE email = :e AND password = :p"), {"e": username, "p": password}
        ).first()
        if row is None:
            raise HTTPException(401, "wrong email or password")
        token = jwt.encode({"sub": str(row.id)}, os.environ["SECRET_KEY"], algorithm="HS256")
        return {"access_token": token, "token_type": "bearer"}

    @app.get("/login", response_class=HTMLResponse)
    def login_page() -> str:
        return "<html><body><form method='post' action='/auth/login'></form></body></html>"

    @app.post("/password-recovery/{email}")
    def recover_password(email: str, db: Db) -> dict[str, str]:
        # The same answer whether the account exists or not: nobody learns which emails have one.
        db.execute(text("SELECT id FROM users WHERE email = :e"), {"e": email})
        return {"detail": "if the account exists, an email is on its way"}

    @api.get("/me", response_model=UserOut)
    def me(user: User) -> Any:
        return {"id": user.id, "email": user.email, "name": user.name}

    @api.patch("/me", response_model=UserOut)
    def update_me(patch: UserPatch, user: User, db: Db) -> Any:
        changes = patch.model_dump(exclude_unset=True) if bugs else patch.model_dump(exclude_none=True)
        for column, value in changes.items():
            db.execute(text(f"UPDATE users SET {column} = :v WHERE id = :i"), {"v": value, "i": user.id})
        db.commit()
        row = db.execute(text("SELECT id, email, name FROM users WHERE id = :i"), {"i": user.id}).one()
        return {"id": row.id, "email": row.email, "name": row.name}

    @api.get("/notes", response_model=list[NoteOut])
    def list_notes(user: User, db: Db, limit: Annotated[int, Query(ge=1, le=100)] = 20, q: str | None = None) -> Any:
        rows = db.execute(
            text("SELECT id, title, body FROM notes WHERE owner_id = :o AND title LIKE :q ORDER BY id LIMIT :l"),
            {"o": user.id, "q": f"%{q or ''}%", "l": limit},
        )
        return [dict(r._mapping) for r in rows]

    @api.post("/notes", status_code=201, response_model=NoteOut)
    def create_note(note: NoteIn, user: User, db: Db) -> Any:
        row = db.execute(
            text("INSERT INTO notes (owner_id, title, body) VALUES (:o, :t, :b) RETURNING id, title, body"),
            {"o": user.id, "t": note.title, "b": note.body},
        ).one()
        db.commit()
        return dict(row._mapping)

    def owned_note(db: Session, user: Any, note_id: int, check_owner: bool = True) -> Any:
        sql = "SELECT id, title, body FROM notes WHERE id = :i" + (" AND owner_id = :o" if check_owner else "")
        row = db.execute(text(sql), {"i": note_id, "o": user.id}).first()
        if row is None:
            raise HTTPException(404, "note not found")
        return dict(row._mapping)

    @api.get("/notes/{note_id}", response_model=NoteOut)
    def get_note(note_id: int, user: User, db: Db) -> Any:
        return owned_note(db, user, note_id, check_owner=not bugs)

    @api.put("/notes/{note_id}", response_model=NoteOut)
    def replace_note(note_id: int, note: NoteIn, user: User, db: Db) -> Any:
        owned_note(db, user, note_id)
        db.execute(
            text("UPDATE notes SET title = :t, body = :b WHERE id = :i"),
            {"t": note.title, "b": note.body, "i": note_id},
        )
        db.commit()
        return {"id": note_id, "title": note.title, "body": note.body}

    @api.delete("/notes/{note_id}", status_code=204)
    def delete_note(note_id: int, user: User, db: Db) -> None:
        owned_note(db, user, note_id)
        db.execute(text("DELETE FROM notes WHERE id = :i"), {"i": note_id})
        db.commit()

    @api.get("/notes/{note_id}/export", response_class=PlainTextResponse)
    def export_note(note_id: int, user: User, db: Db) -> str:
        note = owned_note(db, user, note_id)
        return f"{note['title']}\n\n{note['body']}\n"

    def live_task(db: Session, user: Any, task_id: int, include_deleted: bool = False) -> Any:
        sql = "SELECT id, title FROM tasks WHERE id = :i AND owner_id = :o"
        row = db.execute(
            text(sql + ("" if include_deleted else " AND deleted_at IS NULL")), {"i": task_id, "o": user.id}
        )
        found = row.first()
        if found is None:
            raise HTTPException(404, "task not found")
        return dict(found._mapping)

    @api.get("/tasks/{task_id}", response_model=TaskOut)
    def get_task(task_id: int, user: User, db: Db) -> Any:
        return live_task(db, user, task_id, include_deleted=bugs)

    @api.delete("/tasks/{task_id}", status_code=204)
    def delete_task(task_id: int, user: User, db: Db) -> None:
        live_task(db, user, task_id)
        db.execute(text("UPDATE tasks SET deleted_at = now() WHERE id = :i"), {"i": task_id})
        db.commit()

    @api.get("/admin/users", response_model=list[UserOut])
    def all_users(admin: Admin, db: Db) -> Any:
        return [dict(r._mapping) for r in db.execute(text("SELECT id, email, name FROM users ORDER BY id"))]

    if bugs:

        @api.get("/admin/stats")
        def stats_unguarded(user: User, db: Db) -> dict[str, int]:
            return {"users": db.execute(text("SELECT count(*) FROM users")).scalar_one()}
    else:

        @api.get("/admin/stats")
        def stats(admin: Admin, db: Db) -> dict[str, int]:
            return {"users": db.execute(text("SELECT count(*) FROM users")).scalar_one()}

    app.include_router(api)
    return app


app = create_app(bugs=True)
correct = create_app(bugs=False)


# --- an app that answers 403 for a bad token, and says so in responses= ----------------------------
def forbidding_user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)], db: Db) -> Any:
    return _user_from(creds, db, 403)


forbidding = FastAPI()
_strict = APIRouter(prefix="/strict", responses={403: {"description": "missing or bad token"}})


@_strict.get("/whoami", response_model=UserOut)
def whoami(user: Annotated[Any, Depends(forbidding_user)]) -> Any:
    return {"id": user.id, "email": user.email, "name": user.name}


forbidding.include_router(_strict)
