"""The docs stay true: generated text is current, and every Python block runs on the example app.

Each ```python block in docs/ that defines tests is copied into a copy of examples/saas_app's
tests/ and run there with the example's own configuration (embedded Postgres, fakes on), as a
reader would paste it. A block that only makes sense in another project (routes the example app
does not have) says so in a comment right above it, ``<!-- snippet: compile-only (why) -->``, and
is still compiled. Any other block must compile.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from projects import copy_tree

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLE = ROOT / "examples" / "saas_app"
_BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.S)


def _reference() -> object:
    spec = importlib.util.spec_from_file_location("docs_reference", DOCS / "_hooks" / "reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_docs_are_current() -> None:
    stale = _reference().stale_files(DOCS)  # type: ignore[attr-defined]
    assert stale == [], f"run python docs/_hooks/reference.py --write: {stale} are stale"


def blocks() -> list[tuple[str, int, str, bool]]:
    """(file, line, code, runnable) for every ```python block in docs/."""
    found = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("code")) + 1
            runnable = "def test_" in match.group("code") and "snippet: compile-only" not in match.group("before")
            found.append((path.name, line, match.group("code"), runnable))
    return found


def test_every_python_block_compiles() -> None:
    for name, line, code, _ in blocks():
        compile(code, f"docs/{name}:{line}", "exec")


@pytest.mark.slow
def test_every_test_block_passes_on_the_example_app(pytester: pytest.Pytester) -> None:
    runnable = [(name, line, code) for name, line, code, ok in blocks() if ok]
    assert len(runnable) >= 20, "most doc blocks run on the example app"
    project = pytester.path / "saas_app_copy"
    copy_tree(EXAMPLE, project)
    expected = 0
    for name, line, code in runnable:
        module = project / "tests" / f"test_doc_{Path(name).stem}_{line}.py"
        module.write_text(f"# docs/{name}, line {line}\nimport pytest\n\n{code}\n", encoding="utf-8")
        expected += len(re.findall(r"^(?:async )?def test_", code, re.M))
    import subprocess
    import sys

    files = sorted(str(p.relative_to(project)) for p in (project / "tests").glob("test_doc_*.py"))
    run = subprocess.run(  # a child process: the example app's own rootdir, ini and conftest
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "--no-cov", *files],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    last = run.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", last)
    # Parametrized blocks and the matrix expand into more tests than there are functions.
    assert passed is not None, last
    assert int(passed.group(1)) >= expected, last
    assert "failed" not in last, last
    assert "error" not in last, last
