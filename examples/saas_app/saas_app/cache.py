"""The Redis client, created on first use from ``REDIS_URL``; without a URL the cache is switched off.

Published projects are announced to the edge router through keys ``project:{id}:*``; deleting a
project removes them.
"""

from __future__ import annotations

from typing import Any

from saas_app.settings import settings

__all__ = ["delete_pattern", "get_redis", "project_key", "reset_redis"]

_client: Any = None


def get_redis() -> Any:
    """The shared ``redis.Redis`` client, or None when no ``REDIS_URL`` is configured."""
    global _client
    if _client is None and settings.redis_url:
        import redis

        _client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    return _client


def reset_redis() -> None:
    """Forget the client (after a fork, or when a test points the app at another server)."""
    global _client
    if _client is not None:
        _client.close()
    _client = None


def project_key(project_id: int, name: str) -> str:
    return f"project:{project_id}:{name}"


def delete_pattern(pattern: str) -> int:
    """Delete every key matching ``pattern`` (SCAN, never KEYS: it does not block the server)."""
    client = get_redis()
    if client is None:
        return 0
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch.clear()
    if batch:
        deleted += client.delete(*batch)
    return int(deleted)
