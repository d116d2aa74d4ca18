"""The template database: the app's migrations applied once, cached across runs by their hash."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pytest_xaio.config import XaioSettings
from pytest_xaio.errors import config_error
from pytest_xaio.migrations.source import ConnectedElsewhereError, MigrationError, MigrationSource, discover
from pytest_xaio.postgres import redact_url
from pytest_xaio.postgres.databases import DatabaseOwner
from pytest_xaio.postgres.extensions import enable_bundled_extensions

__all__ = ["Template", "ensure_template", "template_name"]


@dataclass(frozen=True)
class Template:
    name: str
    digest: str
    cached: bool
    source: MigrationSource


def template_name(owner: DatabaseOwner, digest: str) -> str:
    return f"{owner.prefix}_tpl_{digest[:12]}"


def ensure_template(owner: DatabaseOwner, settings: XaioSettings) -> Template:
    source = discover(settings)
    digest = source.digest()
    name = template_name(owner, digest)
    # One builder per hash, whichever xdist worker or concurrent run gets there first.
    lock_id = _build_key(digest)
    with owner.admin() as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (lock_id,))
        try:
            mark = owner.mark_of(name)
            if mark is not None and _is_complete(mark, digest):
                _hold_in_use(owner, digest)
                return Template(name, digest, cached=True, source=source)
            if mark is not None:
                owner.drop(name)  # a forged or foreign mark: the hash in it is not this template's

            def build(url: str) -> dict[str, object]:
                try:
                    enable_bundled_extensions(owner, unquote(urlsplit(url).path.lstrip("/")))
                    connected = source.apply_to_head(url)
                    _verify(source, url, name, connected)
                except ConnectedElsewhereError as exc:
                    config_error(
                        f"the migrations did not run on the test template {name}: env.py tried to connect to "
                        f"{redact_url(exc.attempted)} (stopped before it connected; that database was not touched)",
                        _FIX_URL,
                    )
                except MigrationError as exc:
                    config_error(
                        f"migration failed: {exc}",
                        "fix that migration; the template is rebuilt on the next run because its hash changes",
                    )
                return {"complete": True}

            # Built under a scratch name and renamed once complete: a kill mid-build leaves no
            # half-made template under the real name (the next run drops the scratch database).
            owner.create(
                name=name, kind="template", is_template=True, extra={"hash": digest, "complete": False}, prepare=build
            )
            owner.forget(name)
            _hold_in_use(owner, digest)
            _drop_outdated(owner, keep=name)
            return Template(name, digest, cached=False, source=source)
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))


def _is_complete(mark: dict[str, object], digest: str) -> bool:
    return mark.get("kind") == "template" and mark.get("complete") is True and mark.get("hash") == digest


def _build_key(digest: str) -> int:
    return int(digest[:15], 16)


def _use_key(digest: str) -> int:
    return int(digest[15:30], 16)


def _hold_in_use(owner: DatabaseOwner, digest: str) -> None:
    """Hold a shared advisory lock on this template for the session: a concurrent run of the same
    project with other migrations then leaves it alone. The lock ends with the connection, so a
    killed run holds nothing."""
    conn = owner.admin()
    conn.execute("SELECT pg_advisory_lock_shared(%s)", (_use_key(digest),))
    owner.keep_open(conn)


_FIX_URL = (
    "build env.py's URL from what the plugin exports for the template: config.get_main_option('sqlalchemy.url'), "
    "DATABASE_URL and PG*, or map the settings env.py reads with xaio_env lines (e.g. POSTGRES_DB={dbname} or "
    "DATABASE__DB={dbname}); a .env file is read too, but the exported variables take precedence"
)


def _verify(source: MigrationSource, url: str, name: str, connected: list[str]) -> None:
    """The migrations claimed success; check the template really holds the schema at head."""
    if source.kind != "alembic":
        return
    from pytest_xaio.migrations.source import alembic_current, alembic_heads

    heads = sorted(alembic_heads(source))
    current = alembic_current(url)
    at = sorted(current.split(",")) if current else []
    if at == heads:
        return
    where = ", ".join(sorted({redact_url(u) for u in connected})) or "no database the plugin could see"
    state = "has no alembic_version table" if current is None else f"is at {current}, not at head {','.join(heads)}"
    config_error(
        f"the migrations finished, but the template database {name} {state}: they ran somewhere else "
        f"(env.py connected to: {where})",
        _FIX_URL,
    )


def _drop_outdated(owner: DatabaseOwner, keep: str) -> None:
    """Templates of this project built from other migrations are dead weight once no session uses them."""
    for name, mark in owner.marked_databases(prefix=f"{owner.prefix}_tpl_").items():
        digest = str(mark.get("hash") or "")
        if name == keep or mark.get("kind") != "template" or len(digest) < 30:
            continue
        with owner.admin() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_use_key(digest),)).fetchone()
            if not (row and row[0]):
                continue  # a live session of another checkout still clones from it
            try:
                owner.drop(name)
            except Exception:  # another run may be cloning from it right now; next run retries
                pass
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_use_key(digest),))
