"""Apps of shapes the endpoint matrix used to skip misleadingly or pass over in silence
(tests/test_bad_inputs.py, tests/test_matrix_inputs.py).

``app``: an enum path parameter, a file upload (with a form field), a mounted FastAPI sub-app whose
route writes through the same DB dependency (a second write of the same key is a 500 unless each
case is rolled back), a mounted plain Starlette app and a websocket route. ``empty`` has no routes;
``sockets_only`` has nothing but a websocket.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from enum import Enum
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, HTTPException, UploadFile, WebSocket
from pydantic import BaseModel
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

SCHEMA = "CREATE TABLE once (k integer PRIMARY KEY, label text);\n"

_engine = None


def get_db() -> Iterator[Session]:
    global _engine
    if _engine is None:
        _engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(_engine) as session:
        yield session


class Color(str, Enum):
    red = "red"
    green = "green"


class Entry(BaseModel):
    label: str | None = None


app = FastAPI()


@app.get("/colors/{color}")
def color(color: Color) -> dict[str, str]:
    return {"color": color.value}


@app.post("/avatars", status_code=201)
async def upload(file: UploadFile, title: Annotated[str, Form()]) -> dict[str, str | int]:
    content = await file.read()
    if not content:
        raise HTTPException(400, "the file is empty")
    return {"title": title, "size": len(content), "name": file.filename or ""}


@app.post("/attachments", status_code=201)
def attach(data: Annotated[bytes, File()]) -> dict[str, int]:
    return {"size": len(data)}


sub = FastAPI()


@sub.post("/once", status_code=201)
def once(entry: Entry, db: Annotated[Session, Depends(get_db)]) -> dict[str, str]:
    # k = 1 a second time is a UniqueViolation (a 500): only the test's rollback avoids it.
    db.execute(text("INSERT INTO once (k, label) VALUES (1, :l)"), {"l": entry.label})
    db.commit()
    return {"status": "stored"}


app.mount("/sub", sub)


def _ping(request: Request) -> PlainTextResponse:
    return PlainTextResponse("pong")


app.mount("/legacy", Starlette(routes=[Route("/ping", _ping)]))


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


empty = FastAPI()

sockets_only = FastAPI()
sockets_only.add_api_websocket_route("/ws", echo)
