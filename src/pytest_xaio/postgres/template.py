"""The template database: the app's migrations applied once, cached across runs by their hash."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_xaio.config import XaioSettings
from pytest_xaio.errors import config_error
from pytest_xaio.migrations.source import MigrationError, MigrationSource, discover
from pytest_xaio.postgres.databases import DatabaseOwner

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
    lock_id = int(digest[:15], 16)
    with owner.admin() as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (lock_id,))
        try:
            mark = owner.mark_of(name)
            if mark is not None and mark.get("complete"):
                return Template(name, digest, cached=True, source=source)
            if mark is not None:
                owner.drop(name)  # a build that died half-way
            db = owner.create(name=name, kind="template", extra={"hash": digest, "complete": False})
            try:
                source.apply_to_head(db.url)
            except MigrationError as exc:
                owner.drop(db)
                config_error(
                    f"migration failed: {exc}",
                    "fix that migration; the template is rebuilt on the next run because its hash changes",
                )
            owner.set_mark(name, {"kind": "template", "hash": digest, "complete": True, "project": owner.project})
            owner.forget(name)
            _drop_outdated(owner, keep=name)
            return Template(name, digest, cached=False, source=source)
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))


def _drop_outdated(owner: DatabaseOwner, keep: str) -> None:
    """Templates of this project built from older migrations are dead weight: drop them."""
    for name, mark in owner.marked_databases(prefix=f"{owner.prefix}_tpl_").items():
        if name != keep and mark.get("kind") == "template":
            try:
                owner.drop(name)
            except Exception:  # another run may be cloning from it right now; next run retries
                pass
