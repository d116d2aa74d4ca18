"""A project's own respx routes work next to the fakes, under the network guard."""

from __future__ import annotations

import pytest

pytest.importorskip("respx")

RESPX_TESTS = """
import httpx
import pytest
import respx
import stripe


def test_respx_route_beside_the_stripe_fake(respx_mock, stripe_fake, xaio_externals):
    respx_mock.get("https://api.weather.example/today").respond(200, json={"sky": "clear"})
    assert httpx.get("https://api.weather.example/today").json() == {"sky": "clear"}
    stripe.api_key = "sk_test_respx"
    customer = stripe.Customer.create(email="a@example.com")
    assert customer.email == "a@example.com"
    assert xaio_externals.blocked == []


async def test_respx_route_async(respx_mock):
    respx_mock.post("https://hooks.partner.example/in").respond(204)
    async with httpx.AsyncClient() as client:
        assert (await client.post("https://hooks.partner.example/in", json={})).status_code == 204


def test_unrouted_host_is_still_refused_inside_respx(respx_mock):
    respx_mock.get("https://api.weather.example/today").respond(200)
    with pytest.raises(Exception, match="not mocked"):
        httpx.get("https://api.elsewhere.example/")


def test_pass_through_meets_the_socket_guard(respx_mock):
    respx_mock.get("https://203.0.113.7/live").pass_through()
    httpx.get("https://203.0.113.7/live")
"""


def test_respx_routes_are_honoured_under_the_guard(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nxaio_mock_externals = true\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_respx=RESPX_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_pass_through_meets_the_socket_guard FAILED*",
            "*pytest-xaio blocked a socket connection to 203.0.113.7:443*",
        ]
    )
