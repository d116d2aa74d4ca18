"""The endpoint matrix's pytest side: expanding a marked test into cases, and the ``case`` fixture.

Nothing heavy is imported at module level: the app and FastAPI are only touched when a test carries
``@pytest.mark.endpoint_matrix``.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from pytest_xaio.config import get_settings
from pytest_xaio.errors import config_error
from pytest_xaio.markers import MatrixMarker, marker_options
from pytest_xaio.runtime import session_object

if TYPE_CHECKING:
    from pytest_xaio.matrix.cases import CaseSpec
    from pytest_xaio.matrix.routes import RouteInfo
    from pytest_xaio.matrix.runner import Case

__all__ = [
    "case",
    "keyword_for_ids",
    "matrix_cases",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_pyfunc_call",
    "pytest_runtest_setup",
    "pytest_runtest_teardown",
]

# The routes read from each app this session (by the marker's app= spec; None is xaio_app), with
# the lines naming what the matrix does not cover (websockets, mounts that are not FastAPI apps).
_routes_key = pytest.StashKey[dict[str | None, tuple[list["RouteInfo"], list[str]]]]()
# "POST /api/projects" is two words to pytest's -k grammar (an error), and braces are not allowed in
# its words; users mean "all of these", as one term ("not POST /api/x" is "not (POST and /api/x)").
_METHOD_THEN_PATH = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE)\s+(/[^\s()]*)", re.IGNORECASE)
_WITH_BRACES = re.compile(r"[^\s()]*[{}][^\s()]*")


def keyword_for_ids(expression: str) -> str:
    """``-k`` as users write it for matrix ids, in pytest's grammar (unchanged when nothing applies)."""
    expression = _METHOD_THEN_PATH.sub(r"(\1 and \2)", expression)
    return _WITH_BRACES.sub(
        lambda m: "(" + " and ".join(part for part in re.split(r"[{}]", m.group(0)) if part) + ")", expression
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Summary(config), "xaio-matrix-summary")
    keyword = getattr(config.option, "keyword", "")
    if keyword:
        config.option.keyword = keyword_for_ids(keyword)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("endpoint_matrix") is None:
        return
    try:
        if "case" not in metafunc.fixturenames:
            config_error(
                f"{metafunc.definition.nodeid} has @pytest.mark.endpoint_matrix but no `case` argument",
                "write it as def test_endpoints(case): case.validate(case.call())",
            )
        options: MatrixMarker = marker_options(metafunc.definition, "endpoint_matrix")
        specs = matrix_cases(metafunc.config, options)
    except pytest.UsageError as exc:
        # A collection error made of the message alone: no traceback through pytest's and plugins' hooks.
        raise pytest.Collector.CollectError(str(exc)) from None
    params = [pytest.param(spec, id=spec.id) for spec in specs]
    metafunc.parametrize("case", params, indirect=True)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    """A project fixture named ``case`` hides the matrix's own; say so instead of failing oddly later."""
    if pyfuncitem.get_closest_marker("endpoint_matrix") is None or "case" not in pyfuncitem.funcargs:
        return
    from pytest_xaio.matrix.runner import Case

    value = pyfuncitem.funcargs["case"]
    if not isinstance(value, Case):
        pytest.fail(
            f"the `case` argument of this @pytest.mark.endpoint_matrix test is a {type(value).__name__} from "
            "a fixture of yours named `case` (conftest.py or the test module), which replaces the matrix's "
            "`case` fixture; rename your fixture (e.g. `example_case`) so the matrix can hand out its cases",
            pytrace=False,
        )


def matrix_cases(config: pytest.Config, options: MatrixMarker) -> list[CaseSpec]:
    """The cases a marked test expands into (routes read once per session and app)."""
    from pytest_xaio.matrix.cases import Expectations, build_cases

    settings = get_settings(config).matrix
    routes, notes = _routes(config, options.app)
    if settings.admin_dependencies and not settings.admin_attrs:
        config_error(
            "xaio_admin_dependencies is set but xaio_admin_attrs is empty, so the matrix cannot make an admin",
            "add the attributes of an admin user for xaio_user_factory, e.g. xaio_admin_attrs = is_superuser = true",
        )
    from pytest_xaio.matrix.authz import admin_attrs

    admin_attrs(config)  # a bad line is an error at collection, not in every admin case
    specs = build_cases(
        routes,
        expectations=Expectations.from_settings(settings.validation_status, settings.expected_status, options.expect),
        include=options.include,
        exclude=options.exclude,
        public=(*settings.public_routes, *options.public),
        statuses=options.statuses,
        seed=options.seed,
        admin_identity=bool(settings.admin_attrs),
        examples=settings.matrix_examples if options.examples is None else options.examples,
        app=options.app,
        notes=tuple(notes),
    )
    if not specs:
        _no_cases(config, options, routes, notes)
    # What running the cases imports, imported now with the rest of the matrix, not in the first case.
    import pytest_xaio.matrix.clients
    import pytest_xaio.matrix.runner  # noqa: F401

    return specs


