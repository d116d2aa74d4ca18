"""An app that calls other services with every common HTTP client, sync and async."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import aiohttp
import httpx
import requests
import urllib3
from fastapi import FastAPI

try:
    import httpx2  # 2.x needs Python 3.11+
except ImportError:
    httpx2 = None  # type: ignore[assignment]

app = FastAPI()


def fetch_sync(lib: str, url: str) -> tuple[int, str]:
    if lib == "requests":
        r = requests.post(url, json={"via": lib}, timeout=5)
        return r.status_code, r.text
    if lib == "urllib3":
        r3 = urllib3.PoolManager().request("POST", url, json={"via": lib})
        return r3.status, r3.data.decode()
    if lib == "httpx":
        with httpx.Client() as client:
            rx = client.post(url, json={"via": lib})
        return rx.status_code, rx.text
    if lib == "httpx2":
        with httpx2.Client() as client2:
            r2 = client2.post(url, json={"via": lib})
        return r2.status_code, r2.text
    if lib == "urllib":
        req = urllib.request.Request(
            url, data=json.dumps({"via": lib}).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.read().decode()
    raise ValueError(lib)


async def fetch_async(lib: str, url: str) -> tuple[int, str]:
    if lib == "httpx-async":
        async with httpx.AsyncClient() as client:
            rx = await client.post(url, json={"via": lib})
        return rx.status_code, rx.text
    if lib == "httpx2-async":
        async with httpx2.AsyncClient() as client2:
            r2 = await client2.post(url, json={"via": lib})
        return r2.status_code, r2.text
    if lib == "aiohttp":
        async with aiohttp.ClientSession() as session, session.post(url, json={"via": lib}) as ra:
            return ra.status, await ra.text()
    return fetch_sync(lib, url)


@app.get("/fetch/{lib}")
async def fetch(lib: str, url: str) -> dict[str, Any]:
    status, text = await fetch_async(lib, url)
    return {"status": status, "body": json.loads(text)}


@app.get("/swallow/{lib}")
async def swallow(lib: str, url: str) -> dict[str, Any]:
    """Apps often hide a failed call behind a fallback; the guard must still fail the test."""
    try:
        await fetch_async(lib, url)
    except Exception:
        return {"status": "unavailable"}
    return {"status": "ok"}
