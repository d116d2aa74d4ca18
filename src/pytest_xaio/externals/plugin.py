"""pytest hooks and fixtures for the outside world: the network guard and the Stripe, Brevo and GitHub fakes.

Externals are on for a test when ``xaio_mock_externals`` is set, the test has
``@pytest.mark.xaio_externals``, or it asks for a fake (``stripe_fake``, ``brevo_fake``,
``github_fake``, ``xaio_externals``). Then, for that test only, every HTTP library's transport is
hooked and the socket guard is up; afterwards all of it is undone. Off, nothing is patched.
A live Stripe key in the environment is refused either way.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xaio.config import get_settings
from pytest_xaio.errors import config_error, exit_on_config_error
from pytest_xaio.externals.guard import Externals, find_live_key, live_key_in_config, live_key_message
from pytest_xaio.markers import has_marker, use_fixture_first
from pytest_xaio.patching import Patcher
from pytest_xaio.resolve import resolve_object
from pytest_xaio.runtime import session_object

if TYPE_CHECKING:  # the fakes and the socket guard are imported when a test switches externals on
    from pytest_xaio.externals.brevo import BrevoFake
    from pytest_xaio.externals.github import GithubFake
    from pytest_xaio.externals.netguard import TestOwner
    from pytest_xaio.externals.stripe_fake import StripeFake

FAKE_FIXTURES = ("xaio_externals", "stripe_fake", "brevo_fake", "github_fake")
_FAKES = frozenset(FAKE_FIXTURES)


@dataclass
class ExternalsSession:
    """What one test switched on: the switchboard, the three fakes and the hooks to undo."""

    externals: Externals
    stripe: StripeFake
    brevo: BrevoFake
    github: GithubFake
    patcher: Patcher
    hooked: list[str]
    owner: TestOwner


@dataclass
class LateRefusals:
    """Refusals of threads whose test had already ended; reported against that test (see netguard)."""

    pending: list[tuple[TestOwner, str]] = field(default_factory=list)

    def add(self, owner: TestOwner, message: str) -> None:
        self.pending.append((owner, message))  # list.append is atomic: any thread may call this

    def report(self, running: pytest.Item) -> list[str]:
        """Report each pending refusal as a teardown error of the test that started the thread; called
        from the main thread while ``running`` runs. An xdist worker reports only on the running test,
        so there the refusals are returned to fail it, each naming the test that started the thread."""
        config = running.config
        late = []
        while self.pending:  # pop one by one: the refusing thread may append meanwhile
            late.append(self.pending.pop(0))
        if hasattr(config, "workerinput"):
            return [
                f"{message}\n  (reported on {running.nodeid}: under xdist only the running test can fail)"
                for _, message in late
            ]
        for owner, message in late:
            report = pytest.TestReport(
                nodeid=owner.nodeid,
                location=owner.location,
                keywords={},
                outcome="failed",
                longrepr=message,
                when="teardown",
            )
            config.hook.pytest_runtest_logreport(report=report)
        return []


_session_key = pytest.StashKey[ExternalsSession]()
_late_key = pytest.StashKey[LateRefusals]()


def _late(config: pytest.Config) -> LateRefusals:
    return session_object(config, _late_key, lambda _runtime: LateRefusals())


def _own_hosts(config: pytest.Config) -> list[str]:
    """The hosts of the plugin's own Postgres and Redis URLs: the app may look their names up."""
    from urllib.parse import urlsplit

    settings = get_settings(config)
    hosts = []
    for url in (settings.postgres.postgres_url, settings.redis.redis_url):
        try:
            hosts.append(urlsplit(url or "").hostname or "")
        except ValueError:  # a broken URL is the URL check's to report
            continue
    return [h for h in hosts if h]


def pytest_configure(config: pytest.Config) -> None:
    for line in get_settings(config).postgres.env:
        if find_live_key(line):
            name = line.partition("=")[0].strip()
            config_error(
                live_key_message(f"the xaio_env line for {name}"),
                f"put a test key (sk_test_…) in xaio_env's {name} line",
            )


