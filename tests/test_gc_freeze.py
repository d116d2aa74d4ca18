"""xaio_gc_freeze: what the session's start made is frozen out of the garbage collector's full
collections, in three steps (before the conftests are imported, once they are, once the tests are
collected), and unfrozen when the session ends.

Each run is a subprocess: the session running these tests has frozen its own start-up objects.
"""

from __future__ import annotations

import json

import pytest

# Each step makes 20,000 tracked objects and writes the freeze count it sees: at the conftest's
# import (pytest and the plugins frozen before it), at pytest_collection (the conftest's objects
# frozen by pytest_configure), in the test (the test module's objects frozen once collected), and
# from an atexit handler, which runs after pytest's end of session.
CONFTEST = """
import atexit
import gc
import json
import os

counts = {"conftest": gc.get_freeze_count()}
made_by_conftest = [[] for _ in range(20_000)]


def pytest_collection(session):
    counts["collection"] = gc.get_freeze_count()


@atexit.register
def _after_the_session():
    counts["exit"] = gc.get_freeze_count()
    with open(os.environ["FREEZE_REPORT"], "w") as out:
        out.write(json.dumps(counts))
"""

TEST_FILE = """
import gc

from conftest import counts

made_by_the_module = [[] for _ in range(20_000)]


def test_freeze_count():
    counts["test"] = gc.get_freeze_count()
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, int]:
    report = pytester.path / "freeze-report.txt"
    monkeypatch.setenv("FREEZE_REPORT", str(report))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_freeze=TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "xaio", *args)
    result.assert_outcomes(passed=1)
    counts: dict[str, int] = json.loads(report.read_text())
    return counts


def test_start_up_objects_are_frozen_step_by_step_then_unfrozen(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = _run(pytester, monkeypatch)
    assert counts["conftest"] > 10_000, "pytest and its plugins were not frozen before the conftest's import"
    assert counts["collection"] >= counts["conftest"] + 20_000, "the conftest's objects were not frozen"
    assert counts["test"] >= counts["collection"] + 20_000, "the test module's objects were not frozen"
    assert counts["exit"] == 0, "the session ended with objects still frozen"


def test_xaio_gc_freeze_false_leaves_the_collector_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = _run(pytester, monkeypatch, "-o", "xaio_gc_freeze=false")
    assert counts == {"conftest": 0, "collection": 0, "test": 0, "exit": 0}


# What docs/troubleshooting.md says about it: a cycle made at import is not freed by gc.collect()
# inside a test while frozen, and xaio_gc_freeze = false gives the collector back.
IMPORT_TIME_CYCLE = """
import gc
import weakref


class Node:
    pass


made_at_import = Node()
made_at_import.itself = made_at_import
ref = weakref.ref(made_at_import)


def test_the_cycle_is_freed():
    global made_at_import
    del made_at_import
    gc.collect()
    assert ref() is None
"""


def test_an_import_time_cycle_waits_for_the_session_end_unless_freezing_is_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cycle=IMPORT_TIME_CYCLE)
    pytester.runpytest_subprocess("-p", "xaio").assert_outcomes(failed=1)
    pytester.runpytest_subprocess("-p", "xaio", "-o", "xaio_gc_freeze=false").assert_outcomes(passed=1)
