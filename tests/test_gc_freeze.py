"""xaio_gc_freeze: the objects made before the first test are frozen out of the garbage collector's
full collections for the session, and unfrozen when it ends.

Each run is a subprocess: the session running these tests has frozen its own start-up objects.
"""

from __future__ import annotations

import pytest

# The module-level list is made while the tests are collected, so it is frozen with the rest;
# the atexit handler runs after pytest's own end of session, so it sees whether the session unfroze.
TEST_FILE = """
import atexit
import gc
import os

made_at_import = [object() for _ in range(100)]


@atexit.register
def _after_the_session():
    with open(os.environ["FREEZE_REPORT"], "w") as out:
        out.write(str(gc.get_freeze_count()))


def test_freeze_count():
    print("frozen during the test:", gc.get_freeze_count())
    assert gc.get_freeze_count() {check}
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, check: str, *args: str) -> int:
    report = pytester.path / "freeze-report.txt"
    monkeypatch.setenv("FREEZE_REPORT", str(report))
    pytester.makepyfile(test_freeze=TEST_FILE.format(check=check))
    result = pytester.runpytest_subprocess("-p", "xaio", "-s", *args)
    result.assert_outcomes(passed=1)
    return int(report.read_text())


def test_start_up_objects_are_frozen_for_the_session_then_unfrozen(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Well over the 100 objects the test module made: the modules imported before are frozen too.
    after = _run(pytester, monkeypatch, "> 10_000")
    assert after == 0, "the session ended with objects still frozen"


def test_xaio_gc_freeze_false_leaves_the_collector_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(pytester, monkeypatch, "== 0", "-o", "xaio_gc_freeze=false") == 0
