"""`xaio doctor` and `xaio cache clear`: what this machine offers, and clearing only the plugin's own cache."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import uuid
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest
from projects import copy_project, xaio

from pytest_xaio.config import XaioSettings
from pytest_xaio.postgres.databases import DatabaseOwner
from pytest_xaio.postgres.providers import connect_url, start_postgres


def _fake_cluster(base: Path, clients: list[str] | None = None) -> Path:
    (base / "data").mkdir(parents=True)
    (base / "data" / "PG_VERSION").write_text("18\n")
    (base / ".lock").touch()
    (base / "clients.json").write_text(json.dumps(clients or []))
    return base


def test_doctor_reports_providers_and_cache(tmp_path: Path, service_postgres_url: str) -> None:
    cache = tmp_path / "cache"
    _fake_cluster(cache / "embedded-pg18")
    (cache / "embedded-pg18" / "data" / "big").write_bytes(b"x" * 300_000)
    result = xaio(
        "doctor",
        cwd=tmp_path,
        env={
            "XAIO_CACHE_DIR": str(cache),
            "XAIO_POSTGRES_URL": service_postgres_url,
            "XAIO_REDIS_URL": "redis://127.0.0.1:1/0",
        },
    )
    assert result.returncode == 1, result.stderr  # the configured Redis does not answer
    out = result.stdout
    assert "  fail  redis       redis://127.0.0.1:1/0 does not answer" in out
    assert out.rstrip().endswith("xaio doctor: 1 check failed: redis")
    assert f"  url        yes: {service_postgres_url} answers (PostgreSQL " in out
    assert "  embedded   yes: wheel " in out
    assert "  container  " in out
    assert "  local      " in out
    assert "  url        no: redis://127.0.0.1:1/0 does not answer" in out
    assert f"Cache: {cache} (293." in out
    assert "embedded-pg18" in out
    assert "PostgreSQL cluster, stopped" in out


def test_doctor_reads_pyproject_and_rejects_a_broken_one(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'xaio_cache_dir = "my-cache"\n')
    result = xaio("doctor", str(project), env={"XAIO_CACHE_DIR": None})
    assert result.returncode == 0, result.stderr
    assert f"Cache: {project / 'my-cache'} (not created yet)" in result.stdout
    assert "url        not configured" in result.stdout
    pyproject.write_text("[tool.pytest.ini_options\n")
    broken = xaio("doctor", str(project))
    assert broken.returncode == 1
    assert "  fail  settings    pytest cannot read the configuration: " in broken.stdout
    assert "Traceback" not in broken.stdout + broken.stderr


def test_cache_clear_removes_only_plugin_clusters(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _fake_cluster(cache / "embedded-pg18")
    _fake_cluster(cache / "local-pg15")
    (cache / "embedded-pgfoo").mkdir(parents=True)  # the right name, but none of a cluster's files
    (cache / "notes.txt").write_text("mine")
    result = xaio("cache", "clear", env={"XAIO_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in cache.iterdir()) == ["embedded-pgfoo", "notes.txt"]
    assert "removed embedded-pg18" in result.stdout
    assert "removed local-pg15" in result.stdout
    assert "left 2 other entries" in result.stdout
    again = xaio("cache", "clear", env={"XAIO_CACHE_DIR": str(tmp_path / "absent")})
    assert again.returncode == 0
    assert "nothing to clear" in again.stdout


def test_cache_clear_keeps_a_cluster_in_use_unless_forced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _fake_cluster(cache / "embedded-pg18", clients=[f"{os.getpid()}:abc"])
    kept = xaio("cache", "clear", env={"XAIO_CACHE_DIR": str(cache)})
    assert kept.returncode == 0
    assert f"kept    embedded-pg18: test sessions {os.getpid()} are using it" in kept.stdout
    assert (cache / "embedded-pg18").is_dir()
    forced = xaio("cache", "clear", "--force", env={"XAIO_CACHE_DIR": str(cache)})
    assert forced.returncode == 0
    assert not (cache / "embedded-pg18").exists()


def test_cache_clear_stops_a_running_embedded_server(tmp_path: Path, embedded_cache: Path) -> None:
    cache = embedded_cache
    settings = XaioSettings.from_values({"cache_dir": str(cache), "postgres": "embedded"}, rootdir=str(tmp_path))
    stack = ExitStack()  # never closed: the server must be stopped by `xaio cache clear`, not by us
    server = start_postgres(settings, stack)
    cluster = next(cache.glob("embedded-pg*"))
    pid = int((cluster / "data" / "postmaster.pid").read_text().split()[0])
    try:
        doctor = xaio("doctor", cwd=tmp_path, env={"XAIO_CACHE_DIR": str(cache)})
        assert f"server running (pid {pid}, port {server.port})" in doctor.stdout
        result = xaio("cache", "clear", "--force", env={"XAIO_CACHE_DIR": str(cache)})
        assert result.returncode == 0, result.stderr
        assert f"stopped the server of {cluster.name} (pid {pid}, port {server.port})" in result.stdout
        assert not list(cache.glob("embedded-pg*"))
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres", connect_timeout=3)
    finally:
        cmdline = Path(f"/proc/{pid}/cmdline")
        with contextlib.suppress(OSError):  # a failed clear must not leave a server behind
            if b"postgres" in cmdline.read_bytes():
                os.kill(pid, signal.SIGQUIT)


def test_cache_clear_templates_drops_only_marked_templates_of_the_project(
    tmp_path: Path, service_postgres_url: str
) -> None:
    project = f"clitpl{uuid.uuid4().hex[:8]}"
    settings = XaioSettings.from_values({"postgres_url": service_postgres_url}, rootdir=str(tmp_path))
    server = connect_url(settings)
    mine = DatabaseOwner(server, project, "t")
    other = DatabaseOwner(server, project + "x", "t")
    template = mine.create(name=f"{mine.prefix}_tpl_0123456789ab", kind="template", is_template=True)
    other_template = other.create(name=f"{other.prefix}_tpl_0123456789ab", kind="template", is_template=True)
    unmarked = f"{mine.prefix}_tpl_usermade"
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{unmarked}"')
    try:
        result = xaio(
            "cache",
            "clear",
            "--templates",
            service_postgres_url,
            env={"XAIO_PROJECT": project, "XAIO_CACHE_DIR": str(tmp_path / "cache")},
        )
        assert result.returncode == 0, result.stderr
        assert f"dropped {template.name}" in result.stdout
        assert not mine.exists(template.name)
        assert mine.exists(unmarked)  # no mark: never the plugin's to drop
        assert other.exists(other_template.name)  # another project's template stays
    finally:
        other.drop(other_template)
        with psycopg.connect(service_postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{unmarked}"')


def test_cache_clear_templates_drops_the_kept_worker_databases_too(tmp_path: Path, service_postgres_url: str) -> None:
    from pytest_xaio.postgres.reuse import _lock_key  # the lock a running session holds on its kept database

    project = f"clikeep{uuid.uuid4().hex[:8]}"
    settings = XaioSettings.from_values({"postgres_url": service_postgres_url}, rootdir=str(tmp_path))
    server = connect_url(settings)
    mine = DatabaseOwner(server, project, "t", location=str(tmp_path))
    other = DatabaseOwner(server, project + "x", "t", location=str(tmp_path))
    kept_mark = {"reuse": True, "hash": "0123456789ab" * 5, "state": "clean"}
    template = mine.create(name=f"{mine.prefix}_tpl_0123456789ab", kind="template", is_template=True)
    kept = mine.create(name=f"{mine.prefix}_gw0_keep0", kind="worker", extra=kept_mark)
    held = mine.create(name=f"{mine.prefix}_gw0_keep1", kind="worker", extra=kept_mark)
    throwaway = mine.create(kind="worker")  # a worker database not kept across runs: a session's own
    others_kept = other.create(name=f"{other.prefix}_gw0_keep0", kind="worker", extra=kept_mark)
    unmarked = f"{mine.prefix}_gw0_keep2"
    with psycopg.connect(service_postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{unmarked}"')
    session = psycopg.connect(service_postgres_url, autocommit=True)  # a live session holding keep1
    session.execute("SELECT pg_advisory_lock(%s)", (_lock_key(held.name),))
    try:
        result = xaio(
            "cache",
            "clear",
            str(tmp_path),
            "--templates",
            service_postgres_url,
            env={"XAIO_PROJECT": project, "XAIO_CACHE_DIR": str(tmp_path / "cache")},
        )
        assert result.returncode == 0, result.stderr
        assert f"dropped {template.name}" in result.stdout
        assert f"dropped {kept.name} (a kept worker database)" in result.stdout
        assert f"kept    {held.name}: a running test session holds it" in result.stdout
        assert not mine.exists(template.name)
        assert not mine.exists(kept.name)
        assert mine.exists(held.name)
        assert mine.exists(throwaway.name)  # not a kept one: its own session drops it
        assert mine.exists(unmarked)  # no mark: never the plugin's to drop
        assert other.exists(others_kept.name)  # another project's
    finally:
        session.close()
        for owner, db in ((mine, held), (mine, throwaway), (other, others_kept)):
            owner.drop(db)
        with psycopg.connect(service_postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{unmarked}"')


def test_cache_clear_templates_with_a_bad_url(tmp_path: Path) -> None:
    result = xaio(
        "cache",
        "clear",
        "--templates",
        "postgresql://postgres@127.0.0.1:1/postgres",
        env={"XAIO_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "xaio cache: error: cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1"
    )
