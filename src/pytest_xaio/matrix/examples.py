"""The ``-examples`` case: N valid requests drawn by Hypothesis from the route's models.

Each request runs in its own savepoint, rolled back before the next (in transaction isolation), so
one drawn request cannot make the next fail or pass. A 5xx, an exception, or a 2xx that breaks the
response model fails the case; Hypothesis shrinks the request first, and the failure prints it as a
line to paste into a test. Settings come from the loaded Hypothesis profile, so ``xaio-ci``
(derandomized) draws the same requests on every run.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_xaio.matrix.bodies import Generator
from pytest_xaio.matrix.edges import strategy_for
from pytest_xaio.matrix.report import describe_failure
from pytest_xaio.matrix.responses import check_body, status_ok
from pytest_xaio.matrix.wire import snippet, where

# The runner's Case (typed Any: the runner imports this module, not the other way round).
Case = Any

__all__ = ["run_examples"]


class _Found(Exception):
    """A drawn request the app got wrong (raised inside Hypothesis so it shrinks it)."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


def _strategies(case: Case) -> Any:
    from hypothesis import strategies as st

    route = case.route
    body_strategy: Any = st.none()
    if route.body is not None:
        form = route.body.encoding != "json"
        gen = Generator(route.body.defs, case.seed, route.key)
        body_strategy = strategy_for(gen, route.body.schema, form=form).filter(lambda v: not route.body.validate(v))
    required: dict[str, Any] = {}
    optional: dict[str, Any] = {}
    for param in route.params_in("query"):
        drawn = strategy_for(Generator(param.defs, case.seed, param.name), param.schema)
        checked = drawn.filter(lambda v, p=param: v is not None and p.validate(v))
        (required if param.required else optional)[param.name] = checked
    return st.tuples(body_strategy, st.fixed_dictionaries(required, optional=optional))


def run_examples(case: Case, client: Any, request_kwargs: dict[str, Any]) -> Any:
    """Send ``case.spec.examples`` drawn requests; fail on the first (shrunk) one the app gets wrong."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable

    spec = case.spec
    route = spec.route
    connection = _savepoint_connection(case)
    last: list[Any] = []

    @settings(
        max_examples=spec.examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=_strategies(case))
    def draw(drawn: tuple[Any, dict[str, Any]]) -> None:
        body, query = drawn
        client_, url, kwargs = case.prepare(spec, client, request_kwargs, body=body if route.body else None)
        kwargs["params"] = {**(kwargs.get("params") or {}), **query} or None
        if connection is not None:
            connection.execute("SAVEPOINT xaio_example")
        try:
            response = case.send(client_, route.method, url, kwargs, report=False)
        finally:
            if connection is not None:
                connection.execute("ROLLBACK TO SAVEPOINT xaio_example")
                connection.execute("RELEASE SAVEPOINT xaio_example")
        problem = _judge(case, response)
        if problem is not None:
            what, status, detail = problem
            raise _Found(
                describe_failure(
                    case_id=case.id,
                    what=what,
                    problem=detail,
                    expected=spec.expected,
                    status=status,
                    request=case._sent,
                    response=None if isinstance(response, Exception) else response,
                    hint="shrunk by Hypothesis; to reproduce:\n    "
                    + snippet(route.method, url, kwargs, spec.identity),
                    extra_secret_headers=case._secret_names(),
                )
            )
        last[:] = [response]

    try:
        draw()
    except _Found as found:
        pytest.fail(found.report, pytrace=False)
    except Unsatisfiable:
        pytest.skip(f"Hypothesis could not draw a valid request for {route.key} from its models")
    return last[0] if last else None


def _judge(case: Case, response: Any) -> tuple[str, str, str | None] | None:
    """``(what, status, problem)`` when the app got a drawn request wrong."""
    if isinstance(response, Exception):
        text = f"an exception ({type(response).__name__}: {response})"
        return f"case {case.name}", text, f"{text}{where(response)}"
    status = int(response.status_code)
    if not status_ok(case.expected, status):
        return f"case {case.name}", str(status), None
    body_problem = check_body(case.route.response, case.route.response_field, response)
    if body_problem is not None:
        return body_problem[0], str(status), body_problem[1]
    return None


def _savepoint_connection(case: Case) -> Any:
    """The test's psycopg connection when the app's session joins it (transaction isolation), else None."""
    from pytest_xaio.config import get_settings

    if not get_settings(case.request.config).postgres.db_dependency:
        return None  # the app does not write to the test's database: nothing to roll back
    try:
        database = case.request.getfixturevalue("xaio_database")
    except pytest.FixtureLookupError:
        return None
    return database.connection if getattr(database, "isolation", None) == "transaction" else None
