"""Every route of the app, expanded into its success, invalid-input, bad-token and missing-id cases.

`pytest --collect-only -q tests/test_endpoints.py` lists them; `-k "401"` or `-k "POST /api/projects"`
runs a slice. Public routes are declared in pyproject.toml (xaio_public_routes); `{project_id}` comes
from the `project_id` fixture in conftest.py, and bodies the generator cannot invent (a real login,
a GitHub OAuth code) from `pytest_xaio_payload` there.
"""

from __future__ import annotations

import pytest


# The Stripe webhook needs a Stripe-Signature over the exact bytes sent: test_stripe_webhook.py covers it.
@pytest.mark.endpoint_matrix(exclude=["POST /api/webhooks/stripe"])
def test_endpoints(case):
    response = case.call()
    case.validate(response)
