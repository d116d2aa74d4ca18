"""The Stripe API resources the fake keeps: ids, object shapes, required params and state changes.

Objects are plain dicts shaped like Stripe's JSON (``object``, ``id``, ``created``, ``livemode``), so
the real SDK turns them into its own classes. Errors are :class:`StripeApiError`, answered in
Stripe's error shape (``{"error": {"type", "code", "message", "param"}}``) with Stripe's statuses,
which the SDK maps to ``CardError`` (402), ``InvalidRequestError`` (400/404) and so on.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

__all__ = ["ERRORS", "RESOURCES", "Resource", "StripeApiError", "StripeStore", "new_id"]

DOC = "https://stripe.com/docs/error-codes/"

#: code -> (status, type, message, decline_code)
ERRORS: dict[str, tuple[int, str, str, str | None]] = {
    "card_declined": (402, "card_error", "Your card was declined.", "generic_decline"),
    "insufficient_funds": (402, "card_error", "Your card has insufficient funds.", "insufficient_funds"),
    "expired_card": (402, "card_error", "Your card has expired.", None),
    "incorrect_cvc": (402, "card_error", "Your card's security code is incorrect.", None),
    "processing_error": (402, "card_error", "An error occurred while processing your card.", None),
    "resource_missing": (404, "invalid_request_error", "No such object.", None),
    "parameter_missing": (400, "invalid_request_error", "Missing required param.", None),
    "parameter_invalid_integer": (400, "invalid_request_error", "Invalid integer.", None),
    "rate_limit": (429, "invalid_request_error", "Too many requests hit the API too quickly.", None),
    "api_error": (500, "api_error", "An unknown error occurred.", None),
    "authentication_required": (402, "card_error", "Your card requires authentication.", None),
    "invalid_api_key": (401, "invalid_request_error", "Invalid API Key provided.", None),
}


class StripeApiError(Exception):
    def __init__(
        self,
        code: str,
        message: str | None = None,
        param: str | None = None,
        status: int | None = None,
        type_: str | None = None,
    ) -> None:
        default_status, default_type, default_message, decline = ERRORS.get(
            code, (400, "invalid_request_error", code.replace("_", " ").capitalize() + ".", None)
        )
        if code == "insufficient_funds":
            code = "card_declined"
        self.status = status or default_status
        self.body: dict[str, Any] = {
            "type": type_ or default_type,
            "code": code,
            "message": message or default_message,
            "doc_url": DOC + code,
        }
        if param:
            self.body["param"] = param
        if decline:
            self.body["decline_code"] = decline
        super().__init__(self.body["message"])


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}" if prefix else secrets.token_hex(8)


class Resource:
    """One collection of the API: its URL path, id prefix, object name and required params."""

    def __init__(
        self, path: str, prefix: str, obj: str, required: tuple[str, ...] = (), defaults: dict[str, Any] | None = None
    ) -> None:
        self.path, self.prefix, self.obj, self.required = path, prefix, obj, required
        self.defaults = defaults or {}


RESOURCES: dict[str, Resource] = {
    r.path: r
    for r in (
        Resource(
            "customers",
            "cus",
            "customer",
            (),
            {"email": None, "name": None, "balance": 0, "currency": None, "delinquent": False},
        ),
        Resource("products", "prod", "product", ("name",), {"active": True, "description": None}),
        Resource(
            "prices",
            "price",
            "price",
            ("currency",),
            {"active": True, "type": "one_time", "recurring": None, "unit_amount": None},
        ),
        Resource(
            "checkout/sessions",
            "cs_test",
            "checkout.session",
            ("mode",),
            {
                "status": "open",
                "payment_status": "unpaid",
                "customer": None,
                "subscription": None,
                "payment_intent": None,
                "client_reference_id": None,
                "success_url": None,
            },
        ),
        Resource(
            "subscriptions",
            "sub",
            "subscription",
            ("customer", "items"),
            {"status": "active", "cancel_at_period_end": False, "canceled_at": None},
        ),
        Resource(
            "payment_intents",
            "pi",
            "payment_intent",
            ("amount", "currency"),
            {"status": "requires_payment_method", "customer": None, "payment_method": None, "latest_charge": None},
        ),
        Resource(
            "invoices",
            "in",
            "invoice",
            ("customer",),
            {"status": "draft", "paid": False, "amount_due": 0, "subscription": None},
        ),
        Resource("refunds", "re", "refund", (), {"status": "succeeded", "reason": None}),
        Resource(
            "webhook_endpoints",
            "we",
            "webhook_endpoint",
            ("url", "enabled_events"),
            {"status": "enabled", "description": None},
        ),
        Resource("billing_portal/sessions", "bps", "billing_portal.session", ("customer",), {}),
        Resource("payment_methods", "pm", "payment_method", ("type",), {"customer": None}),
        Resource("setup_intents", "seti", "setup_intent", (), {"status": "requires_payment_method"}),
        Resource("events", "evt", "event", (), {}),
    )
}

_INT_FIELDS = {
    "amount",
    "unit_amount",
    "quantity",
    "trial_period_days",
    "amount_due",
    "amount_paid",
    "amount_total",
    "interval_count",
    "limit",
    "trial_end",
    "cancel_at",
    "billing_cycle_anchor",
}
_DECLINING_METHODS = {
    "pm_card_chargeDeclined": "card_declined",
    "pm_card_visa_chargeDeclined": "card_declined",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
}


def coerce(value: Any, key: str = "") -> Any:
    """Form values arrive as strings; give numbers and booleans back their JSON types (not metadata)."""
    if key == "metadata":
        return value
    if isinstance(value, dict):
        return {k: coerce(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce(v, key) for v in value]
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        if key in _INT_FIELDS and value.lstrip("-").isdigit():
            return int(value)
    return value


def merge(target: dict[str, Any], params: dict[str, Any]) -> None:
    for key, value in params.items():
        if key in ("expand", "idempotency_key"):
            continue
        if key == "metadata" and isinstance(value, dict):
            meta = target.setdefault("metadata", {})
            for mk, mv in value.items():
                if mv == "":
                    meta.pop(mk, None)
                else:
                    meta[mk] = mv
        else:
            target[key] = value


class StripeStore:
    """The fake's state: objects by collection path and id, with the per-resource rules."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {path: {} for path in RESOURCES}

    def find(self, obj_id: str) -> dict[str, Any] | None:
        for table in self.objects.values():
            if obj_id in table:
                return table[obj_id]
        return None

    def get(self, path: str, obj_id: str) -> dict[str, Any]:
        found = self.objects[path].get(obj_id)
        if found is None:
            raise StripeApiError(
                "resource_missing", f"No such {RESOURCES[path].obj.split('.')[-1]}: '{obj_id}'", param="id"
            )
        return found

    def create(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        res = RESOURCES[path]
        params = coerce(params)
        for name in res.required:
            if name not in params and not (name == "currency" and "product_data" in params):
                raise StripeApiError("parameter_missing", f"Missing required param: {name}.", param=name)
        obj: dict[str, Any] = {
            "id": new_id(res.prefix),
            "object": res.obj,
            "created": int(time.time()),
            "livemode": False,
            "metadata": {},
            **res.defaults,
        }
        merge(obj, params)
        getattr(self, "_on_create_" + path.replace("/", "_"), lambda o: None)(obj)
        self.objects[path][obj["id"]] = obj
        return obj

    def update(self, path: str, obj_id: str, params: dict[str, Any]) -> dict[str, Any]:
        obj = self.get(path, obj_id)
        params = coerce(params)
        if path == "subscriptions" and "items" in params:
            obj["items"] = self._subscription_items(obj["id"], params.pop("items"))
        merge(obj, params)
        return obj

    def delete(self, path: str, obj_id: str) -> dict[str, Any]:
        obj = self.get(path, obj_id)
        if path == "subscriptions":  # DELETE /v1/subscriptions/{id} is Subscription.cancel
            return self.action(path, obj_id, "cancel", {})
        del self.objects[path][obj_id]
        return {"id": obj_id, "object": obj["object"], "deleted": True}

    def list_objects(self, path: str, query: dict[str, Any]) -> dict[str, Any]:
        limit = int(query.get("limit", 10))
        filters = {
            k: v
            for k, v in query.items()
            if k not in ("limit", "starting_after", "ending_before", "expand") and not isinstance(v, dict)
        }
        rows = [
            o for o in reversed(self.objects[path].values()) if all(str(o.get(k)) == str(v) for k, v in filters.items())
        ]
        if "starting_after" in query:
            ids = [o["id"] for o in rows]
            rows = rows[ids.index(query["starting_after"]) + 1 :] if query["starting_after"] in ids else []
        return {"object": "list", "url": f"/v1/{path}", "has_more": len(rows) > limit, "data": rows[:limit]}

    # --- per-resource rules -----------------------------------------------------------------------
    def _on_create_prices(self, obj: dict[str, Any]) -> None:
        if "product_data" in obj:
            obj["product"] = self.create("products", obj.pop("product_data"))["id"]
        elif "product" not in obj:
            raise StripeApiError("parameter_missing", "Missing required param: product.", param="product")
        else:
            self.get("products", obj["product"])
        if obj.get("recurring"):
            obj["type"] = "recurring"

    def _on_create_customers(self, obj: dict[str, Any]) -> None:
        obj.setdefault("invoice_settings", {"default_payment_method": None})

    def _subscription_items(self, sub_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        data = []
        for item in items:
            price_id = item.get("price")
            if not price_id:
                raise StripeApiError(
                    "parameter_missing", "Missing required param: items[0][price].", param="items[0][price]"
                )
            data.append(
                {
                    "id": new_id("si"),
                    "object": "subscription_item",
                    "subscription": sub_id,
                    "price": self.get("prices", price_id),
                    "quantity": item.get("quantity", 1),
                }
            )
        return {"object": "list", "data": data, "has_more": False, "url": "/v1/subscription_items"}

    def _on_create_subscriptions(self, obj: dict[str, Any]) -> None:
        self.get("customers", obj["customer"])
        obj["items"] = self._subscription_items(obj["id"], obj["items"])
        now = int(time.time())
        obj["current_period_start"], obj["current_period_end"] = now, now + 30 * 86400
        if obj.get("trial_period_days"):
            obj["status"] = "trialing"
            obj["trial_end"] = now + int(obj["trial_period_days"]) * 86400
        elif obj.get("payment_behavior") == "default_incomplete":
            obj["status"] = "incomplete"
        amount = sum((i["price"].get("unit_amount") or 0) * int(i["quantity"]) for i in obj["items"]["data"])
        invoice = self.create("invoices", {"customer": obj["customer"], "subscription": obj["id"]})
        invoice.update(
            amount_due=amount, status="paid" if obj["status"] == "active" else "open", paid=obj["status"] == "active"
        )
        obj["latest_invoice"] = invoice["id"]

    def _on_create_payment_intents(self, obj: dict[str, Any]) -> None:
        obj["client_secret"] = f"{obj['id']}_secret_{secrets.token_hex(8)}"
        if obj.get("payment_method"):
            obj["status"] = "requires_confirmation"
        if obj.get("confirm") is True:
            self._confirm(obj)

    def _confirm(self, obj: dict[str, Any]) -> None:
        method = obj.get("payment_method")
        if not method:
            raise StripeApiError("parameter_missing", "You must provide a payment_method.", "payment_method")
        if method in _DECLINING_METHODS:
            obj["status"] = "requires_payment_method"
            raise StripeApiError(_DECLINING_METHODS[method], param="payment_method")
        obj["status"] = "requires_capture" if obj.get("capture_method") == "manual" else "succeeded"
        obj["latest_charge"] = new_id("ch")
        obj["amount_received"] = obj["amount"] if obj["status"] == "succeeded" else 0

    def _on_create_checkout_sessions(self, obj: dict[str, Any]) -> None:
        if obj["mode"] not in ("payment", "subscription", "setup"):
            raise StripeApiError("parameter_invalid", f"Invalid mode: {obj['mode']}.", param="mode")
        for item in obj.get("line_items", []):
            if "price" in item:
                self.get("prices", item["price"])
        obj["url"] = f"https://checkout.stripe.com/c/pay/{obj['id']}"
        obj["expires_at"] = obj["created"] + 86400

    def _on_create_invoices(self, obj: dict[str, Any]) -> None:
        self.get("customers", obj["customer"])

    def _on_create_refunds(self, obj: dict[str, Any]) -> None:
        pi_id = obj.get("payment_intent")
        if not pi_id and not obj.get("charge"):
            raise StripeApiError("parameter_missing", "Missing required param: payment_intent.", param="payment_intent")
        if pi_id:
            intent = self.get("payment_intents", pi_id)
            if intent["status"] != "succeeded":
                raise StripeApiError(
                    "charge_not_refundable", "This PaymentIntent has not succeeded.", param="payment_intent"
                )
            obj.setdefault("amount", intent["amount"])
            obj.setdefault("currency", intent["currency"])
            obj["charge"] = intent["latest_charge"]

    def _on_create_webhook_endpoints(self, obj: dict[str, Any]) -> None:
        obj["secret"] = new_id("whsec")

    def _on_create_billing_portal_sessions(self, obj: dict[str, Any]) -> None:
        self.get("customers", obj["customer"])
        obj["url"] = f"https://billing.stripe.com/p/session/{obj['id']}"

    def action(self, path: str, obj_id: str, verb: str, params: dict[str, Any]) -> dict[str, Any]:
        obj = self.get(path, obj_id)
        params = coerce(params)
        key = (path, verb)
        if key == ("subscriptions", "cancel"):
            if obj["status"] == "canceled":
                raise StripeApiError("resource_missing", f"No such subscription: '{obj_id}'", param="id")
            obj.update(status="canceled", canceled_at=int(time.time()), ended_at=int(time.time()))
        elif key == ("payment_intents", "confirm"):
            merge(obj, params)
            self._confirm(obj)
        elif key == ("payment_intents", "cancel"):
            obj.update(status="canceled", canceled_at=int(time.time()))
        elif key == ("payment_intents", "capture"):
            obj.update(status="succeeded", amount_received=params.get("amount_to_capture", obj["amount"]))
        elif key == ("checkout/sessions", "expire"):
            obj.update(status="expired")
        elif key == ("invoices", "finalize"):
            obj.update(status="open")
        elif key == ("invoices", "pay"):
            obj.update(status="paid", paid=True, amount_paid=obj.get("amount_due", 0))
        elif key == ("invoices", "void"):
            obj.update(status="void")
        else:
            raise StripeApiError(
                "resource_missing", f"Unrecognized request URL (POST: /v1/{path}/{obj_id}/{verb}).", status=404
            )
        return obj
