import uuid

import pytest
from app.core.config import get_settings


def test_settings_point_at_the_test_database(xaio_database):
    assert get_settings().database.db == xaio_database.name


# Each run commits the same rows through the app (a unique e-mail, one pet): a row left behind by an
# earlier run on the same worker would answer 409 here, or count 2.
@pytest.mark.parametrize("n", range(3))
def test_commit_through_the_app(xaio_client, xaio_db, n):
    signup = xaio_client.post("/users", json={"email": "same@example.com", "password": "long-enough"})
    assert signup.status_code == 201, signup.text
    created = xaio_client.post("/pets", json={"name": "rex"})
    assert created.status_code == 201, created.text
    assert xaio_db.execute("SELECT count(*) FROM pet").fetchone() == (1,)


def test_nothing_left_from_the_commits(xaio_client, xaio_db):
    assert xaio_db.execute("SELECT count(*) FROM pet").fetchone() == (0,)
    assert xaio_db.execute("SELECT count(*) FROM user_account").fetchone() == (1,)  # this test's user
    assert xaio_client.get("/pets/count").json() == {"count": 0}


async def test_create_and_count_pets(xaio_async_client):
    created = await xaio_async_client.post("/pets", json={"name": "rex"})
    assert created.status_code == 201, created.text
    assert (await xaio_async_client.get("/pets/count")).json() == {"count": 1}


async def test_nothing_left_from_the_last_test(xaio_async_client):
    assert (await xaio_async_client.get("/pets/count")).json() == {"count": 0}


async def test_an_async_test_shares_the_view(xaio_async_client, xaio_db, pet_id):
    assert (await xaio_async_client.get(f"/pets/{pet_id}")).json()["name"] == "fixture pet"
    assert (await xaio_async_client.post("/pets/batch", json=["fixture pet", "tom"])).json()["kept"] == ["tom"]
    assert xaio_db.execute("SELECT name FROM pet ORDER BY name").fetchall() == [("fixture pet",), ("tom",)]


def test_rows_of_the_test_and_of_the_app_are_one_view(xaio_client, xaio_db, xaio_user, pet_id):
    me = xaio_client.get("/users/me")  # the hook's row, written through xaio_db
    assert me.status_code == 200, me.text
    assert uuid.UUID(me.json()["user_id"]) == xaio_user.user_id
    assert xaio_client.get(f"/pets/{pet_id}").json()["name"] == "fixture pet"  # the path-parameter fixture's
    xaio_db.execute("INSERT INTO pet (owner_id, name) VALUES (%s, 'by the test')", (xaio_user.user_id,))
    assert [p["name"] for p in xaio_client.get("/pets").json()] == ["by the test", "fixture pet"]
    assert xaio_client.post("/pets", json={"name": "by the app"}).status_code == 201
    rows = xaio_db.execute("SELECT name FROM pet ORDER BY name").fetchall()
    assert rows == [("by the app",), ("by the test",), ("fixture pet",)]
    assert xaio_client.delete(f"/pets/{pet_id}").status_code == 204
    assert xaio_db.execute("SELECT count(*) FROM pet WHERE id = %s", (pet_id,)).fetchone() == (0,)


def test_begin_and_begin_nested_in_the_app(xaio_client, xaio_db, pet_id):
    batch = xaio_client.post("/pets/batch", json=["a", "b", "a", "fixture pet", "c"])
    assert batch.status_code == 201, batch.text
    assert batch.json() == {"kept": ["a", "b", "c"], "skipped": ["a", "fixture pet"]}
    assert xaio_db.execute("SELECT count(*) FROM pet").fetchone() == (4,)
    first = xaio_client.post("/users", json={"email": "twice@example.com", "password": "long-enough"})
    assert first.status_code == 201, first.text
    again = xaio_client.post("/users", json={"email": "twice@example.com", "password": "long-enough"})
    assert again.status_code == 409, again.text  # session.begin() rolled back only its own block
    assert xaio_db.execute("SELECT count(*) FROM user_account WHERE email = 'twice@example.com'").fetchone() == (1,)


def test_sync_client_through_trusted_host(xaio_client):
    assert xaio_client.get("/health").status_code == 200  # the module-level pool
    assert xaio_client.get("/users/me").status_code == 200


def test_missing_header_answers_like_httpbearer(xaio_anon_client):
    # HTTPBearer answers 401 for a missing header on FastAPI >= 0.115's default, 403 before it.
    assert xaio_anon_client.get("/users/me").status_code in (401, 403)


@pytest.mark.endpoint_matrix
def test_endpoints(case):
    case.validate(case.call())


def test_the_pool_still_answers_after_the_matrix(xaio_client):
    assert xaio_client.get("/health").status_code == 200
