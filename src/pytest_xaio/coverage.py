"""Coverage gaps: with pytest-cov measuring, list the files under ``xaio_cov_threshold``, lowest first.

The numbers come from coverage.py's own data and analysis API (``Coverage.get_data()``,
``analysis2()``, ``branch_stats()``) on the Coverage object pytest-cov combined at the end of the run,
so they match pytest-cov's report. pytest-cov is optional: without it (or without ``--cov``) this module
does nothing, except refuse ``--xaio-cov-fail-under-file`` given on the command line.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_xaio.config import get_settings
from pytest_xaio.errors import config_error

__all__ = ["CoverageGaps", "FileCoverage", "analyze", "format_percent"]

_COV_PLUGIN = "_cov"  # the name pytest-cov registers its CovPlugin under when --cov is given


@dataclass(frozen=True)
class FileCoverage:
    """One measured file: its path (relative to the rootdir when under it), percent and missing lines."""

    path: str
    percent: float
    statements: int
    missing_lines: int
    missing: str  # coverage.py's ranges, e.g. "12-14, 20"


@dataclass(frozen=True)
class CoverageGaps:
    files: tuple[FileCoverage, ...]  # every measured file, lowest percent first
    threshold: float
    fail_under: float | None

    @property
    def under_threshold(self) -> list[FileCoverage]:
        return [f for f in self.files if f.percent < self.threshold]

    @property
    def failing(self) -> list[FileCoverage]:
        return [] if self.fail_under is None else [f for f in self.files if f.percent < self.fail_under]


_gaps_key = pytest.StashKey[CoverageGaps]()
_note_key = pytest.StashKey[str]()


def format_percent(percent: float) -> str:
    """One decimal, rounded down: a file at 79.96% must not read as 80.0% under an 80% threshold."""
    shown = math.floor(percent * 10 + 1e-9) / 10  # the epsilon keeps 57.1 (stored as 57.0999...) at 57.1
    return f"{shown:.1f}%"


# --- reading coverage.py's data -----------------------------------------------------------------
def analyze(cov: Any, rootdir: str | os.PathLike[str]) -> tuple[FileCoverage, ...]:
    """Every measured file of ``cov`` (a ``coverage.Coverage`` with data), lowest percent first.

    The report's include/omit settings apply as in coverage's own reports; a file that can't be
    analysed (source gone, not Python) is left out, as pytest-cov's reports do (ignore_errors)."""
    from coverage.exceptions import CoverageException
    from coverage.files import GlobMatcher, prep_patterns

    data = cov.get_data()
    include = cov.get_option("report:include") or ()
    omit = cov.get_option("report:omit") or ()
    include_match = GlobMatcher(prep_patterns(include), "report_include") if include else None
    omit_match = GlobMatcher(prep_patterns(omit), "report_omit") if omit else None
    root = Path(rootdir).resolve()
    results: list[FileCoverage] = []
    for filename in sorted(data.measured_files()):
        if include_match is not None and not include_match.match(filename):
            continue
        if omit_match is not None and omit_match.match(filename):
            continue
        try:
            _, statements, _excluded, missing, missing_text = cov.analysis2(filename)
            branches = cov.branch_stats(filename) if data.has_arcs() else {}
        except (CoverageException, OSError, SyntaxError):
            continue
        n_branches = sum(total for total, _taken in branches.values())
        n_taken = sum(taken for _total, taken in branches.values())
        possible = len(statements) + n_branches
        done = len(statements) - len(missing) + n_taken
        percent = 100.0 * done / possible if possible else 100.0
        results.append(
            FileCoverage(_display_path(filename, root), percent, len(statements), len(missing), missing_text)
        )
    return tuple(sorted(results, key=lambda f: (f.percent, f.path)))


def _display_path(filename: str, root: Path) -> str:
    path = Path(filename)
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return filename


def _cov_plugin(config: pytest.Config) -> Any | None:
    """pytest-cov's plugin object when it is measuring this run (--cov given, not --no-cov)."""
    plugin = config.pluginmanager.get_plugin(_COV_PLUGIN)
    if plugin is None or getattr(plugin, "_disabled", False):
        return None
    return plugin


