import asyncio
import uuid

import pytest
from app.api.deps import get_db
from app.core.config import settings
from app.models import Item
from sqlmodel import Session, select


def test_settings_point_at_the_test_database(xaio_database):
    assert xaio_database.name == settings.POSTGRES_DB


def test_create_and_read_item(xaio_client, xaio_db):
    created = xaio_client.post("/api/v1/items/", json={"title": "first"})
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    assert xaio_client.get(f"/api/v1/items/{item_id}").json()["title"] == "first"
    assert xaio_client.get("/api/v1/items/count").json() == {"count": 1}
    assert xaio_db.execute("SELECT count(*) FROM item").fetchone() == (1,)


def test_nothing_left_from_the_last_test(xaio_client, xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM item").fetchone() == (0,)
    assert xaio_client.get("/api/v1/items/count").json() == {"count": 0}


def test_the_override_yields_a_sqlmodel_session(xaio_client, xaio_app):
    override = xaio_app.dependency_overrides[get_db]  # an async generator: FastAPI runs it on its loop

    async def first_session() -> None:
        gen = override()
        session = await gen.__anext__()
        try:
            assert isinstance(session, Session)
            assert session.exec(select(Item)).all() == []
        finally:
            await gen.aclose()

    asyncio.run(first_session())


def test_me_is_the_hook_user(xaio_client, xaio_user):
    me = xaio_client.get("/api/v1/users/me")
    assert me.status_code == 200, me.text
    assert uuid.UUID(me.json()["id"]) == xaio_user.id


def test_login_with_the_hook_user(xaio_anon_client, xaio_user):
    r = xaio_anon_client.post(
        "/api/v1/login/access-token", data={"username": xaio_user.email, "password": xaio_user.password}
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert xaio_anon_client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_bad_token_is_403_and_missing_header_is_401(xaio_anon_client, xaio_token):
    assert xaio_anon_client.get("/api/v1/users/me").status_code == 401
    bad = xaio_token.headers(xaio_token.wrong_signature())
    assert xaio_anon_client.get("/api/v1/users/me", headers=bad).status_code == 403


# The login form's fields are all strings, so no "invalid type" exists for it; test_login covers it.
@pytest.mark.endpoint_matrix(exclude=["POST /api/v1/login/access-token"])
def test_endpoints(case):
    case.validate(case.call())
