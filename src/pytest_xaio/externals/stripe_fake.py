"""The Stripe fake: an in-process, stateful ``api.stripe.com`` and a signed webhook builder."""

from __future__ import annotations

import copy
import hashlib
import hmac
import inspect
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_xaio.externals.http import FakeRequest, FakeResponse
from pytest_xaio.externals.stripe_api import RESOURCES, StripeApiError, StripeStore, new_id

__all__ = ["StripeEvent", "StripeFake"]

STRIPE_HOSTS = ("api.stripe.com", "files.stripe.com")
API_VERSION = "2024-06-20"
_CLAUSE = re.compile(r"(\w+)(?:\[['\"](\w+)['\"]\])?\s*:\s*['\"]([^'\"]*)['\"]")
_PATH = re.compile(
    r"^/v1/(?P<res>checkout/sessions|billing_portal/sessions|[a-z_]+)"
    r"(?:/(?P<id>[A-Za-z0-9_]+))?(?:/(?P<verb>[a-z_]+))?/?$"
)


@dataclass(frozen=True)
class StripeEvent:
    """A webhook delivery: the JSON ``payload`` and the ``headers`` (with ``Stripe-Signature``)."""

    id: str
    type: str
    payload: bytes
    headers: dict[str, str]
    secret: str
    timestamp: int
    data: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.payload)

    def tampered(self) -> StripeEvent:
        """The same payload with a signature made with the wrong secret: the app must answer 400."""
        return self._signed(self.timestamp, self.secret + "-wrong")

    def with_timestamp(self, timestamp: int) -> StripeEvent:
        return self._signed(timestamp, self.secret)

    def stale(self, seconds: int = 3600) -> StripeEvent:
        """Signed correctly but ``seconds`` ago: outside ``construct_event``'s 300 s tolerance."""
        return self.with_timestamp(self.timestamp - seconds)

    def redelivered(self) -> StripeEvent:
        """The same event (same id and payload) freshly signed, as Stripe's retries are."""
        return self.with_timestamp(int(time.time()))

    def _signed(self, timestamp: int, secret: str) -> StripeEvent:
        return replace(self, headers=_headers(self.payload, timestamp, secret), timestamp=timestamp)


def sign(payload: bytes, timestamp: int, secret: str) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _headers(payload: bytes, timestamp: int, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Stripe-Signature": f"t={timestamp},v1={sign(payload, timestamp, secret)}",
    }


