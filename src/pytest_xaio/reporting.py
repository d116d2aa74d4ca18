"""What the plugin prints: a header line when the run configures it, and the end-of-run summary.

Under pytest-xdist the servers and templates are started by the workers, and the controller (the
process that prints) starts nothing. Each worker therefore hands its summary lines back through
xdist's ``workeroutput``; the controller prints each distinct line once, with the workers that used it.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_xaio.config import configured_names, get_settings

__all__ = ["header", "receive_from_worker", "send_to_controller", "summary"]

_WORKER_KEY = "xaio_summary"
_received_key = pytest.StashKey[dict[str, list[str]]]()


def header(config: pytest.Config) -> str | None:
    """``xaio: postgres=… isolation=…`` only when the run sets an xaio setting; nothing otherwise."""
    if not configured_names(config):
        return None
    settings = get_settings(config)
    return f"xaio: postgres={settings.postgres.postgres} isolation={settings.postgres.isolation}"


def send_to_controller(config: pytest.Config, lines: list[str]) -> None:
    """On an xdist worker, put this worker's summary lines where xdist carries them to the controller."""
    workeroutput = getattr(config, "workeroutput", None)
    if isinstance(workeroutput, dict):
        workeroutput[_WORKER_KEY] = list(lines)


def receive_from_worker(node: Any) -> None:
    """On the controller, keep a finished worker's lines (``pytest_testnodedown``)."""
    output = getattr(node, "workeroutput", None) or {}
    lines = output.get(_WORKER_KEY) or []
    if not lines:
        return
    worker = str(output.get("workerid") or getattr(getattr(node, "gateway", None), "id", "worker"))
    received = node.config.stash.setdefault(_received_key, {})
    received[worker] = [str(line) for line in lines]


def summary(config: pytest.Config, own: list[str]) -> list[str]:
    """This process's lines, then each distinct worker line once, naming the workers that reported it."""
    received = config.stash.get(_received_key, {})
    by_line: dict[str, list[str]] = {}
    for worker in sorted(received):
        for line in received[worker]:
            by_line.setdefault(line, []).append(worker)
    out = list(own)
    for line, workers in by_line.items():
        if line not in out:
            out.append(f"{line} [{', '.join(workers)}]")
    return out