@contextmanager
def _in_dir(path: str | None) -> Iterator[None]:
    """Relative patterns in coverage's settings are relative to where pytest-cov started coverage."""
    if not path:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


# --- hooks --------------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    settings = get_settings(config).coverage
    if settings.cov_threshold > 100:
        config_error(
            f"xaio_cov_threshold is {settings.cov_threshold:g}, above 100%",
            "set a percent between 0 (no gaps section) and 100",
        )
    if settings.cov_fail_under_file is None or _cov_plugin(config) is not None:
        return
    if config.pluginmanager.get_plugin(_COV_PLUGIN) is not None:
        return  # --no-cov: measuring is turned off on purpose (pytest-cov says so itself)
    installed = importlib.util.find_spec("pytest_cov") is not None
    if config.getoption("xaio_cov_fail_under_file", default=None) is not None:
        config_error(
            "--xaio-cov-fail-under-file checks the coverage pytest-cov measures, and this run measures none",
            ("add --cov=YOUR_PACKAGE" if installed else "pip install pytest-cov and add --cov=YOUR_PACKAGE")
            + ", or drop --xaio-cov-fail-under-file",
        )
    # From ini or env it is a project default; a quick run without --cov is not a mistake.
    config.stash[_note_key] = (
        f"xaio: per-file coverage minimum ({settings.cov_fail_under_file:g}%) not checked: "
        "no coverage measured in this run (add --cov=YOUR_PACKAGE)"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    # tryfirst makes this wrapper the outer one, so pytest-cov has stopped and combined its data
    # (its own runtestloop wrapper) by the time the code after the yield runs.
    result = yield
    config = session.config
    plugin = _cov_plugin(config)
    if plugin is None or hasattr(config, "workerinput") or config.option.collectonly:
        return result
    options = getattr(plugin, "options", None)
    if getattr(options, "no_cov_on_fail", False) and session.testsfailed:
        return result
    controller = getattr(plugin, "cov_controller", None)
    cov = getattr(controller, "cov", None)
    if cov is None or not hasattr(cov, "analysis2"):
        return result
    settings = get_settings(config).coverage
    with _in_dir(getattr(controller, "topdir", None)):
        files = analyze(cov, config.rootpath)
    gaps = CoverageGaps(files, settings.cov_threshold, settings.cov_fail_under_file)
    config.stash[_gaps_key] = gaps
    if gaps.failing:
        session.testsfailed += 1  # the run's exit code becomes 1 (TESTS_FAILED), as pytest-cov does
    return result


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    note = config.stash.get(_note_key, None)
    if note:
        terminalreporter.write_line(note, yellow=True)
    gaps = config.stash.get(_gaps_key, None)
    if gaps is None:
        return
    if gaps.threshold > 0:
        _write_gaps(terminalreporter, gaps)
    failing = gaps.failing
    if gaps.fail_under is not None:
        if failing:
            listed = ", ".join(f"{f.path} ({format_percent(f.percent)})" for f in failing)
            terminalreporter.write_line(
                f"FAIL xaio: {len(failing)} file{'s' if len(failing) != 1 else ''} under "
                f"--xaio-cov-fail-under-file={gaps.fail_under:g}%: {listed}",
                red=True,
                bold=True,
            )
        else:
            terminalreporter.write_line(
                f"xaio: every measured file reaches --xaio-cov-fail-under-file={gaps.fail_under:g}%", green=True
            )


def _write_gaps(tr: pytest.TerminalReporter, gaps: CoverageGaps) -> None:
    under = gaps.under_threshold
    tr.write_sep("=", f"xaio: coverage gaps (files under {gaps.threshold:g}%)")
    if not under:
        tr.write_line(f"no file under {gaps.threshold:g}% ({len(gaps.files)} measured)")
        return
    width = max(len(f.path) for f in under)
    for f in under:
        tr.write_line(f"{format_percent(f.percent):>6}  {f.path:<{width}}  missing {f.missing or '-'}")
    tr.write_line(f"{len(under)} of {len(gaps.files)} measured files under {gaps.threshold:g}%")
