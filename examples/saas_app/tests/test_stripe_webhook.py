"""Stripe webhooks, signed like Stripe signs them, against the app's real signature check and Postgres."""


def subscription_status(db, user_id):
    return db.execute("SELECT subscription_status FROM users WHERE id = %s", (user_id,)).fetchone()[0]


def processed_events(db, event_id):
    return db.execute("SELECT count(*) FROM stripe_events WHERE id = %s", (event_id,)).fetchone()[0]


def test_payment_succeeded_marks_the_subscription_active(stripe_fake, xaio_anon_client, xaio_user, xaio_db):
    event = stripe_fake.event(
        "payment_intent.succeeded",
        data={"amount": 1900, "currency": "usd", "metadata": {"user_id": str(xaio_user.id)}},
        id="evt_payment_succeeded_1",
    )
    assert subscription_status(xaio_db, xaio_user.id) != "active"

    response = stripe_fake.send(xaio_anon_client, event, path="/api/webhooks/stripe")

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    assert subscription_status(xaio_db, xaio_user.id) == "active"
    assert processed_events(xaio_db, "evt_payment_succeeded_1") == 1


def test_the_same_event_twice_changes_nothing_the_second_time(stripe_fake, xaio_anon_client, xaio_user, xaio_db):
    event = stripe_fake.event(
        "payment_intent.succeeded", data={"metadata": {"user_id": str(xaio_user.id)}}, id="evt_redelivered"
    )
    first = stripe_fake.send(xaio_anon_client, event)
    assert first.json() == {"received": True, "duplicate": False}
    # Something else changed the user since; a redelivery of the old event must not undo it.
    xaio_db.execute("UPDATE users SET subscription_status = 'past_due' WHERE id = %s", (xaio_user.id,))

    second = stripe_fake.send(xaio_anon_client, event.redelivered())

    assert second.status_code == 200
    assert second.json() == {"received": True, "duplicate": True}
    assert subscription_status(xaio_db, xaio_user.id) == "past_due"
    assert processed_events(xaio_db, "evt_redelivered") == 1


def test_a_bad_signature_is_400_and_changes_nothing(stripe_fake, xaio_anon_client, xaio_user, xaio_db):
    event = stripe_fake.event("payment_intent.succeeded", data={"metadata": {"user_id": str(xaio_user.id)}})
    before = subscription_status(xaio_db, xaio_user.id)

    assert stripe_fake.send(xaio_anon_client, event.tampered()).status_code == 400
    assert stripe_fake.send(xaio_anon_client, event.stale()).status_code == 400
    assert xaio_anon_client.post("/api/webhooks/stripe", content=event.payload).status_code == 400

    assert subscription_status(xaio_db, xaio_user.id) == before
    assert processed_events(xaio_db, event.id) == 0


def test_checkout_then_completed_webhook_upgrades_the_plan(stripe_fake, xaio_client, xaio_user, xaio_db):
    response = xaio_client.post("/api/billing/checkout", json={"plan": "pro"})
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith("https://checkout.stripe.com/")
    (customer,) = stripe_fake.customers
    assert customer["email"] == xaio_user.email

    event = stripe_fake.complete_checkout(response.json()["session_id"])
    assert stripe_fake.send(xaio_client, event).json() == {"received": True, "duplicate": False}

    (subscription,) = stripe_fake.subscriptions
    row = xaio_db.execute("SELECT plan, stripe_subscription_id FROM users WHERE id = %s", (xaio_user.id,)).fetchone()
    assert row == ("pro", subscription["id"])
