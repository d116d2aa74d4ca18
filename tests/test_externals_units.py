"""The small pure pieces of the externals package: form decoding, host patterns, route tables."""

from __future__ import annotations

import pytest

from pytest_xaio.externals import FakeRequest, FakeResponse, RouteTable
from pytest_xaio.externals.guard import HostPatterns, find_live_key, is_local_host
from pytest_xaio.externals.http import decode_form


def test_stripe_style_forms_decode_to_nested_values() -> None:
    raw = "email=a%40b.c&metadata[user_id]=7&items[0][price]=price_1&items[0][quantity]=2&expand[]=x&expand[]=y"
    assert decode_form(raw) == {
        "email": "a@b.c",
        "metadata": {"user_id": "7"},
        "items": [{"price": "price_1", "quantity": "2"}],
        "expand": ["x", "y"],
    }


@pytest.mark.parametrize(
    ("host", "port", "allowed"),
    [
        ("search.internal", 443, True),
        ("a.b.internal", 80, True),
        ("internal", 80, False),
        ("pay.example", 8443, True),
        ("pay.example", 443, False),
        ("other.example", 443, False),
    ],
)
def test_allow_host_patterns(host: str, port: int, allowed: bool) -> None:
    assert HostPatterns(["*.internal", "pay.example:8443"]).matches(host, port) is allowed


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.4.5.6", "::1", "[::1]", "app.localhost", "0.0.0.0"])
def test_local_hosts(host: str) -> None:
    assert is_local_host(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "localhost.example.com", "203.0.113.9"])
def test_non_local_hosts(host: str) -> None:
    assert not is_local_host(host)


def test_live_keys_are_recognised() -> None:
    assert find_live_key("Bearer sk_live_51Habc")
    assert find_live_key("rk_live_1234abcd")
    assert not find_live_key("Bearer sk_test_51Habc")
    assert not find_live_key(None)


def test_route_table_answers_and_names_itself_on_a_miss() -> None:
    table = RouteTable(
        {
            "GET /v1/items/{item_id}": lambda request, item_id: {"id": item_id},
            "POST /v1/items": lambda request: (201, request.json()),
            "/v1/ping": "pong",
            "DELETE /v1/items/{item_id}": FakeResponse(204),
        },
        name="the items fake",
    )
    get = table.handle(FakeRequest("GET", "https://items.example/v1/items/42"))
    assert (get.status, get.body) == (200, b'{"id": "42"}')
    post = table.handle(FakeRequest("POST", "https://items.example/v1/items", body=b'{"n": 1}'))
    assert (post.status, post.body) == (201, b'{"n": 1}')
    assert table.handle(FakeRequest("PUT", "https://items.example/v1/ping")).body == b"pong"
    assert table.handle(FakeRequest("DELETE", "https://items.example/v1/items/1")).status == 204
    miss = table.handle(FakeRequest("GET", "https://items.example/v2/nothing"))
    assert miss.status == 404
    assert b"no route for GET /v2/nothing in the items fake" in miss.body
    assert len(table.requests) == 5


def test_allow_host_for_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        def test_allowed(xaio_externals):
            xaio_externals.allow_host("*.allowed.invalid")
            with pytest.raises(requests.ConnectionError):  # never resolves: nothing leaves the machine
                requests.get("http://api.allowed.invalid/", timeout=2)

        def test_not_allowed_in_the_next_test(xaio_externals):
            requests.get("http://api.allowed.invalid/", timeout=2)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["pytest-xaio blocked an outbound request: GET http://api.allowed.invalid/"])


def test_a_fake_asked_for_late_switches_externals_on(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx, pytest

        def test_late(request):
            before = httpx.HTTPTransport.__dict__["handle_request"]
            fake = request.getfixturevalue("stripe_fake")
            assert httpx.HTTPTransport.__dict__["handle_request"] is not before
            response = httpx.get("https://api.stripe.com/v1/customers", headers={"Authorization": "Bearer sk_test_1"})
            assert response.json()["object"] == "list" and len(fake.requests) == 1

        def test_after(request):
            import httpx
            assert httpx.HTTPTransport.__dict__["handle_request"].__module__ == "httpx._transports.default"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_the_socket_guard_lets_the_plugins_own_hosts_be_looked_up_and_stops_when_undone() -> None:
    import socket

    from pytest_xaio.externals.guard import BlockedRequestError, Externals
    from pytest_xaio.externals.netguard import SocketGuard, TestOwner
    from pytest_xaio.patching import Patcher

    late: list[str] = []
    externals = Externals()
    owner = TestOwner("test_x.py::test_x", ("test_x.py", 0, "test_x"), externals, lambda _o, m: late.append(m))
    # .invalid names never resolve: an allowed lookup ends in the resolver's own error, not the guard's
    with Patcher() as patcher:
        SocketGuard(owner, own_hosts=["redis.invalid"]).install(patcher)
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("redis.invalid", 6379)
        with pytest.raises(BlockedRequestError, match=r"blocked a name lookup of 'other\.invalid'"):
            socket.getaddrinfo("other.invalid", 443)
    assert len(externals.blocked) == 1
    assert late == []
    with pytest.raises(socket.gaierror):  # undone: the lookup is the resolver's again
        socket.getaddrinfo("other.invalid", 443)
