"""The app under test and its HTTP clients, authenticated with real signed JWTs.

Every client runs the app's lifespan and, when ``xaio_db_dependency`` is set, points the app's DB
session dependency at the test's database, so what the app writes is rolled back with the test.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import pytest

from pytest_xaio.app import ASGIApp, lifespan, load_app, open_async_client, open_client
from pytest_xaio.app_db import override_db_dependency
from pytest_xaio.auth import TokenFactory, User, default_user, default_user_id, token_factory
from pytest_xaio.config import get_settings
from pytest_xaio.errors import exit_on_config_error
from pytest_xaio.loop import app_loop

if TYPE_CHECKING:
    import httpx
    from starlette.testclient import TestClient

__all__ = [
    "UserFactory",
    "client_fixture",
    "lifespan",
    "open_async_client",
    "open_client",
    "override_db_dependency",
    "shared_user",
    "xaio_anon_client",
    "xaio_app",
    "xaio_async_client",
    "xaio_auth_headers",
    "xaio_client",
    "xaio_token",
    "xaio_user",
    "xaio_user_factory",
]


class UserFactory:
    """Makes users through the project's ``pytest_xaio_create_user`` hook (see ``xaio_user_factory``)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    @property
    def makes_rows(self) -> bool:
        """True when a conftest implements ``pytest_xaio_create_user`` for this test."""
        return bool(self._request.node.ihook.pytest_xaio_create_user.get_hookimpls())

    def __call__(self, **attrs: Any) -> User:
        if not self.makes_rows:
            node, names = self._request.node, self._request.fixturenames
            mock = node.get_closest_marker("xaio_mock_db") is not None or "xaio_db_mock" in names
            user_id = default_user_id(self._request.config, read_schema=not mock)  # a mock-DB test opens nothing
            return cast(User, default_user(**{"id": user_id, **attrs}))
        db = self._request.getfixturevalue("xaio_db")
        user = self._request.node.ihook.pytest_xaio_create_user(db=db, attrs=dict(attrs))
        return cast(User, default_user(**attrs) if user is None else user)


# --- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def xaio_app(pytestconfig: pytest.Config) -> ASGIApp:
    """The app named by ``xaio_app``, imported once per session after the test env is exported.

    Example::

        def test_routes(xaio_app):
            assert any(route.path == "/health" for route in xaio_app.routes)
    """
    with exit_on_config_error():
        return load_app(pytestconfig)


@pytest.fixture
def xaio_user_factory(request: pytest.FixtureRequest) -> UserFactory:
    """Make users with attributes; rows come from your ``pytest_xaio_create_user(db, attrs)`` hook.

    With no hook implemented, every user is a plain object with ``id == "xaio-test-user"`` and no row
    (a UUID made from that name when the app's user table has uuid keys).

    Example::

        def test_admin_sees_all(xaio_user_factory, xaio_token, xaio_anon_client):
            admin = xaio_user_factory(is_superuser=True)
            r = xaio_anon_client.get("/api/admin", headers=xaio_token.headers(xaio_token.for_user(admin)))
            assert r.status_code == 200
    """
    return UserFactory(request)


@pytest.fixture
def xaio_user(request: pytest.FixtureRequest, xaio_user_factory: UserFactory) -> User:
    """The user ``xaio_client`` is logged in as; parametrize it indirectly with attributes.

    Example::

        @pytest.mark.parametrize("xaio_user", [{"plan": "free"}, {"plan": "pro"}], indirect=True)
        def test_plans(xaio_client, xaio_user):
            assert xaio_client.get("/api/me").json()["plan"] == xaio_user.plan
    """
    attrs = getattr(request, "param", None) or {}
    if not attrs:
        held = shared_user(request)
        if held is not None:
            return cast(User, held)
    with exit_on_config_error():
        return xaio_user_factory(**dict(attrs))


def shared_user(request: pytest.FixtureRequest) -> Any:
    """The user row a run of endpoint-matrix cases shares (made before each case's savepoint), which
    is this test's ``xaio_user`` when it takes no attributes; None outside such a run."""
    from pytest_xaio.postgres.factories import held_rows_key

    if held_rows_key not in request.node.stash:
        return None
    return getattr(request.getfixturevalue("xaio_database"), "held", None)


@pytest.fixture(scope="session")
def _xaio_token_factory(pytestconfig: pytest.Config) -> TokenFactory:
    """The session's token factory (keys made and the app's secret read once), bound to no user."""
    with exit_on_config_error():
        return token_factory(pytestconfig)


@pytest.fixture
def xaio_token(_xaio_token_factory: TokenFactory, xaio_user: User) -> TokenFactory:
    """Mint JWTs for ``xaio_user`` (or any user), valid or broken in one specific way.

    Example::

        def test_expired_token(xaio_anon_client, xaio_token):
            for token in (xaio_token.expired(), xaio_token.alg_none(), xaio_token.wrong_signature()):
                assert xaio_anon_client.get("/api/me", headers=xaio_token.headers(token)).status_code == 401
    """
    return _xaio_token_factory.bind(xaio_user)


