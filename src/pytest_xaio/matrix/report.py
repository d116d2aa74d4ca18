"""The failure message of a matrix case: what was sent (secrets redacted), what was expected, what came back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe_failure", "redact", "trim"]

_SECRET_HEADERS = {"authorization", "cookie", "x-api-key", "api-key", "proxy-authorization"}
_LIMIT = 600


def trim(text: str, limit: int = _LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def redact(name: str, value: str, extra: Sequence[str] = ()) -> str:
    """Keep a header's shape (scheme, first characters) and drop the secret."""
    lowered = name.lower()
    if lowered not in _SECRET_HEADERS and lowered not in {e.lower() for e in extra}:
        return value
    scheme, sep, token = value.partition(" ")
    if sep and scheme.lower() in ("bearer", "basic", "token"):
        return f"{scheme} {_mask(token)}"
    return _mask(value)


def _mask(secret: str) -> str:
    if not secret:
        return "<empty>"
    return f"{secret[:6]}...<redacted {len(secret)} chars>"


def _body_text(content: bytes, content_type: str) -> str:
    if not content:
        return "<empty>"
    text = content.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return trim(text)


def describe_failure(
    *,
    case_id: str,
    what: str,
    expected: Sequence[int],
    problem: str | None = None,
    status: int | str | None,
    request: Any,
    response: Any,
    hint: str | None = None,
    extra_secret_headers: Sequence[str] = (),
) -> str:
    """A readable report; ``request``/``response`` are httpx objects (or None when none was made).

    ``expected`` empty means "any status below 500"; ``problem`` replaces the status line when the
    status was right but the answer was not (a body that does not fit the response model).
    """
    want = " or ".join(str(s) for s in expected) if expected else "below 500"
    if problem is not None:
        head = f"  {what} (status {status}): {problem}"
    else:
        head = f"  {what}: expected status {want}, got {status}"
    lines = [f"endpoint matrix case {case_id}", head]
    if hint:
        lines.append(f"  {hint}")
    if request is not None:
        lines.append(f"  request: {request.method} {request.url}")
        headers: Mapping[str, str] = request.headers
        for name, value in headers.items():
            if name.lower() in ("host", "accept", "accept-encoding", "connection", "user-agent", "content-length"):
                continue
            lines.append(f"    {name}: {redact(name, value, extra_secret_headers)}")
        content = getattr(request, "content", b"")
        if content:
            lines.append(f"    body: {_body_text(content, headers.get('content-type', ''))}")
    if response is not None:
        content_type = response.headers.get("content-type", "")
        lines.append(f"  response {response.status_code}: {_body_text(response.content, content_type)}")
    return "\n".join(lines)
