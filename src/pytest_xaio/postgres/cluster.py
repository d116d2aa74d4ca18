"""A throwaway PostgreSQL cluster kept in a cache dir, shared by every session that needs it.

The data directory survives runs (initdb and the template database are paid once); the server is
started by the first session that needs it and stopped by the last one out. Sessions register in a
small file under a lock, so xdist workers and nested pytester runs share one server, and a run that
crashed leaves nothing the next one cannot recover.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from pytest_xaio.errors import config_error
from pytest_xaio.postgres import PostgresServer, free_port

__all__ = [
    "Cluster",
    "cluster_lock",
    "is_postmaster_of",
    "live_clients",
    "process_alive",
    "running_server",
    "stop_postmaster",
]

# The data is throwaway, so durability is traded for speed and a small footprint.
#: How long a server that answers with an error (busy) is waited for before giving up on it.
_BUSY_WAIT = 20.0

_SERVER_SETTINGS = """
# written by pytest-xaio: throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
shared_buffers = 32MB
max_connections = 200
max_locks_per_transaction = 256
log_min_messages = warning
log_min_error_statement = error
"""


class Cluster:
    """One data directory and the server running on it."""

    def __init__(self, bin_dir: Path, base_dir: Path, *, provider: str, run_as: str | None = None) -> None:
        self.bin_dir = bin_dir
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.log_file = base_dir / "server.log"
        self.provider = provider
        self.run_as = run_as
        self._token = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # --- public ---------------------------------------------------------------------------------
    def start(self) -> PostgresServer:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._ensure_initdb()
            port = self._running_port()
            if port is None:
                port = self._start_server()
            self._update_clients(add=self._token)
        version = _server_version(port)
        return PostgresServer("127.0.0.1", port, "postgres", None, version, self.provider)

    def release(self) -> None:
        """Leave the server; the last session out stops it (the data directory stays)."""
        with self._locked():
            remaining = self._update_clients(remove=self._token)
            server = running_server(self.base_dir) if not remaining else None
            if server is not None:
                # Signalled by the plugin itself (not pg_ctl), so the pid is checked to be this cluster's.
                stop_postmaster(server[0], self.data_dir)

    # --- internals ------------------------------------------------------------------------------
    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return cluster_lock(self.base_dir)

    def _run(self, args: list[str], *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.run_as is not None:
            import pwd

            # Drop root's groups too: with gid 0 left in place, root-group permission bits apply
            # instead of the "other" bits the cache directories were opened up with.
            entry = pwd.getpwnam(self.run_as)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=str(self.base_dir),
            **kwargs,  # type: ignore[call-overload]
        )
        if check and result.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            config_error(
                f"{Path(args[0]).name} failed for the {self.provider} PostgreSQL in {self.data_dir} "
                f"(exit {result.returncode}):\n{result.stderr.strip()}\n{tail}".rstrip(),
                f"delete {self.base_dir} to start from a clean cluster, or pick another provider "
                "with --xaio-postgres / --xaio-postgres-url",
            )
        return result  # type: ignore[no-any-return]

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args], check=check)

    def _ensure_initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists() and (self.data_dir / "xaio.conf").exists():
            return
        # A half-made directory (a run killed during initdb) is useless: start again.
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(mode=0o700)
        self._own(self.base_dir)
        self._own(self.data_dir)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\ninclude_if_exists = 'xaio.conf'\n")
        (self.data_dir / "xaio.conf").write_text(_SERVER_SETTINGS)
        self._own(self.data_dir / "xaio.conf")

    def _own(self, path: Path) -> None:
        if self.run_as is None:
            return
        import pwd

        entry = pwd.getpwnam(self.run_as)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _running_port(self) -> int | None:
        """The port of a healthy server on this data dir, recovering from a crashed run's leftovers.

        Only a server that does not answer at all, and that no live session is using, is treated as
        hung and stopped. A server that answers with an error ("too many clients", "starting up") is
        alive and busy: it is waited for, never killed, because another session's tests run on it.
        """
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        server = running_server(self.base_dir)
        if server is not None:
            pid, port = server
            deadline = time.monotonic() + _BUSY_WAIT
            while True:
                state = _probe(port) if port else "silent"
                if state == "ok":
                    return port
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.5)
            others = _live_tokens(self.base_dir)
            if state == "busy" or others:
                config_error(
                    f"the {self.provider} PostgreSQL in {self.data_dir} (pid {pid}, port {port}) is running but "
                    + (
                        "refuses new connections (busy: too many clients or starting up)"
                        if state == "busy"
                        else "does not answer"
                    )
                    + (f"; test sessions {', '.join(t.split(':')[0] for t in others)} use it" if others else "")
                    + ", so the plugin leaves it alone",
                    "wait for the other test runs to finish, or raise max_connections in "
                    f"{self.data_dir / 'xaio.conf'}",
                )
            # Nobody uses it and it does not answer at all: it is hung. Stop it hard.
            stop_postmaster(pid, self.data_dir, fast=False)
        # Stale lock of a dead server (or a pid now used by another program): postgres would refuse
        # to start while the file names a live pid, and that process is not ours to signal.
        pid_file.unlink(missing_ok=True)
        return None

    def _start_server(self) -> int:
        last: subprocess.CompletedProcess[str] | None = None
        for _ in range(3):  # a free port can be taken between choosing and binding it
            port = free_port()
            self.log_file.touch()
            self._own(self.log_file)
            last = self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file), "-o", f"-p {port}", check=False)
            if last.returncode == 0 and _answers(port):
                return port
        assert last is not None
        tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
        config_error(
            f"the {self.provider} PostgreSQL in {self.data_dir} did not start:\n{last.stderr.strip()}\n{tail}",
            f"read {self.log_file}; deleting {self.base_dir} gives a fresh cluster",
        )

    def _update_clients(self, add: str | None = None, remove: str | None = None) -> list[str]:
        clients = _live_tokens(self.base_dir)
        if add and add not in clients:
            clients.append(add)
        if remove in clients:
            clients.remove(remove)
        (self.base_dir / "clients.json").write_text(json.dumps(clients))
        return clients


@contextlib.contextmanager
def cluster_lock(base_dir: Path) -> Iterator[None]:
    """The lock every session (and ``xaio cache clear``) takes before touching a cluster."""
    with open(base_dir / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def live_clients(base_dir: Path) -> list[int]:
    """Pids of the live sessions registered on a cluster (read only)."""
    return [int(token.split(":", 1)[0]) for token in _live_tokens(base_dir)]


def _live_tokens(base_dir: Path) -> list[str]:
    """The ``pid:nonce`` tokens in ``clients.json`` whose process is still alive."""
    try:
        tokens = json.loads((base_dir / "clients.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(tokens, list):
        return []
    return [
        t
        for t in tokens
        if isinstance(t, str) and t.split(":", 1)[0].isdigit() and process_alive(int(t.split(":", 1)[0]))
    ]


def running_server(base_dir: Path) -> tuple[int, int] | None:
    """``(pid, port)`` of the postmaster running on a cluster's data dir, if one is."""
    data_dir = base_dir / "data"
    try:
        lines = (data_dir / "postmaster.pid").read_text(errors="replace").splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    return (pid, port) if is_postmaster_of(pid, data_dir) else None


