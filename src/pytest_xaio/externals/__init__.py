"""External services: the network guard, the Stripe, Brevo and GitHub fakes, and the small API to fake
any other host (``xaio_externals.add_fake(host, route_table_or_asgi_app)``). Standard library only
at import: the HTTP libraries are hooked (and imported) only when externals are switched on."""

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
