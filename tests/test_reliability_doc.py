"""docs/reliability.md states the fault, safety, bad-input and matrix bad-input figures: they must match
the tests (the matrix figure counts the bad-input rows whose id starts with ``matrix-``)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES = {"faults": "tests/test_faults.py", "safety": "tests/test_safety.py", "bad inputs": "tests/test_bad_inputs.py"}


def test_reliability_figures_match_the_collected_tests() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "faults or not faults",
            *SUITES.values(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    ids = [line for line in out.splitlines() if "::" in line]
    counts = Counter(line.split("::", 1)[0] for line in ids)
    matrix = sum(1 for line in ids if line.startswith(f"{SUITES['bad inputs']}::test_bad_input[matrix-"))
    text = (ROOT / "docs" / "reliability.md").read_text()
    figures = re.search(r"<!-- figures -->(.*)<!-- /figures -->", text)
    assert figures is not None
    for name, path in SUITES.items():
        assert counts[path] > 0, out
        assert f"{name} {counts[path]}/{counts[path]}" in figures.group(1), (name, counts[path], figures.group(1))
    assert matrix > 0, out
    assert f"matrix bad inputs {matrix}/{matrix}" in figures.group(1), (matrix, figures.group(1))