def resolve_attr(spec: str, what: str, rootdir: str | None = None) -> str | None:
    """``package.module:attr.sub`` → the value as text (a pydantic ``SecretStr`` unwrapped)."""
    value = resolve_object(spec, setting=what, rootdir=rootdir)
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr
        value = value.get_secret_value()
    if isinstance(value, bytes):
        value = value.decode()
    if value is not None and not isinstance(value, str):
        # str() of a function or a settings object would sign every event with the wrong secret.
        config_error(
            f"{what} '{spec}' names {type(value).__name__!r}, not the secret's text",
            "name the attribute that holds the secret (whsec_...); a getter is called with (), "
            "e.g. app.config:get_settings().stripe_webhook_secret",
        )
    return value


def _activate(item: pytest.Item) -> ExternalsSession:
    config = item.config
    settings = get_settings(config).externals

    def stripe_secret() -> str | None:
        if settings.stripe_webhook_secret:
            return settings.stripe_webhook_secret
        if settings.stripe_webhook_secret_from:
            from pytest_xaio.env import export_env

            with exit_on_config_error():
                export_env(config)
                return resolve_attr(
                    settings.stripe_webhook_secret_from, "xaio_stripe_webhook_secret_from", str(config.rootpath)
                )
        return None

    _register_phases(config)
    from pytest_xaio.externals.brevo import BREVO_HOSTS, BrevoFake
    from pytest_xaio.externals.github import GITHUB_HOSTS, GithubFake
    from pytest_xaio.externals.stripe_fake import STRIPE_HOSTS, StripeFake

    externals = Externals(settings.allow_hosts)
    stripe = StripeFake(stripe_secret)
    brevo = BrevoFake()
    github = GithubFake(settings.github_webhook_secret)
    for hosts, fake in ((STRIPE_HOSTS, stripe), (BREVO_HOSTS, brevo), (GITHUB_HOSTS, github)):
        for host in hosts:
            externals.add_fake(host, fake)
    from pytest_xaio.externals.netguard import SocketGuard, TestOwner
    from pytest_xaio.externals.transports import install_all

    owner = TestOwner(item.nodeid, item.location, externals, _late(config).add)
    patcher = Patcher()

    try:
        hooked = install_all(externals, patcher)
        SocketGuard(owner, _own_hosts(config)).install(patcher)
    except BaseException:
        patcher.undo()
        raise
    return ExternalsSession(externals, stripe, brevo, github, patcher, hooked, owner)


