"""An app authenticated by API keys (in a header, the query, a cookie) and HTTP Basic, for the
matrix's non-bearer auth cases (tests/test_matrix_keys.py).

``app`` checks every credential. ``buggy`` has two planted bugs: GET /header/reports takes any
key (it only checks one is there) and GET /basic/reports takes any password for the right user.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.security import APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBasic, HTTPBasicCredentials

API_KEY = "matrix-keys-0123456789"
USER, PASSWORD = "ops", "correct horse"

header_key = APIKeyHeader(name="X-API-Key")
query_key = APIKeyQuery(name="api_key")
cookie_key = APIKeyCookie(name="session_key")
basic = HTTPBasic()


def _same(given: str, wanted: str) -> bool:
    return secrets.compare_digest(given.encode(), wanted.encode())


def _key_ok(key: str) -> None:
    if not _same(key, API_KEY):
        raise HTTPException(401, "bad key")


def _basic_ok(credentials: HTTPBasicCredentials, *, check_password: bool = True) -> None:
    good = _same(credentials.username, USER) and (not check_password or _same(credentials.password, PASSWORD))
    if not good:
        raise HTTPException(401, "bad credentials", headers={"WWW-Authenticate": "Basic"})


def make(*, bugs: bool) -> FastAPI:
    router = APIRouter()

    @router.get("/header/reports")
    def header_reports(key: Annotated[str, Depends(header_key)]) -> list[str]:
        if not bugs:
            _key_ok(key)
        return ["weekly"]

    @router.get("/query/reports")
    def query_reports(key: Annotated[str, Depends(query_key)]) -> list[str]:
        _key_ok(key)
        return ["weekly"]

    @router.get("/cookie/reports")
    def cookie_reports(key: Annotated[str, Depends(cookie_key)]) -> list[str]:
        _key_ok(key)
        return ["weekly"]

    @router.get("/basic/reports")
    def basic_reports(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> list[str]:
        _basic_ok(credentials, check_password=not bugs)
        return ["weekly"]

    @router.get("/basic/reports/{report_id}")
    def basic_report(report_id: int, credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> dict[str, int]:
        _basic_ok(credentials)
        if report_id != 1:
            raise HTTPException(404, "no such report")
        return {"id": report_id}

    made = FastAPI()
    made.include_router(router)
    return made


app = make(bugs=False)
buggy = make(bugs=True)
