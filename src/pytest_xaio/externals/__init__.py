"""External services: the network guard, the Stripe, Brevo and GitHub fakes, and the small API to fake
any other host (``xaio_externals.add_fake(host, route_table_or_asgi_app)``). Standard library only
at import: the HTTP libraries are hooked (and imported) only when externals are switched on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_xaio.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_xaio.externals.brevo import BrevoFake, SentEmail
    from pytest_xaio.externals.github import GithubFake, GithubWebhook
    from pytest_xaio.externals.guard import BlockedRequestError, Externals, LiveStripeKeyError
    from pytest_xaio.externals.http import AsgiFake, Fake, FakeRequest, FakeResponse, RouteTable
    from pytest_xaio.externals.stripe_fake import StripeEvent, StripeFake

__all__ = [
    "AsgiFake",
    "BlockedRequestError",
    "BrevoFake",
    "Externals",
    "Fake",
    "FakeRequest",
    "FakeResponse",
    "GithubFake",
    "GithubWebhook",
    "LiveStripeKeyError",
    "RouteTable",
    "SentEmail",
    "StripeEvent",
    "StripeFake",
]

# Imported on first use (PEP 562), so loading the plugin does not load every fake.
_WHERE = {
    "BrevoFake": "pytest_xaio.externals.brevo",
    "SentEmail": "pytest_xaio.externals.brevo",
    "GithubFake": "pytest_xaio.externals.github",
    "GithubWebhook": "pytest_xaio.externals.github",
    "BlockedRequestError": "pytest_xaio.externals.guard",
    "Externals": "pytest_xaio.externals.guard",
    "LiveStripeKeyError": "pytest_xaio.externals.guard",
    "AsgiFake": "pytest_xaio.externals.http",
    "Fake": "pytest_xaio.externals.http",
    "FakeRequest": "pytest_xaio.externals.http",
    "FakeResponse": "pytest_xaio.externals.http",
    "RouteTable": "pytest_xaio.externals.http",
    "StripeEvent": "pytest_xaio.externals.stripe_fake",
    "StripeFake": "pytest_xaio.externals.stripe_fake",
}


__getattr__ = lazy_exports(__name__, _WHERE)