def _item_wants(item: pytest.Item, mock_all: bool) -> bool:
    if mock_all or has_marker(item, "xaio_externals"):
        return True
    return not _FAKES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Switch externals on for the tests that want them (``xaio_mock_externals``, the marker, a fake),
    instead of an autouse fixture every test pays for; the phase checks are registered only if one does."""
    mock_all = get_settings(config).externals.mock_externals
    wanted = False
    for item in items:
        if _item_wants(item, mock_all):
            use_fixture_first(item, "_xaio_externals_switch")
            wanted = True
    if wanted:
        _register_phases(config)


def _wanted(request: pytest.FixtureRequest) -> bool:
    if get_settings(request.config).externals.mock_externals:
        return True
    if request.node.get_closest_marker("xaio_externals") is not None:
        return True
    return any(name in request.fixturenames for name in FAKE_FIXTURES)


def _refuse_live_key_in_config() -> None:
    where = live_key_in_config()
    if where is not None:
        with exit_on_config_error():
            config_error(live_key_message(where), "use a Stripe test key (sk_test_…) when running the tests")


@pytest.fixture
def _xaio_externals_switch(request: pytest.FixtureRequest) -> Iterator[ExternalsSession | None]:
    if not _wanted(request):
        # A suite that never uses the fakes nor the externals flag is not the plugin's to stop.
        yield None
        return
    _refuse_live_key_in_config()
    session = _activate(request.node)
    request.node.stash[_session_key] = session
    try:
        yield session
    finally:
        session.patcher.undo()
    _refuse_live_key_in_config()


def _session(request: pytest.FixtureRequest, switch: ExternalsSession | None) -> ExternalsSession:
    if switch is not None:
        return switch
    existing: ExternalsSession | None = request.node.stash.get(_session_key, None)
    if existing is not None:
        return existing
    # asked for through request.getfixturevalue(), after the autouse switch decided "off"
    session = _activate(request.node)
    request.node.stash[_session_key] = session
    request.node.addfinalizer(session.patcher.undo)
    return session


@pytest.fixture
def xaio_externals(request: pytest.FixtureRequest, _xaio_externals_switch: ExternalsSession | None) -> Externals:
    """The switchboard of the test's outbound HTTP: add a fake for another host, allow a host,
    read every faked request (``.requests``) and every blocked one (``.blocked``).

    Example::

        def test_forecast(xaio_externals, xaio_client):
            xaio_externals.add_fake("api.weather.example", {"GET /v1/today": {"temp": 21}})
            assert xaio_client.get("/api/forecast").json() == {"temp": 21}
    """
    return _session(request, _xaio_externals_switch).externals


@pytest.fixture
def stripe_fake(request: pytest.FixtureRequest, _xaio_externals_switch: ExternalsSession | None) -> StripeFake:
    """An in-process, stateful Stripe that the app's real ``stripe`` SDK talks to, plus signed webhooks.

    Example::

        def test_checkout(stripe_fake, xaio_client):
            assert xaio_client.post("/api/billing/checkout", json={"plan": "pro"}).status_code == 200
            assert stripe_fake.checkout_sessions[0]["mode"] == "subscription"

        def test_card_declined(stripe_fake, xaio_client):
            stripe_fake.fail_next("card_declined")
            assert xaio_client.post("/api/billing/pay").status_code == 402

        def test_webhook(stripe_fake, xaio_anon_client):
            event = stripe_fake.event("payment_intent.succeeded", data={"customer": "cus_1"})
            assert stripe_fake.send(xaio_anon_client, event).status_code == 200
            assert stripe_fake.send(xaio_anon_client, event.tampered()).status_code == 400
    """
    return _session(request, _xaio_externals_switch).stripe


@pytest.fixture
def brevo_fake(request: pytest.FixtureRequest, _xaio_externals_switch: ExternalsSession | None) -> BrevoFake:
    """Brevo's transactional email and contacts API; every email the app sends lands in ``outbox``.

    Example::

        def test_welcome_email(brevo_fake, xaio_client):
            xaio_client.post("/api/waitlist", json={"email": "ada@example.com"})
            (mail,) = brevo_fake.outbox
            assert mail.to == ["ada@example.com"] and mail.template_id == 7
    """
    return _session(request, _xaio_externals_switch).brevo


@pytest.fixture
def github_fake(request: pytest.FixtureRequest, _xaio_externals_switch: ExternalsSession | None) -> GithubFake:
    """GitHub's REST API (repos, issues, hooks), the OAuth token exchange and signed webhooks.

    Example::

        def test_connect(github_fake, xaio_client):
            github_fake.add_repo("ada/engine")
            code = github_fake.authorize()
            response = xaio_client.post("/api/github/connect", json={"code": code, "repo": "ada/engine"})
            assert response.status_code == 200 and github_fake.hooks["ada/engine"]
    """
    return _session(request, _xaio_externals_switch).github


def _new_problems(item: pytest.Item, before: int) -> list[str]:
    session = item.stash.get(_session_key, None)
    if session is None:
        return []
    problems = session.externals.live_key_errors + session.externals.blocked
    return problems[before:]


def _count(item: pytest.Item) -> int:
    session = item.stash.get(_session_key, None)
    return 0 if session is None else len(session.externals.live_key_errors) + len(session.externals.blocked)


def _phase(item: pytest.Item) -> Generator[None, Any, Any]:
    """Fail with the guard's message when a request was refused, even if the app swallowed the error;
    report refusals of threads an earlier test left running against that test."""
    before = _count(item)
    try:
        result = yield
    except BaseException:
        problems = _late(item.config).report(item) + _new_problems(item, before)
        if not problems:
            raise
    else:
        problems = _late(item.config).report(item) + _new_problems(item, before)
        if not problems:
            return result
    # outside the except block, so the report is the one message and not the app's traceback too
    pytest.fail("\n".join(dict.fromkeys(problems)), pytrace=False)


class _ExternalsPhases:
    """Setup, call and teardown checks of the tests that use externals; registered at collection
    when a test wants them (or when a test first asks for a fake), so other runs have no such hooks."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from _phase(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        session = item.stash.get(_session_key, None)
        if session is None:
            return (yield from _phase(item))
        from pytest_xaio.externals.netguard import tag_threads

        with Patcher() as patcher:  # threads the test's body starts belong to the test
            tag_threads(session.owner, patcher)
            return (yield from _phase(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        return (yield from _phase(item))


_PHASES_PLUGIN = "xaio-externals-phases"


def _register_phases(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(_PHASES_PLUGIN):
        config.pluginmanager.register(_ExternalsPhases(), _PHASES_PLUGIN)
