"""The template database: the app's migrations applied once, cached across runs by their hash."""

from __future__ import annotations

import os
import socket
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
    # The shared "in use" lock first, held to the session's end: a run with other migrations never
    # drops a template someone holds it on (it takes the lock exclusively, without waiting, first).
    # Taken before the mark is read, a complete mark read after it cannot be of a template that is
    # being dropped, so a worker that finds the template complete uses it without the build lock:
    # xdist workers and concurrent runs on a cached template do not queue behind one another.
    owner.lock(_use_key(digest), shared=True)
    mark = owner.mark_of(name)
    if mark is not None and _is_complete(mark, digest):
        return Template(name, digest, cached=True, source=source)
    # One builder per hash, whichever xdist worker or concurrent run gets there first.
    lock_id = _build_key(digest)
    owner.lock(lock_id)
    try:
        mark = owner.mark_of(name)
        if mark is not None and _is_complete(mark, digest):
            return Template(name, digest, cached=True, source=source)  # another worker built it meanwhile
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
        # ``where``: the folder it is built for, so a build elsewhere can drop it once that folder is gone.
        extra = {"hash": digest, "complete": False, "where": owner.where}
        owner.create(name=name, kind="template", is_template=True, extra=extra, prepare=build)
        owner.forget(name)
        _drop_unneeded(owner, keep=name)
        return Template(name, digest, cached=False, source=source)
    finally:
        owner.unlock(lock_id)


def _is_complete(mark: dict[str, object], digest: str) -> bool:
    return mark.get("kind") == "template" and mark.get("complete") is True and mark.get("hash") == digest


def _build_key(digest: str) -> int:
    return int(digest[:15], 16)


def _use_key(digest: str) -> int:
    return int(digest[15:30], 16)


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


def _drop_unneeded(owner: DatabaseOwner, keep: str) -> None:
    """After a build, drop the templates nobody needs any more (one catalog read for both kinds):

    - this folder's templates built from other migrations;
    - templates built on this machine for a project folder that no longer exists (a deleted
      worktree, a temporary checkout): each folder has templates of its own, and they would stay on
      the server for good. Templates whose mark names no folder (made by earlier versions) are left
      to ``xaio cache clear``.

    Only after a build, so a cached start pays nothing for it."""
    host = socket.gethostname()
    outdated = f"{owner.prefix}_tpl_"
    for name, mark in owner.marked_databases(prefix="xaio_").items():
        if name == keep or mark.get("kind") != "template":
            continue
        where = mark.get("where")
        orphaned = (
            mark.get("host") == host and isinstance(where, str) and os.path.isabs(where) and not os.path.isdir(where)
        )
        if name.startswith(outdated) or orphaned:
            _drop_unused(owner, name, mark)


def _drop_unused(owner: DatabaseOwner, name: str, mark: dict[str, object]) -> None:
    """Drop a template unless a live session holds its "in use" lock (it may be cloning from it)."""
    digest = str(mark.get("hash") or "")
    if len(digest) < 30:
        return  # not a mark this plugin wrote for a template
    if not owner.try_lock(_use_key(digest)):
        return  # a live session (of this folder or another one) still clones from it
    try:
        owner.drop(name)
    except Exception:  # another run may be cloning from it right now; a later build retries
        pass
    finally:
        owner.unlock(_use_key(digest))
