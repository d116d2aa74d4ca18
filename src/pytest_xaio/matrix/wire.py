"""Small helpers that turn a matrix case's values into what goes on the wire (and back into text)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from pytest_xaio.matrix.bodies import is_binary
from pytest_xaio.matrix.routes import RouteInfo

__all__ = ["as_id", "encode_body", "quote", "snippet", "where"]


def where(error: BaseException) -> str:
    """``; raised at file:line: code`` for the last frame of an exception the app raised."""
    import linecache

    tb = error.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:  # only the last frame's source line is read (not every frame's file)
        tb = tb.tb_next
    filename, lineno = tb.tb_frame.f_code.co_filename, tb.tb_lineno
    line = linecache.getline(filename, lineno).strip()
    return f"; raised at {filename}:{lineno}" + (f": {line}" if line else "")


def as_id(value: Any) -> Any:
    """A fixture's value as a path id: the value itself, ``value["id"]`` or ``value.id``."""
    if isinstance(value, (str, int, float, uuid.UUID)):
        return value
    if isinstance(value, Mapping) and "id" in value:
        return value["id"]
    return getattr(value, "id", value)


def quote(value: Any) -> str:
    from urllib.parse import quote as _quote

    return _quote(str(value), safe="")


def encode_body(route: RouteInfo, body: Any) -> dict[str, Any]:
    """``json=``, or ``data=``/``files=`` for form and multipart routes."""
    encoding = route.body.encoding if route.body is not None else "json"
    if encoding == "json":
        return {"json": body}
    if not isinstance(body, Mapping):
        return {"data": body}
    body = {k: v for k, v in body.items() if v is not None}  # a form has no null: the field is left out
    if encoding == "form":
        return {"data": dict(body)}
    properties = route.body.schema.get("properties", {}) if route.body is not None else {}
    # Each file field as a small text file holding its value (a list field as one file per item).
    files = [
        (k, (f"{k}.txt", str(item).encode(), "text/plain"))
        for k, v in body.items()
        if is_binary(properties.get(k, {}))
        for item in (v if isinstance(v, list) else [v])
    ]
    data = {k: v for k, v in body.items() if not is_binary(properties.get(k, {}))}
    # No file at all (the missing-field case): an empty part keeps the request multipart.
    return {"data": data, "files": files or [("xaio", ("xaio.txt", b"", "text/plain"))]}


def snippet(method: str, url: str, kwargs: Mapping[str, Any], identity: str) -> str:
    """The request as a line of Python to paste into a test (``xaio_client`` is the logged-in user)."""
    client = {"anon": "xaio_anon_client"}.get(identity, "xaio_client")
    parts = [repr(method), repr(url)]
    for name in ("params", "json", "data"):
        value = kwargs.get(name)
        if value is not None:
            parts.append(f"{name}={_py(value)}")
    line = f"response = {client}.request({', '.join(parts)})"
    if identity in ("admin", "other"):
        who = "an admin (xaio_admin_attrs)" if identity == "admin" else "a second user"
        line += f"  # as {who}: headers=xaio_token.headers(xaio_token.for_user(<that user>))"
    return line


def _py(value: Any) -> str:
    """A Python literal for a JSON value (``None``/``True`` rather than ``null``/``true``)."""
    text = repr(json.loads(json.dumps(value, default=str)))
    return text if len(text) <= 2000 else text[:2000] + " ...(trimmed)"