def stop_postmaster(pid: int, data_dir: Path, *, fast: bool = True) -> bool:
    """Stop the postmaster of ``data_dir`` by signal, escalating; True once it is gone.

    Every signal is sent only after checking that ``pid`` is still that cluster's postmaster: a pid
    from a stale ``postmaster.pid`` may belong to any other program by now.
    """
    # SIGINT is PostgreSQL's "fast" shutdown; SIGQUIT its immediate one; SIGKILL the last resort.
    steps = ((signal.SIGINT, 30.0),) if fast else ()
    for sig, wait in (*steps, (signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
        if not is_postmaster_of(pid, data_dir):
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and is_postmaster_of(pid, data_dir):
            time.sleep(0.1)
    return not is_postmaster_of(pid, data_dir)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs. A zombie does not: a killed run's xdist workers, orphaned when their
    controller died too, stay zombies until PID 1 reaps them, and a container's PID 1 may never."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS), or it went meanwhile
        return False
    # "pid (command) state ...": the command may hold spaces and parentheses, the state follows the last ")"
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is a PostgreSQL server running on ``data_dir``.

    The program must be a ``postgres`` executable and its working directory (the postmaster
    changes into its data directory) must be ``data_dir``. When that cannot be read (no /proc,
    another user's process), the answer is no: the plugin never signals a process it cannot identify.
    """
    if pid <= 0:
        return False
    proc = Path(f"/proc/{pid}")
    try:
        exe = os.readlink(proc / "exe")
        cwd = os.readlink(proc / "cwd")
    except OSError:
        return False
    name = Path(exe.removesuffix(" (deleted)")).name
    if name not in ("postgres", "postmaster"):
        return False
    return os.path.realpath(cwd) == os.path.realpath(data_dir)


def _probe(port: int) -> str:
    """``ok`` (it serves queries), ``busy`` (it answered with an error) or ``silent`` (no answer)."""
    import psycopg

    try:
        with psycopg.connect(
            host="127.0.0.1", hostaddr="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=5
        ) as conn:
            conn.execute("SELECT 1")
        return "ok"
    except psycopg.Error as exc:
        # An error with an SQLSTATE came from the server itself ("too many clients", "starting up").
        return "busy" if getattr(exc, "sqlstate", None) else "silent"


def _answers(port: int) -> bool:
    return _probe(port) == "ok"


def _server_version(port: int) -> str:
    import psycopg

    with psycopg.connect(host="127.0.0.1", hostaddr="127.0.0.1", port=port, user="postgres", dbname="postgres") as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"
