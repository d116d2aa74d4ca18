"""FastAPI's per-request rebuild of the dependency tree, remembered while overrides are set
(pytest_xaio.dependants), and the one override function per dependency that makes it pay off
(pytest_xaio.app_db): requests still get the override in force, and the app's errors still reach
the test's session, which rolls back what the request did not commit."""

from __future__ import annotations

from typing import Annotated, Any

import fastapi.dependencies.utils as fastapi_utils
import pytest
from app_projects import CLIENT_INI, copy_app
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from pytest_xaio.dependants import remember_dependants
from pytest_xaio.patching import Patcher


def _name() -> str:
    return "the app's own"


def _user(name: Annotated[str, Depends(_name)]) -> str:
    return name


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    def who(user: Annotated[str, Depends(_user)]) -> dict[str, str]:
        return {"user": user}

    @app.get("/also")
    def also(user: Annotated[str, Depends(_user)]) -> dict[str, str]:
        return {"user": user}

    return app


def test_rebuilds_are_remembered_and_every_override_still_applies() -> None:
    built: list[Any] = []
    real = fastapi_utils.get_dependant

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs.get("call"))
        return real(*args, **kwargs)

    with Patcher() as counter:
        counter.setattr(fastapi_utils, "get_dependant", counting)
        app = _app()
        client = TestClient(app)
        with Patcher() as patcher:
            assert remember_dependants(patcher)
            assert remember_dependants(patcher)  # a second session in the same process: already there
            app.dependency_overrides[_name] = lambda: "first"
            built.clear()
            assert client.get("/who").json() == {"user": "first"}
            assert built, "the first request with an override builds the tree"
            built.clear()
            for _ in range(3):
                assert client.get("/who").json() == {"user": "first"}
            assert built == [], "later requests reuse what was built"
            app.dependency_overrides[_name] = lambda: "second"  # a new override is used at once
            assert client.get("/who").json() == {"user": "second"}
            assert client.get("/also").json() == {"user": "second"}
            app.dependency_overrides.clear()
            assert client.get("/who").json() == {"user": "the app's own"}

            # Routes built while it is in force get dependants of their own (FastAPI changes them).
            extra = FastAPI()
            for path in ("/a", "/b"):
                extra.get(path)(lambda user=Depends(_user): {"user": user})  # noqa: B008
            first, second = (route.dependant for route in extra.routes[-2:])  # type: ignore[attr-defined]
            assert first.dependencies[0] is not second.dependencies[0]
        assert fastapi_utils.get_dependant is counting, "undoing the patch puts FastAPI back"


def test_held_entries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """An override made anew per test (a lambda) adds an entry each time; the oldest ones go."""
    import pytest_xaio.dependants as dependants

    monkeypatch.setattr(dependants, "MAX_ENTRIES", 4)
    app = _app()
    client = TestClient(app)
    with Patcher() as patcher:
        remember_dependants(patcher)
        for n in range(10):
            app.dependency_overrides[_name] = lambda n=n: f"user {n}"
            assert client.get("/who").json() == {"user": f"user {n}"}
        remembering = fastapi_utils.get_dependant
        closure = [cell.cell_contents for cell in remembering.__closure__ or ()]
        cache = next(held for held in closure if isinstance(held, dict))
        assert len(cache) == 4


SESSION_PER_TEST = """
import client_app


def test_commit_and_rejected_write(xaio_client, xaio_anon_client, xaio_db):
    assert xaio_client.post("/items", json={"name": "kept"}).json() == {"count": 1}
    # The app raises after an insert it never committed: the error reaches the test's session,
    # whose close rolls the insert back.
    assert xaio_client.post("/items/rejected", json={"name": "dropped"}).status_code == 409
    assert xaio_client.get("/items").json() == ["kept"]
    # Two clients of one app in one test: the second's override ends first, the first's still works.
    assert xaio_anon_client.get("/items").json() == ["kept"]
    assert xaio_client.get("/items").json() == ["kept"]
    assert xaio_db.execute("SELECT name FROM items").fetchall() == [("kept",)]


def test_the_next_test_has_its_own_database(xaio_client, xaio_app):
    assert xaio_client.get("/items").json() == []
    assert xaio_app.dependency_overrides[client_app.get_db].__name__ == "dependency"


def test_after_the_clients(xaio_app):
    assert xaio_app.dependency_overrides == {}
"""


@pytest.mark.parametrize("isolation", ["transaction", "clone"])
def test_one_override_serves_each_test_its_own_database(pytester: pytest.Pytester, isolation: str) -> None:
    project = copy_app(pytester, "client", CLIENT_INI)
    project.makepyfile(SESSION_PER_TEST)
    project.runpytest("-p", "no:randomly", "--xaio-isolation", isolation).assert_outcomes(passed=3)
