"""The end-of-run report: a route x case-kind table of what passed, failed and was skipped (with
the reason), printed after the run and, with ``--xaio-matrix-report PATH``, written as JSON for CI.

Cases are recognised by the user property the ``case`` fixture sets, so the table also works under
xdist (the controller sees the workers' reports, user properties included).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_xaio.matrix.expect import CASE_KINDS

__all__ = ["PROPERTY", "MatrixReport", "Outcome"]

PROPERTY = "xaio_matrix_case"
_KIND_ORDER = ("success", "robustness", "validation", "unauthenticated", "forbidden", "not_found")


@dataclass
class Outcome:
    """One case's result: ``route`` (``GET /x``), ``name`` (``expired-token``), outcome and reason."""

    case_id: str
    route: str
    name: str
    outcome: str = "passed"
    reason: str = ""

    @property
    def kind(self) -> str:
        return CASE_KINDS.get(self.name, "other")


@dataclass
class MatrixReport:
    """Collects the matrix cases' reports during the run."""

    cases: dict[str, Outcome] = field(default_factory=dict)
    not_covered: dict[str, None] = field(default_factory=dict)  # an ordered set of lines

    def add(self, report: pytest.TestReport) -> None:
        value = dict(report.user_properties).get(PROPERTY)
        if not isinstance(value, Mapping):
            return
        for line in value.get("not_covered") or ():
            self.not_covered.setdefault(str(line))
        key = report.nodeid
        entry = self.cases.setdefault(key, Outcome(str(value["id"]), str(value["route"]), str(value["name"])))
        if report.failed:
            if entry.outcome != "failed":
                entry.outcome, entry.reason = "failed", _first_line(report)
        elif report.skipped and entry.outcome == "passed":
            entry.outcome, entry.reason = "skipped", _skip_reason(report)

    def as_json(self) -> dict[str, Any]:
        routes: dict[str, dict[str, list[dict[str, str]]]] = {}
        for case in self.cases.values():
            cell = routes.setdefault(case.route, {}).setdefault(case.kind, [])
            cell.append({"case": case.name, "id": case.case_id, "outcome": case.outcome, "reason": case.reason})
        totals = {o: sum(1 for c in self.cases.values() if c.outcome == o) for o in ("passed", "failed", "skipped")}
        return {"kinds": list(_KIND_ORDER), "routes": routes, "totals": totals, "not_covered": list(self.not_covered)}

    def write(self, path: str) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.as_json(), indent=2) + "\n")

    def lines(self) -> list[str]:
        """The table, then the failed and skipped cases with their reasons."""
        data = self.as_json()
        totals = data["totals"]
        # Not "N passed": scripts (and pytester) look for pytest's own summary line with that shape.
        out = [
            f"{len(data['routes'])} routes, {len(self.cases)} cases (ok {totals['passed']}, "
            f"failed {totals['failed']}, skipped {totals['skipped']})"
        ]
        kinds = [k for k in _KIND_ORDER if any(k in r for r in data["routes"].values())]
        rows = [(route, [_cell(cells.get(k, [])) for k in kinds]) for route, cells in data["routes"].items()]
        width = max([len(r) for r in data["routes"]] + [5])
        widths = [max([len(k)] + [len(cells[i]) for _, cells in rows]) for i, k in enumerate(kinds)]
        for route, cells in [("route", kinds), *rows]:
            padded = "".join(f"  {c:<{w}}" for c, w in zip(cells, widths, strict=True))
            out.append((route.ljust(width) + padded).rstrip())
        for outcome in ("failed", "skipped"):
            chosen = [c for c in self.cases.values() if c.outcome == outcome]
            if chosen:
                out.append(f"{outcome}:")
                out.extend(f"  {c.case_id}: {c.reason}" for c in chosen)
        if self.not_covered:
            out.append("not covered:")
            out.extend(f"  {line}" for line in self.not_covered)
        return out


def _cell(cases: Iterable[Mapping[str, str]]) -> str:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for case in cases:
        counts[case["outcome"]] += 1
    parts = [f"{n} {label}" for label, n in (("FAIL", counts["failed"]), ("ok", counts["passed"])) if n]
    parts += [f"{counts['skipped']} skip"] if counts["skipped"] else []
    return " ".join(parts) or "-"


def _first_line(report: pytest.TestReport) -> str:
    text = str(report.longreprtext or "").strip().splitlines()
    useful = [line.strip() for line in text if line.strip() and not line.startswith("endpoint matrix case")]
    # The case's own verdict line ("case x: expected status 404, got 200"), not an exception's tail.
    verdict = [line for line in useful if "expected status" in line or "(status " in line]
    return (verdict or useful or [report.when])[0][:300]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")
