"""The Stripe fake, driven through an app that uses the real ``stripe`` SDK with each of its HTTP clients."""

from __future__ import annotations

from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"
INI = """
[pytest]
xaio_mock_externals = true
xaio_postgres = none
xaio_stripe_webhook_secret = whsec_ext_billing
"""


@pytest.fixture
def billing(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(ext_billing=(APPS / "ext_billing.py").read_text())
    pytester.makeini(INI)
    pytester.makeconftest(
        """
        import pytest
        from fastapi.testclient import TestClient

        @pytest.fixture
        def client():
            import ext_billing
            ext_billing.processed_events.clear()
            ext_billing.subscription_status.clear()
            return TestClient(ext_billing.app)
        """
    )
    return pytester


def test_every_stripe_http_client_is_answered_by_the_fake(billing: pytest.Pytester) -> None:
    billing.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("path", [
            "/customers/module", "/customers/sync/requests", "/customers/sync/httpx", "/customers/sync/urllib",
            "/customers/async/httpx", "/customers/async/aiohttp",
        ])
        def test_customer(path, client, stripe_fake):
            response = client.post(path, json={"email": "ada@example.com"})
            assert response.status_code == 200, response.text
            (customer,) = stripe_fake.customers
            assert response.json() == {"id": customer["id"], "email": "ada@example.com"}
            assert customer["id"].startswith("cus_") and customer["livemode"] is False
            assert [(r.method, r.path) for r in stripe_fake.requests] == [
                ("POST", "/v1/customers"), ("GET", f"/v1/customers/{customer['id']}")]
            assert stripe_fake.requests[0].header("authorization") == "Bearer sk_test_ext_billing"
        """
    )
    billing.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=6)


def test_errors_arrive_as_the_sdks_own_exceptions(billing: pytest.Pytester) -> None:
    billing.makepyfile(
        """
        def test_card_declined_by_the_test_card(client, stripe_fake):
            response = client.post("/pay", json={"amount": 500, "pm": "pm_card_chargeDeclined"})
            assert response.status_code == 402
            assert response.json()["detail"] == {"code": "card_declined", "kind": "CardError"}

        def test_fail_next(client, stripe_fake):
            stripe_fake.fail_next("card_declined")
            assert client.post("/pay", json={"amount": 500}).json()["detail"]["kind"] == "CardError"
            assert client.post("/pay", json={"amount": 500}).json()["status"] == "succeeded"

        def test_missing_param(client, stripe_fake):
            response = client.post("/pay", json={"amount": None})
            assert response.status_code == 400
            assert response.json()["detail"] == {
                "code": "parameter_missing", "param": "amount", "kind": "InvalidRequestError"}

        def test_resource_missing(client, stripe_fake):
            response = client.get("/customers/cus_nope")
            assert response.json()["detail"] == {"code": "resource_missing", "kind": "InvalidRequestError"}

        def test_idempotency_key_is_honoured(client, stripe_fake):
            first = client.post("/pay", json={"amount": 700, "order": "order-1"}).json()
            again = client.post("/pay", json={"amount": 700, "order": "order-1"}).json()
            assert first == again and len(stripe_fake.payment_intents) == 1
            clash = client.post("/pay", json={"amount": 800, "order": "order-1"})
            assert clash.status_code == 409 and clash.json()["detail"]["kind"] == "IdempotencyError"
        """
    )
    billing.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)


def test_stateful_billing_flow(billing: pytest.Pytester) -> None:
    billing.makepyfile(
        """
        def test_subscribe_cancel_refund(client, stripe_fake):
            created = client.post("/subscribe", json={"email": "ada@example.com"}).json()
            assert created["status"] == "active" and created["amount"] == 1500
            assert created["checkout_url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
            (sub,) = stripe_fake.subscriptions
            assert sub["id"] == created["subscription"] and sub["id"].startswith("sub_")
            assert stripe_fake.get(sub["latest_invoice"])["status"] == "paid"
            assert stripe_fake.checkout_sessions[0]["mode"] == "subscription"

            assert client.post(f"/subscriptions/{sub['id']}/cancel").json() == {"status": "canceled"}
            assert sub["cancel_at_period_end"] is True and sub["status"] == "canceled"

            paid = client.post("/pay", json={"amount": 900}).json()
            assert client.post(f"/refund/{paid['id']}").json()["amount"] == 900
            assert stripe_fake.refunds[0]["payment_intent"] == paid["id"]

        def test_state_is_fresh_per_test(stripe_fake):
            assert stripe_fake.customers == [] and stripe_fake.requests == []

        def test_arranged_state_is_seen_by_the_app(client, stripe_fake):
            customer = stripe_fake.create("customers", email="pre@example.com")
            assert client.get(f"/customers/{customer['id']}").json() == {"email": "pre@example.com"}
        """
    )
    billing.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_signed_webhooks(billing: pytest.Pytester) -> None:
    billing.makepyfile(
        """
        import ext_billing

        def test_valid_event(client, stripe_fake):
            event = stripe_fake.event("payment_intent.succeeded", data={"customer": "cus_1", "amount": 900},
                                      id="evt_paid_1")
            assert event.json()["data"]["object"]["id"].startswith("pi_")
            response = stripe_fake.send(client, event, path="/api/webhooks/stripe")
            assert response.json() == {"received": True, "duplicate": False}
            assert ext_billing.subscription_status == {"cus_1": "active"}

        def test_same_event_twice(client, stripe_fake):
            event = stripe_fake.event("payment_intent.succeeded", data={"customer": "cus_2"})
            first, second = stripe_fake.send_twice(client, event)
            assert first.json()["duplicate"] is False and second.json()["duplicate"] is True
            assert ext_billing.processed_events == [event.id]

        def test_tampered_and_stale_signatures_are_refused(client, stripe_fake):
            event = stripe_fake.event("invoice.paid", data={"customer": "cus_3"})
            assert stripe_fake.send(client, event.tampered()).status_code == 400
            assert stripe_fake.send(client, event.stale()).status_code == 400
            assert ext_billing.processed_events == []

        def test_the_app_can_retrieve_the_event(stripe_fake):
            import stripe
            event = stripe_fake.event("customer.created", data={"email": "e@x.io"})
            fetched = stripe.StripeClient("sk_test_x").v1.events.retrieve(event.id)
            assert fetched.type == "customer.created" and fetched.data.object["email"] == "e@x.io"
        """
    )
    billing.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_webhook_secret_read_from_the_app(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        appsettings="""
        class Settings:
            stripe_webhook_secret = "whsec_from_the_app"
        settings = Settings()
        """
    )
    pytester.makeini(
        "[pytest]\nxaio_postgres = none\nxaio_stripe_webhook_secret_from = appsettings:settings.stripe_webhook_secret\n"
    )
    pytester.makepyfile(
        """
        import stripe

        def test_secret(stripe_fake):
            event = stripe_fake.event("checkout.session.completed", data={"mode": "subscription"})
            assert event.secret == "whsec_from_the_app"
            parsed = stripe.Webhook.construct_event(event.payload, event.headers["Stripe-Signature"], event.secret)
            assert parsed.data.object["object"] == "checkout.session"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_no_webhook_secret_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(stripe_fake): stripe_fake.event('invoice.paid')")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # configuration: one message, no test traceback
    result.stdout.fnmatch_lines(["*needs the app's webhook signing secret*", "*fix: set xaio_stripe_webhook_secret*"])
    assert "Traceback" not in result.stdout.str()


def test_search_expand_and_checkout_completion(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
        import stripe

        def test_search_and_expand(stripe_fake):
            client = stripe.StripeClient("sk_test_x")
            ada = client.v1.customers.create(params={"email": "ada@example.com", "metadata": {"user_id": "7"}})
            client.v1.customers.create(params={"email": "bob@example.com"})
            found = client.v1.customers.search(params={"query": "metadata['user_id']:'7'"})
            assert [c.id for c in found.data] == [ada.id]
            assert client.v1.customers.list(params={"email": "bob@example.com"}).data[0].email == "bob@example.com"

            price = client.v1.prices.create(params={
                "currency": "usd", "unit_amount": 500, "product_data": {"name": "Pro"},
                "recurring": {"interval": "month"}})
            sub = client.v1.subscriptions.create(
                params={"customer": ada.id, "items": [{"price": price.id}], "expand": ["latest_invoice", "customer"]})
            assert sub.latest_invoice.status == "paid" and sub.customer.email == "ada@example.com"
            assert isinstance(stripe_fake.subscriptions[0]["customer"], str)  # expansion is per response

        def test_complete_checkout(stripe_fake):
            client = stripe.StripeClient("sk_test_x")
            session = client.v1.checkout.sessions.create(params={
                "mode": "subscription", "customer_email": "cy@example.com",
                "line_items": [{"quantity": 2, "price_data": {"currency": "usd", "unit_amount": 700,
                                "recurring": {"interval": "month"}, "product_data": {"name": "Team"}}}],
                "subscription_data": {"metadata": {"plan": "team"}},
            })
            event = stripe_fake.complete_checkout(event_id="evt_done")
            body = event.json()["data"]["object"]
            assert (event.id, body["id"], body["status"], body["payment_status"]) == (
                "evt_done", session.id, "complete", "paid")
            (sub,) = stripe_fake.subscriptions
            assert body["subscription"] == sub["id"] and sub["metadata"] == {"plan": "team"}
            assert sub["items"]["data"][0]["quantity"] == 2
            assert stripe_fake.get(sub["customer"])["email"] == "cy@example.com"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