@pytest.fixture
def xaio_auth_headers(xaio_token: TokenFactory) -> Callable[..., dict[str, str]]:
    """``xaio_auth_headers(token=None)`` → ``{"Authorization": "Bearer …"}`` (default: xaio_user's token).

    Example::

        def test_with_requests_style(xaio_anon_client, xaio_auth_headers):
            assert xaio_anon_client.get("/api/me", headers=xaio_auth_headers()).status_code == 200
    """

    def headers(token: str | None = None) -> dict[str, str]:
        with exit_on_config_error():
            return xaio_token.headers(token)

    return headers


@pytest.fixture
def xaio_client(request: pytest.FixtureRequest, xaio_app: ASGIApp, xaio_token: TokenFactory) -> Iterator[TestClient]:
    """A sync ``TestClient`` logged in as ``xaio_user`` (``Authorization: Bearer <signed JWT>``).

    Lifespan events run; the app's DB dependency (``xaio_db_dependency``) joins the test's
    transaction. ``xaio_client.xaio_user`` is the user. Per-request ``headers=`` replace the token.

    Example::

        def test_create_project(xaio_client):
            r = xaio_client.post("/api/projects", json={"name": "demo"})
            assert r.status_code == 201
    """
    with exit_on_config_error():
        headers = xaio_token.headers()
    yield from _sync_client(request, xaio_app, xaio_token, headers)


@pytest.fixture
def xaio_anon_client(request: pytest.FixtureRequest, xaio_app: ASGIApp) -> Iterator[TestClient]:
    """``xaio_client`` without the ``Authorization`` header.

    Example::

        def test_me_needs_login(xaio_anon_client):
            assert xaio_anon_client.get("/api/me").status_code == 401
    """
    yield from _sync_client(request, xaio_app, None, {})