class StripeFake:
    """An in-process Stripe: customers, products and prices, checkout sessions, subscriptions,
    payment intents, invoices, refunds, webhook endpoints and events, answered in Stripe's shapes.

    Read what the app did through :attr:`requests` and the collections (:attr:`customers`, ...);
    arrange state with :meth:`create` and :meth:`fail_next`; build signed webhooks with :meth:`event`.
    """

    def __init__(self, webhook_secret: str | Callable[[], str | None] | None = None) -> None:
        self.store = StripeStore()
        self.requests: list[FakeRequest] = []
        self._secret = webhook_secret
        self._failures: list[tuple[str | None, StripeApiError]] = []
        self._idempotency: dict[str, tuple[str, FakeResponse]] = {}

    # --- reading state ----------------------------------------------------------------------------
    def objects(self, path: str) -> list[dict[str, Any]]:
        return list(self.store.objects[path].values())

    @property
    def customers(self) -> list[dict[str, Any]]:
        return self.objects("customers")

    @property
    def products(self) -> list[dict[str, Any]]:
        return self.objects("products")

    @property
    def prices(self) -> list[dict[str, Any]]:
        return self.objects("prices")

    @property
    def checkout_sessions(self) -> list[dict[str, Any]]:
        return self.objects("checkout/sessions")

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        return self.objects("subscriptions")

    @property
    def payment_intents(self) -> list[dict[str, Any]]:
        return self.objects("payment_intents")

    @property
    def invoices(self) -> list[dict[str, Any]]:
        return self.objects("invoices")

    @property
    def refunds(self) -> list[dict[str, Any]]:
        return self.objects("refunds")

    @property
    def webhook_endpoints(self) -> list[dict[str, Any]]:
        return self.objects("webhook_endpoints")

    def get(self, obj_id: str) -> dict[str, Any] | None:
        """Any object the fake holds, by id (``cus_…``, ``sub_…``)."""
        return self.store.find(obj_id)

    # --- arranging state --------------------------------------------------------------------------
    def create(self, path: str, **params: Any) -> dict[str, Any]:
        """Create an object as the API would: ``stripe_fake.create("customers", email="a@b.c")``."""
        if path not in RESOURCES:
            raise ValueError(f"unknown Stripe collection {path!r}; one of {', '.join(RESOURCES)}")
        return self.store.create(path, params)

    def fail_next(
        self,
        code: str = "card_declined",
        message: str | None = None,
        *,
        path: str | None = None,
        param: str | None = None,
        status: int | None = None,
    ) -> None:
        """The next request (to a path starting with ``path``, e.g. ``/v1/payment_intents``) is
        answered with Stripe's error ``code``: ``card_declined`` (402, ``stripe.CardError``),
        ``resource_missing`` (404), ``parameter_missing`` (400, ``InvalidRequestError``),
        ``rate_limit`` (429), ``api_error`` (500) ..."""
        self._failures.append((path, StripeApiError(code, message, param, status)))

    # --- the API ------------------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        self.requests.append(request)
        auth = request.header("authorization") or ""
        if not auth.startswith(("Bearer sk_test_", "Bearer rk_test_", "Basic ")):
            return _error(
                StripeApiError(
                    "invalid_api_key",
                    "Invalid API Key provided: use a test key (sk_test_…) with the Stripe fake.",
                    status=401,
                )
            )
        key = request.header("idempotency-key")
        fingerprint = f"{request.method} {request.path} {request.text()}"
        if key and request.method == "POST" and key in self._idempotency:
            seen, response = self._idempotency[key]
            if seen != fingerprint:
                return _error(
                    StripeApiError(
                        "idempotency_key_in_use",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                        status=400,
                        type_="idempotency_error",
                    )
                )
            return replace(response, headers={**response.headers, "idempotent-replayed": "true"})
        response = self._answer(request)
        if key and request.method == "POST" and response.status < 500:
            self._idempotency[key] = (fingerprint, response)
        return response

    def _answer(self, request: FakeRequest) -> FakeResponse:
        for i, (path, failure) in enumerate(self._failures):
            if path is None or request.path.startswith(path):
                del self._failures[i]
                return _error(failure)
        match = _PATH.match(request.path)
        try:
            if match is None or match["res"] not in RESOURCES:
                raise StripeApiError(
                    "resource_missing", f"Unrecognized request URL ({request.method}: {request.path}).", status=404
                )
            res, obj_id, verb = match["res"], match["id"], match["verb"]
            params = request.form()
            method = request.method
            if obj_id == "search" and method == "GET":
                return self._ok(self._search(res, params), request)
            if obj_id is None:
                if method == "POST":
                    return self._ok(self.store.create(res, params), request)
                return self._ok(self.store.list_objects(res, params), request)
            if verb:
                return self._ok(self.store.action(res, obj_id, verb, params), request)
            if method == "GET":
                return self._ok(self.store.get(res, obj_id), request)
            if method == "POST":
                return self._ok(self.store.update(res, obj_id, params), request)
            if method == "DELETE":
                return self._ok(self.store.delete(res, obj_id), request)
            raise StripeApiError(
                "resource_missing", f"Unrecognized request URL ({method}: {request.path}).", status=404
            )
        except StripeApiError as exc:
            return _error(exc)

    def _ok(self, obj: dict[str, Any], request: FakeRequest) -> FakeResponse:
        expand = request.form().get("expand") or []
        if expand:
            obj = copy.deepcopy(obj)
            for path in [expand] if isinstance(expand, str) else expand:
                self._expand(obj, str(path).split("."))
        return FakeResponse.json(obj, 200, {"request-id": new_id("req"), "stripe-version": API_VERSION})

    def _expand(self, node: Any, parts: list[str]) -> None:
        """``expand[]=latest_invoice.payment_intent``: ids along the path become the objects."""
        if not parts or not isinstance(node, dict):
            return
        if parts[0] == "data" and isinstance(node.get("data"), list):
            for item in node["data"]:
                self._expand(item, parts[1:])
            return
        value = node.get(parts[0])
        if isinstance(value, str):
            found = self.store.find(value)
            if found is not None:
                value = node[parts[0]] = copy.deepcopy(found)
        self._expand(value, parts[1:])

    def _search(self, res: str, params: dict[str, Any]) -> dict[str, Any]:
        """The search API's common clauses: ``email:'a@b.c' AND metadata['user_id']:'7'``."""
        clauses = _CLAUSE.findall(str(params.get("query", "")))

        def value(obj: dict[str, Any], name: str, key: str) -> str:
            if key:
                return str((obj.get(name) or {}).get(key, ""))
            return str(obj.get(name, ""))

        rows = [o for o in reversed(self.objects(res)) if all(value(o, n, k) == v for n, k, v in clauses)]
        limit = int(params.get("limit", 10))
        return {
            "object": "search_result",
            "url": f"/v1/{res}/search",
            "has_more": len(rows) > limit,
            "next_page": None,
            "data": rows[:limit],
        }

    # --- checkout -----------------------------------------------------------------------------------
    def complete_checkout(self, session_id: str | None = None, *, event_id: str | None = None) -> StripeEvent:
        """Pay a checkout session as the customer would on Stripe's page (the last one by default):
        it becomes ``complete``/``paid`` with its subscription (or payment intent) created, and the
        ``checkout.session.completed`` event is returned, signed, ready for :meth:`send`."""
        sessions = self.store.objects["checkout/sessions"]
        if not sessions:
            raise ValueError("stripe_fake.complete_checkout(): the app created no checkout session")
        session = self.store.get("checkout/sessions", session_id or list(sessions)[-1])
        if not session.get("customer"):
            email = session.get("customer_email")
            session["customer"] = self.store.create("customers", {"email": email} if email else {})["id"]
        items = []
        for item in session.get("line_items") or []:
            price = item.get("price") or self.store.create("prices", dict(item.get("price_data") or {}))["id"]
            items.append({"price": price, "quantity": item.get("quantity", 1)})
        if session["mode"] == "subscription" and not session.get("subscription"):
            extra = (session.get("subscription_data") or {}).get("metadata") or {}
            sub = self.store.create(
                "subscriptions", {"customer": session["customer"], "items": items, "metadata": dict(extra)}
            )
            session["subscription"] = sub["id"]
        elif session["mode"] == "payment" and not session.get("payment_intent"):
            amount = sum(
                (self.store.get("prices", i["price"]).get("unit_amount") or 0) * int(i["quantity"]) for i in items
            )
            intent = self.store.create(
                "payment_intents",
                {
                    "amount": amount,
                    "currency": "usd",
                    "customer": session["customer"],
                    "payment_method": "pm_card_visa",
                    "confirm": True,
                },
            )
            session["payment_intent"] = intent["id"]
        session.update(status="complete", payment_status="paid")
        return self.event("checkout.session.completed", data=copy.deepcopy(session), id=event_id)

    # --- webhooks -----------------------------------------------------------------------------------
    @property
    def webhook_secret(self) -> str:
        from pytest_xaio.errors import config_error, exit_on_config_error

        # A missing or broken secret setting is configuration: end the run with its message.
        with exit_on_config_error():
            secret = self._secret() if callable(self._secret) else self._secret
            if not secret:
                config_error(
                    "stripe_fake.event() needs the app's webhook signing secret, and none is configured",
                    "set xaio_stripe_webhook_secret = whsec_... or xaio_stripe_webhook_secret_from = "
                    "yourapp.settings:settings.stripe_webhook_secret",
                )
        return secret

    def event(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        id: str | None = None,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> StripeEvent:
        """A ``type`` event whose ``data.object`` is ``data``, signed for the app's webhook secret.

        The event is also stored, so ``stripe.Event.retrieve(event.id)`` in the app finds it.
        """
        obj = dict(data or {})
        if set(obj) == {"object"} and isinstance(obj["object"], dict):
            obj = dict(obj["object"])
        kind = type.rsplit(".", 1)[0]
        obj.setdefault("object", kind)
        prefix = next((r.prefix for r in RESOURCES.values() if r.obj == kind), kind.split(".")[-1][:3])
        obj.setdefault("id", new_id(prefix))
        stamp = int(time.time()) if timestamp is None else timestamp
        event: dict[str, Any] = {
            "id": id or new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": stamp,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }
        self.store.objects["events"][event["id"]] = event
        payload = json.dumps(event).encode()
        key = secret or self.webhook_secret
        return StripeEvent(event["id"], type, payload, _headers(payload, stamp, key), key, stamp, obj)

    def send(
        self, client: Any, event: StripeEvent, path: str = "/api/webhooks/stripe", headers: dict[str, str] | None = None
    ) -> Any:
        """POST the event to the app with ``client`` (``xaio_client``, an httpx client, a TestClient).
        With an async client, await the result."""
        return client.post(path, content=event.payload, headers={**event.headers, **(headers or {})})

    def send_twice(self, client: Any, event: StripeEvent, path: str = "/api/webhooks/stripe") -> Any:
        """Deliver the same event id twice (the second freshly signed, as Stripe retries are);
        returns both responses. With an async client, await the result."""
        first = self.send(client, event, path)
        if inspect.isawaitable(first):

            async def both() -> tuple[Any, Any]:
                one = await first
                return one, await self.send(client, event.redelivered(), path)

            return both()
        return first, self.send(client, event.redelivered(), path)


def _error(exc: StripeApiError) -> FakeResponse:
    return FakeResponse.json(
        {"error": exc.body}, exc.status, {"request-id": new_id("req"), "stripe-should-retry": "false"}
    )
