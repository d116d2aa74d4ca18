"""What a route's answer should look like, judged by the response class it declares.

A JSON route (FastAPI's default) is checked against its response model; an HTML, plain-text,
redirect, file or streaming route only by status and content type, because its body is not JSON and
was never meant to be. Reading the class is done once, at collection; the check runs per response.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ResponseSpec", "check_body", "field_errors", "response_spec", "status_ok"]


@dataclass(frozen=True)
class ResponseSpec:
    """The declared response class, as much of it as a check needs."""

    class_name: str = "JSONResponse"
    media_type: str | None = "application/json"
    is_json: bool = True
    is_redirect: bool = False
    default_status: int | None = None


def response_spec(route: Any) -> ResponseSpec:
    """The spec of ``route.response_class`` (FastAPI wraps the app default in ``DefaultPlaceholder``)."""
    from starlette.responses import JSONResponse, RedirectResponse

    cls = getattr(route, "response_class", None)
    cls = getattr(cls, "value", cls)
    if not isinstance(cls, type):
        return ResponseSpec()
    media_type = getattr(cls, "media_type", None)
    is_json = issubclass(cls, JSONResponse) or (isinstance(media_type, str) and "json" in media_type)
    return ResponseSpec(
        class_name=cls.__name__,
        media_type=str(media_type) if media_type else None,
        is_json=is_json,
        is_redirect=issubclass(cls, RedirectResponse),
        default_status=_default_status(cls),
    )


def _default_status(cls: type) -> int | None:
    try:
        parameter = inspect.signature(cls).parameters.get("status_code")
    except (TypeError, ValueError):
        return None
    default = getattr(parameter, "default", None)
    return int(default) if isinstance(default, int) else None


def check_body(spec: ResponseSpec, response_field: Any, response: Any) -> tuple[str, str] | None:
    """``(what, detail)`` when a 2xx/3xx answer does not fit the route's declared class, else None."""
    status = int(response.status_code)
    content_type = str(response.headers.get("content-type", ""))
    if spec.is_redirect:
        if 300 <= status < 400 and not response.headers.get("location"):
            return "redirect without a Location header", f"{spec.class_name} answered {status} with no Location"
        return None
    if not (200 <= status < 300) or status in (204, 205) or not response.content:
        return None
    if not spec.is_json:
        wanted = (spec.media_type or "").split(";")[0].strip().lower()
        got = content_type.split(";")[0].strip().lower()
        if wanted and got and got != wanted:
            return "wrong content type", f"the route declares {spec.class_name} ({wanted}), the answer is {got}"
        return None
    if "json" not in content_type.lower():
        # The endpoint returned a Response of its own (FastAPI lets it): nothing to hold it to.
        return None
    try:
        data = response.json()
    except ValueError:
        return "response body is not JSON", f"content type {content_type}, body is not valid JSON"
    if response_field is None:
        return None
    errors = field_errors(response_field, data)
    if not errors:
        return None
    first = errors[0]
    if isinstance(first, Mapping):
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "response"))
        return "response does not match the response model", f"{where or 'body'}: {first.get('msg', first)}"
    return "response does not match the response model", str(first)


def status_ok(expected: tuple[int, ...], status: int) -> bool:
    """``expected`` empty means any status below 500 (robustness cases)."""
    return status < 500 if not expected else status in expected


def field_errors(model_field: Any, value: Any) -> list[Any]:
    """Pydantic's errors for ``value`` checked by a FastAPI ``ModelField`` (empty when valid)."""
    try:
        _, errors = model_field.validate(value, {}, loc=("body",))
    except TypeError:
        _, errors = model_field.validate(value)
    if errors is None:
        return []
    return list(errors) if isinstance(errors, list) else [errors]