async def _open_async_client(
    request: pytest.FixtureRequest, xaio_app: ASGIApp, xaio_token: TokenFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """The body of ``xaio_async_client``, run by whichever async plugin runs the test."""
    with exit_on_config_error():
        headers = xaio_token.headers()
    with override_db_dependency(request, xaio_app):
        async with open_async_client(
            xaio_app,
            headers=headers,
            loop=app_loop(request.config),
            base_url=get_settings(request.config).app.base_url,
        ) as client:
            setattr(client, "xaio_user", xaio_token.user)  # noqa: B010 (read as client.xaio_user)
            yield client


@pytest.fixture
def xaio_async_client(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    """An ``AsyncClient`` (httpx2 when installed, else httpx) for async tests, logged in as ``xaio_user``.

    Works with pytest-asyncio (strict and auto mode, any ``loop_scope``) and anyio. Lifespan events
    and requests run on the session's app loop, whatever loop the test runs on; the DB dependency is
    overridden as for ``xaio_client``.

    Example::

        @pytest.mark.asyncio          # or @pytest.mark.anyio
        async def test_me(xaio_async_client):
            r = await xaio_async_client.get("/api/me")
            assert r.status_code == 200
    """
    client: httpx.AsyncClient = request.getfixturevalue(_async_body_for(request, "xaio_async_client"))
    return client


# This fixture is itself synchronous, so no async plugin has to adopt it. It hands the async body
# to the plugin that runs the test, each in that plugin's documented way: anyio runs plain async
# fixtures of tests that use ``anyio_backend``; pytest-asyncio runs fixtures declared with
# ``pytest_asyncio.fixture``, one per loop scope so client and test share one loop.
_LOOP_SCOPES = ("function", "class", "module", "package", "session")
_ANYIO_BODY = "_xaio_async_client_anyio"
_xaio_async_client_anyio = pytest.fixture(_open_async_client, name=_ANYIO_BODY)


def _asyncio_body(loop_scope: str) -> Any:
    import pytest_asyncio

    async def body(
        request: pytest.FixtureRequest, xaio_app: ASGIApp, xaio_token: TokenFactory
    ) -> AsyncIterator[httpx.AsyncClient]:
        async for client in _open_async_client(request, xaio_app, xaio_token):
            yield client

    return pytest_asyncio.fixture(body, loop_scope=loop_scope, name=f"_xaio_async_client_asyncio_{loop_scope}")  # type: ignore[call-overload]


try:
    import pytest_asyncio  # noqa: F401  (a pytest plugin: loaded already wherever it is installed)
except ImportError:
    _HAVE_PYTEST_ASYNCIO = False
else:
    _HAVE_PYTEST_ASYNCIO = True
    for _scope in _LOOP_SCOPES:
        globals()[f"_xaio_async_client_asyncio_{_scope}"] = _asyncio_body(_scope)


def _async_body_for(request: pytest.FixtureRequest, name: str) -> str:
    test = getattr(request.node, "function", None)
    if test is not None and not inspect.iscoroutinefunction(test):
        pytest.fail(
            f"{name} is for async tests: mark the test @pytest.mark.asyncio (pytest-asyncio) "
            "or @pytest.mark.anyio and make it async def; a sync test uses xaio_client",
            pytrace=False,
        )
    if "anyio_backend" in request.fixturenames:
        return _ANYIO_BODY
    if not _HAVE_PYTEST_ASYNCIO:
        pytest.fail(
            f"{name} needs an async test runner: pip install pytest-asyncio, or mark the test @pytest.mark.anyio",
            pytrace=False,
        )
    return f"_xaio_async_client_asyncio_{_test_loop_scope(request) or 'function'}"


def _sync_client(
    request: pytest.FixtureRequest,
    app: ASGIApp,
    token: TokenFactory | None,
    headers: Mapping[str, str],
    raise_server_exceptions: bool = True,
) -> Iterator[TestClient]:
    with (
        override_db_dependency(request, app),
        open_client(
            app,
            headers=headers,
            raise_server_exceptions=raise_server_exceptions,
            loop=app_loop(request.config),
            base_url=get_settings(request.config).app.base_url,
        ) as client,
    ):
        setattr(client, "xaio_user", token.user if token is not None else None)  # noqa: B010
        yield client


def client_fixture(
    *,
    user_attrs: Mapping[str, Any] | None = None,
    app: str | None = None,
    authenticated: bool = True,
    raise_server_exceptions: bool = True,
    headers: Mapping[str, str] | None = None,
    asynchronous: bool = False,
) -> Any:
    """Make a client fixture of your own: another user, another app, no auth, extra headers, async.

    Assign the result to a name in ``conftest.py``; the name is the fixture's name::

        from pytest_xaio.client import client_fixture

        admin_client = client_fixture(user_attrs={"is_superuser": True})
        admin_app_client = client_fixture(app="admin.main:create_app()")
        async_admin_client = client_fixture(user_attrs={"is_superuser": True}, asynchronous=True)

    The client's user is ``client.xaio_user``.
    """

    def setup(request: pytest.FixtureRequest) -> tuple[ASGIApp, TokenFactory | None, dict[str, str]]:
        with exit_on_config_error():
            the_app = load_app(request.config, app)
            token = (
                token_factory(request.config, UserFactory(request)(**dict(user_attrs or {}))) if authenticated else None
            )
            all_headers = {**(headers or {}), **(token.headers() if token is not None else {})}
        return the_app, token, all_headers

    def sync_fixture(request: pytest.FixtureRequest) -> Iterator[TestClient]:
        the_app, token, all_headers = setup(request)
        yield from _sync_client(request, the_app, token, all_headers, raise_server_exceptions)

    async def async_fixture(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
        the_app, token, all_headers = setup(request)
        with override_db_dependency(request, the_app):
            async with open_async_client(
                the_app,
                headers=all_headers,
                raise_server_exceptions=raise_server_exceptions,
                loop=app_loop(request.config),
                base_url=get_settings(request.config).app.base_url,
            ) as client:
                setattr(client, "xaio_user", token.user if token is not None else None)  # noqa: B010
                yield client

    if asynchronous:
        # Declared the supported way: a pytest-asyncio fixture (function loop) when pytest-asyncio is
        # installed, else a plain async fixture, which anyio runs for tests that use anyio_backend.
        if _HAVE_PYTEST_ASYNCIO:
            import pytest_asyncio

            return pytest_asyncio.fixture(async_fixture)
        return pytest.fixture(async_fixture)
    return pytest.fixture(sync_fixture)


# --- hooks ------------------------------------------------------------------------------------------
def pytest_sessionstart(session: pytest.Session) -> None:
    """With an app configured, export its environment before test modules are collected, so a test
    module that imports the app at the top (``from myapp.main import app``) sees the test database."""
    config = session.config
    if not get_settings(config).app.app or _is_xdist_controller(config):
        return
    from pytest_xaio.app import prepare_env

    prepare_env(config)


def _is_xdist_controller(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput"):
        return False
    return bool(getattr(config.option, "numprocesses", None)) or getattr(config.option, "dist", "no") != "no"


# --- async fixture plumbing -------------------------------------------------------------------------
def _test_loop_scope(request: pytest.FixtureRequest) -> str | None:
    marker = request.node.get_closest_marker("asyncio")
    scope = marker.kwargs.get("loop_scope") if marker is not None else None
    if scope:
        return str(scope)
    try:
        return str(request.config.getini("asyncio_default_test_loop_scope") or "") or None
    except ValueError:
        return None