def _no_cases(config: pytest.Config, options: MatrixMarker, routes: list[RouteInfo], notes: list[str]) -> NoReturn:
    """Zero cases would be one "empty parameter set" skip that says nothing: name the app and the fix."""
    spec = options.app or get_settings(config).app.app or "xaio_app"
    if not routes:
        found = "; ".join(notes) if notes else "its route table is empty"
        config_error(
            f"the endpoint matrix found no HTTP routes to test in the app {spec!r} ({found})",
            "point xaio_app (or endpoint_matrix(app=...)) at the app that has your API routes, "
            "register them before the app is imported (include_router), or remove @pytest.mark.endpoint_matrix",
        )
    chosen = ", ".join(
        f"{name}={list(value)!r}"
        for name, value in (("include", options.include), ("exclude", options.exclude), ("statuses", options.statuses))
        if value
    )
    config_error(
        f"endpoint_matrix({chosen}) leaves no case of the {len(routes)} routes of the app {spec!r}",
        "check the patterns against the routes (pytest --collect-only -q without them lists every case), "
        "e.g. include=['/api/*'] or include=['GET /health']",
    )


def _routes(config: pytest.Config, app_spec: str | None) -> tuple[list[RouteInfo], list[str]]:
    from pytest_xaio.matrix.routes import read_app, resolve_callable

    cache = session_object(config, _routes_key, lambda _runtime: {})
    if app_spec not in cache:
        app = load_matrix_app(config, app_spec)
        matrix = get_settings(config).matrix
        extra = [resolve_callable(dep, "xaio_auth_dependencies entry") for dep in matrix.auth_dependencies]
        admin = [resolve_callable(dep, "xaio_admin_dependencies entry") for dep in matrix.admin_dependencies]
        cache[app_spec] = read_app(app, extra, admin)
    return cache[app_spec]


def load_matrix_app(config: pytest.Config, app_spec: str | None) -> Any:
    """The app under test, through ``pytest_xaio.app.load_app`` (env exported first)."""
    from pytest_xaio.app import load_app

    return load_app(config, app_spec)


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Case:
    """One endpoint-matrix case; only tests marked ``@pytest.mark.endpoint_matrix`` get it.

    Example::

        @pytest.mark.endpoint_matrix(public=["POST /api/auth/login", "GET /health"])
        def test_endpoints(case):
            response = case.call()
            case.validate(response)
    """
    from pytest_xaio.matrix.runner import Case
    from pytest_xaio.matrix.summary import PROPERTY

    spec = getattr(request, "param", None)
    if spec is None:
        pytest.fail(
            "the `case` fixture comes from @pytest.mark.endpoint_matrix; mark the test with it",
            pytrace=False,
        )
    # For the end-of-run table (a plain dict, so xdist carries it to the controller).
    entry = {"id": spec.id, "route": spec.route.key, "name": spec.name, "not_covered": list(spec.notes)}
    request.node.user_properties.append((PROPERTY, entry))
    return Case(spec, request)


# --- one xaio_user row for a run of consecutive cases ----------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture: an autouse fixture of the project may open the database first.
    if isinstance(item, pytest.Function) and "case" in item.fixturenames and _group(item) is not None:
        _share_user(item)


def _share_user(node: pytest.Item) -> None:
    """The consecutive cases of one matrix test share one ``xaio_user`` row: made once by
    ``pytest_xaio_create_user`` before the first case's savepoint, each case rolled back to just after
    it (postgres/isolation.py, ``HeldRows``; transaction isolation only, elsewhere each case makes its
    own). The row is the same as the one each case made before; what a case writes, to it or to any
    other row, is gone before the next case."""
    if not node.ihook.pytest_xaio_create_user.get_hookimpls():
        return  # no hook, no row: xaio_user is a plain object
    from pytest_xaio.postgres.factories import held_rows_key
    from pytest_xaio.postgres.isolation import HeldRows

    node.stash[held_rows_key] = HeldRows(str(_group(node)), lambda connection: _make_user(node, connection))


def _make_user(node: pytest.Item, connection: Any) -> Any:
    """What ``xaio_user`` (no attributes) is: the project's hook's user, as ``xaio_user_factory`` makes it."""
    from pytest_xaio.auth import default_user
    from pytest_xaio.errors import exit_on_config_error

    with exit_on_config_error():
        user = node.ihook.pytest_xaio_create_user(db=connection, attrs={})
        return default_user() if user is None else user


def _group(item: pytest.Item) -> str | None:
    """The matrix test an item is a case of (its node id without the case), None for other items."""
    if item.get_closest_marker("endpoint_matrix") is None:
        return None
    return item.nodeid.split("[", 1)[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Tell a case's database whether the next item is a case of the same test (then the shared user
    row stays); when it is not, end the run after the teardown (a full rollback)."""
    __tracebackhide__ = True  # plumbing: a teardown error's traceback shows the test's own frames
    held = None
    if "pytest_xaio.postgres.isolation" in sys.modules:  # nothing can be held before it is imported
        from pytest_xaio.postgres.factories import held_rows_key

        held = item.stash.get(held_rows_key, None)
        if held is not None:
            held.continues = nextitem is not None and _group(nextitem) == held.group
    try:
        return (yield)
    finally:
        if held is None or not held.continues:
            isolation = sys.modules.get("pytest_xaio.postgres.isolation")
            if isolation is not None:
                isolation.release_held_rows()


# --- the end-of-run route x case-kind table -----------------------------------------------------
class _Summary:
    """Registered per config: collects the matrix cases' reports, prints the table at the end."""

    def __init__(self, config: pytest.Config) -> None:
        from pytest_xaio.matrix.summary import MatrixReport

        self.config = config
        self.report = MatrixReport()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.report.add(report)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or not self.report.cases:
            return
        terminalreporter.write_sep("-", "endpoint matrix")
        for line in self.report.lines():
            terminalreporter.write_line(line)
        path = get_settings(self.config).matrix.matrix_report
        if path:
            self.report.write(path)
            terminalreporter.write_line(f"endpoint matrix report written to {path}")
