"""The network guard: with externals on, every HTTP client is answered by a fake or refused with one
message; with them off, nothing is patched; a live Stripe key in xaio_env or a request is refused (one in the
environment: tests/test_safety.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"
#: httpx2 (2.x) needs Python 3.11+: its cases run wherever it installs.
HAS_HTTPX2 = importlib.util.find_spec("httpx2") is not None
SYNC_LIBS = ["requests", "urllib3", "httpx", *(["httpx2"] if HAS_HTTPX2 else []), "urllib"]
ASYNC_LIBS = ["httpx-async", *(["httpx2-async"] if HAS_HTTPX2 else []), "aiohttp"]
ALL_LIBS = SYNC_LIBS + ASYNC_LIBS
LOCAL_LIBS = ["requests", "httpx", "httpx2-async" if HAS_HTTPX2 else "httpx-async", "aiohttp", "urllib"]


def _app(pytester: pytest.Pytester, name: str) -> None:
    pytester.makepyfile(**{name: (APPS / f"{name}.py").read_text()})


@pytest.fixture
def clients_app(pytester: pytest.Pytester) -> pytest.Pytester:
    _app(pytester, "ext_clients")
    return pytester


def test_every_client_is_answered_by_a_fake_for_another_host(clients_app: pytest.Pytester) -> None:
    clients_app.makepyfile(
        test_fake=f"""
        import pytest
        from fastapi.testclient import TestClient
        from ext_clients import app

        @pytest.mark.parametrize("lib", {ALL_LIBS!r})
        def test_fetch(lib, xaio_externals):
            seen = xaio_externals.add_fake("api.partner.example", {{
                "POST /v1/echo/{{name}}": lambda request, name: {{"name": name, "got": request.json()}},
            }})
            response = TestClient(app).get(f"/fetch/{{lib}}", params={{"url": "https://api.partner.example/v1/echo/x"}})
            assert response.json() == {{"status": 200, "body": {{"name": "x", "got": {{"via": lib}}}}}}
            assert [str(r) for r in seen.requests] == ["POST https://api.partner.example/v1/echo/x"]
            assert xaio_externals.requests_to("api.partner.example")[0].header("content-type") == "application/json"
        """
    )
    result = clients_app.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(ALL_LIBS))


def test_an_asgi_app_can_fake_a_host(clients_app: pytest.Pytester) -> None:
    clients_app.makepyfile(
        test_asgi="""
        import pytest
        from fastapi import FastAPI
        from fastapi.testclient import TestClient
        from ext_clients import app

        partner = FastAPI()

        @partner.post("/v1/echo")
        async def echo(body: dict):
            return {"asgi": True, **body}

        @pytest.mark.parametrize("lib", ["requests", "httpx-async", "aiohttp"])
        def test_fetch(lib, xaio_externals):
            xaio_externals.add_fake("partner.example", partner)
            response = TestClient(app).get(f"/fetch/{lib}", params={"url": "https://partner.example/v1/echo"})
            assert response.json() == {"status": 200, "body": {"asgi": True, "via": lib}}
        """
    )
    clients_app.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_an_unfaked_host_fails_the_test_with_the_documented_message(clients_app: pytest.Pytester) -> None:
    clients_app.makepyfile(
        test_blocked=f"""
        import pytest
        from fastapi.testclient import TestClient
        from ext_clients import app

        @pytest.mark.parametrize("lib", {ALL_LIBS!r})
        def test_fetch(lib):
            TestClient(app).get(f"/fetch/{{lib}}", params={{"url": "https://api.unknown.example/v1/things?x=1"}})
        """
    )
    result = clients_app.runpytest(
        "-p", "no:cacheprovider", "--xaio-mock-externals", "-rN"
    )  # -rN: count each message once, also on CI
    result.assert_outcomes(failed=len(ALL_LIBS))
    result.stdout.fnmatch_lines(
        [
            "*pytest-xaio blocked an outbound request: POST https://api.unknown.example/v1/things?x=1",
            "*externals are mocked, and 'api.unknown.example' is neither faked nor local.",
            "*allow it: xaio_allow_hosts = api.unknown.example*",
            "*or fake it: xaio_externals.add_fake('api.unknown.example'*",
        ]
    )
    assert result.stdout.str().count("pytest-xaio blocked an outbound request: POST") == len(ALL_LIBS)


def test_a_swallowed_refusal_still_fails_the_test(clients_app: pytest.Pytester) -> None:
    clients_app.makepyfile(
        test_swallow="""
        import pytest
        from fastapi.testclient import TestClient
        from ext_clients import app

        @pytest.mark.parametrize("lib", ["requests", "httpx-async", "aiohttp"])
        def test_fallback(lib):
            response = TestClient(app).get(f"/swallow/{lib}", params={"url": "https://hidden.example/ping"})
            assert response.json() == {"status": "unavailable"}
        """
    )
    result = clients_app.runpytest("-p", "no:cacheprovider", "-o", "xaio_mock_externals=true")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["pytest-xaio blocked an outbound request: POST https://hidden.example/ping"])


def test_allowed_and_local_hosts_go_to_the_real_network(clients_app: pytest.Pytester) -> None:
    clients_app.makeini(
        """
        [pytest]
        xaio_mock_externals = true
        xaio_allow_hosts =
            *.allowed.invalid
        """
    )
    clients_app.makepyfile(
        test_allowed="""
        import socket, threading, pytest
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from fastapi.testclient import TestClient
        from ext_clients import app

        class Echo(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass

        @pytest.fixture(scope="module")
        def local_url():
            server = HTTPServer(("127.0.0.1", 0), Echo)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            yield f"http://127.0.0.1:{server.server_port}/echo"
            server.shutdown()

        @pytest.mark.parametrize("lib", LOCAL_LIBS)
        def test_local_server(lib, local_url):
            assert TestClient(app).get(f"/fetch/{lib}", params={"url": local_url}).json() == {
                "status": 200, "body": {"via": lib}}

        def test_allowed_host_is_not_refused(xaio_externals):
            import requests
            with pytest.raises(requests.ConnectionError):  # .invalid never resolves: no traffic leaves
                requests.get("http://api.allowed.invalid/x", timeout=2)
            assert xaio_externals.blocked == []
        """.replace("LOCAL_LIBS", repr(LOCAL_LIBS))
    )
    clients_app.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=6)


def test_raw_sockets_to_remote_addresses_are_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket
        import pytest

        @pytest.mark.xaio_externals
        def test_remote():
            socket.create_connection(("203.0.113.7", 443), timeout=1)

        @pytest.mark.xaio_externals
        def test_loopback_is_fine():
            server = socket.create_server(("127.0.0.1", 0))
            socket.create_connection(server.getsockname(), timeout=1).close()
            server.close()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*pytest-xaio blocked a socket connection to 203.0.113.7:443"])


def test_with_the_flag_off_nothing_is_patched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import _socket, socket, threading, urllib.request
        import aiohttp, httpx, pytest
        from urllib3.connectionpool import HTTPConnectionPool

        try:
            import httpx2
        except ImportError:  # Python 3.10
            httpx2 = None

        HOOKS = [
            (httpx.HTTPTransport, "handle_request"), (httpx.AsyncHTTPTransport, "handle_async_request"),
            *([(httpx2.HTTPTransport, "handle_request"), (httpx2.AsyncHTTPTransport, "handle_async_request")]
              if httpx2 else []),
            (HTTPConnectionPool, "urlopen"), (urllib.request.AbstractHTTPHandler, "do_open"),
            (aiohttp.TCPConnector, "_create_connection"), (socket.socket, "connect"), (socket.socket, "connect_ex"),
            (socket.socket, "sendto"), (socket.socket, "sendmsg"), (_socket, "socket"), (_socket, "getaddrinfo"),
            (socket, "gethostbyname"), (_socket, "gethostbyname"), (socket, "gethostbyaddr"),
            (threading.Thread, "start"),
        ]
        ORIGINAL = [vars(owner).get(name) for owner, name in HOOKS]  # None: inherited, not its own

        def current():
            return [vars(owner).get(name) for owner, name in HOOKS]

        def test_off_by_default():
            assert current() == ORIGINAL

        @pytest.mark.xaio_externals
        def test_on_for_a_marked_test():
            assert all(now is not before for now, before in zip(current(), ORIGINAL))

        def test_asking_for_a_fake_turns_them_on(stripe_fake):
            assert current()[0] is not ORIGINAL[0]

        def test_and_off_again_after():
            assert current() == ORIGINAL
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly").assert_outcomes(passed=4)


def test_a_live_stripe_key_in_xaio_env_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxaio_env =\n    STRIPE_API_KEY=sk_live_abcdef123456\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*refused a live Stripe key*xaio_env line for STRIPE_API_KEY*"])


def test_a_live_stripe_key_in_a_request_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import stripe

        def test_live(stripe_fake):
            client = stripe.StripeClient("sk_live_" + "abcdefghijkl")
            client.v1.customers.create(params={"email": "a@b.c"})
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["pytest-xaio refused a live Stripe key*in a request to POST https://api.stripe.com/v1/customers*"]
    )


def test_pool_workers_belong_to_the_running_test_not_the_one_that_started_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket
        from concurrent.futures import ThreadPoolExecutor

        POOL = ThreadPoolExecutor(max_workers=1)

        def test_first_use_starts_the_worker():
            assert POOL.submit(lambda: 1).result() == 1

        def test_later_lookup_on_that_worker():
            try:
                POOL.submit(socket.getaddrinfo, "api.unfaked.example", 443).result()
            except Exception:
                pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-o", "xaio_mock_externals=true")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_later_lookup_on_that_worker*", "*blocked a name lookup of 'api.unfaked.example'*"]
    )
    assert "ERROR at teardown" not in result.stdout.str()


def test_the_guard_lets_local_names_and_the_plugins_own_services_through(
    pytester: pytest.Pytester, service_postgres_url: str
) -> None:
    pytester.makepyfile(
        """
        import socket

        def test_local_names_resolve():
            assert socket.getaddrinfo("localhost", 5432)
            assert socket.gethostbyname(socket.gethostname())
            assert socket.gethostbyaddr("127.0.0.1")

        def test_postgres_and_redis(xaio_db, xaio_redis):
            assert xaio_db.execute("SELECT 1").fetchone() == (1,)
            xaio_redis.set("guarded", "yes")
            assert xaio_redis.get("guarded") in (b"yes", "yes")
        """
    )
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-o",
        "xaio_mock_externals=true",
        "--xaio-postgres-url",
        service_postgres_url,
        "--xaio-redis-url",
        "redis://localhost:6379",
    )
    result.assert_outcomes(passed=2)
