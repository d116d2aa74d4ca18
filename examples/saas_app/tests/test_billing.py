"""Stripe Checkout through the real stripe SDK, answered by the in-process Stripe fake."""


def test_checkout_creates_the_customer_once_and_a_subscription_session(xaio_client, xaio_user, stripe_fake, xaio_db):
    first = xaio_client.post("/api/billing/checkout", json={"plan": "pro"})
    second = xaio_client.post("/api/billing/checkout", json={"plan": "team"})

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["url"].startswith("https://checkout.stripe.com/")
    [customer] = stripe_fake.customers
    assert customer["email"] == xaio_user.email
    assert customer["metadata"] == {"user_id": str(xaio_user.id)}
    stored = xaio_db.execute("SELECT stripe_customer_id FROM users WHERE id = %s", (xaio_user.id,)).fetchone()
    assert stored == (customer["id"],)
    sessions = stripe_fake.checkout_sessions
    assert [s["mode"] for s in sessions] == ["subscription", "subscription"]
    assert {s["customer"] for s in sessions} == {customer["id"]}
    assert [s["metadata"]["plan"] for s in sessions] == ["pro", "team"]


def test_an_unknown_plan_is_400_and_reaches_no_stripe(xaio_client, stripe_fake):
    response = xaio_client.post("/api/billing/checkout", json={"plan": "platinum"})

    assert response.status_code == 400
    assert stripe_fake.requests == []


def test_a_stripe_failure_is_502(xaio_client, stripe_fake):
    stripe_fake.fail_next("api_error")

    response = xaio_client.post("/api/billing/checkout", json={"plan": "pro"})

    assert response.status_code == 502


def _user_row(db, user_id):
    return db.execute(
        "SELECT plan, subscription_status, stripe_customer_id, stripe_subscription_id FROM users WHERE id = %s",
        (user_id,),
    ).fetchone()


def test_a_completed_checkout_moves_the_user_to_the_plan(stripe_fake, xaio_anon_client, xaio_user, xaio_db):
    event = stripe_fake.event(
        "checkout.session.completed",
        data={
            "object": "checkout.session",
            "client_reference_id": str(xaio_user.id),
            "customer": "cus_checkout1",
            "subscription": "sub_checkout1",
            "metadata": {"plan": "team"},
        },
    )

    assert stripe_fake.send(xaio_anon_client, event).status_code == 200
    assert _user_row(xaio_db, xaio_user.id) == ("team", "none", "cus_checkout1", "sub_checkout1")


def test_subscription_lifecycle_events_find_the_user_by_customer_id(
    stripe_fake, xaio_anon_client, xaio_user_factory, xaio_db
):
    user = xaio_user_factory(
        plan="pro", stripe_customer_id="cus_lifecycle", stripe_subscription_id="sub_1", subscription_status="active"
    )

    failed = stripe_fake.event("invoice.payment_failed", data={"object": "invoice", "customer": "cus_lifecycle"})
    assert stripe_fake.send(xaio_anon_client, failed).status_code == 200
    assert _user_row(xaio_db, user.id) == ("pro", "past_due", "cus_lifecycle", "sub_1")

    paid = stripe_fake.event("invoice.paid", data={"object": "invoice", "customer": "cus_lifecycle"})
    assert stripe_fake.send(xaio_anon_client, paid).status_code == 200
    assert _user_row(xaio_db, user.id) == ("pro", "active", "cus_lifecycle", "sub_1")

    deleted = stripe_fake.event(
        "customer.subscription.deleted", data={"object": "subscription", "id": "sub_1", "customer": "cus_lifecycle"}
    )
    assert stripe_fake.send(xaio_anon_client, deleted).status_code == 200
    assert _user_row(xaio_db, user.id) == ("free", "canceled", "cus_lifecycle", None)


def test_an_event_for_an_unknown_customer_is_acknowledged_and_recorded(stripe_fake, xaio_anon_client, xaio_db):
    event = stripe_fake.event(
        "payment_intent.succeeded", data={"customer": "cus_nobody", "metadata": {"user_id": "not-a-number"}}
    )

    assert stripe_fake.send(xaio_anon_client, event).status_code == 200
    row = xaio_db.execute(
        "SELECT type, processed_at IS NOT NULL FROM stripe_events WHERE id = %s", (event.id,)
    ).fetchone()
    assert row == ("payment_intent.succeeded", True)
    assert xaio_db.execute("SELECT count(*) FROM users WHERE subscription_status = 'active'").fetchone()[0] == 0
