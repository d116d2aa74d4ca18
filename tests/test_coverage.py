"""Coverage gaps report: real pytest-cov runs (in subprocesses, so they can't disturb a run of this
suite that is itself measured) on a small package with a well covered and a poorly covered module."""

from __future__ import annotations

import pytest

from pytest_xaio.coverage import format_percent

POOR = """\
def f(x):
    if x > 0:
        return 1
    y = x * 2
    z = y + 1
    return z


def g():
    a = 1
    b = 2
    return a + b
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """pkg/good.py is fully run, pkg/poor.py 4 of 10 lines, pkg/unused.py is never imported."""
    pytester.makeini(
        """
        [pytest]
        pythonpath = .
        asyncio_default_fixture_loop_scope = function
        """
    )
    pkg = pytester.mkpydir("pkg")
    (pkg / "good.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (pkg / "poor.py").write_text(POOR)
    (pkg / "unused.py").write_text("VALUE = 1\n\n\ndef h():\n    return VALUE\n")
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_pkg.py").write_text(
        "from pkg import good, poor\n\n"
        "def test_good():\n    assert good.add(1, 2) == 3\n    assert good.sub(3, 1) == 2\n\n"
        "def test_poor():\n    assert poor.f(1) == 1\n"
    )
    return pytester


SECTION = [
    "*= xaio: coverage gaps (files under 80%) =*",
    "  0.0%  pkg/unused.py  missing 1-5",
    " 40.0%  pkg/poor.py    missing 4-6, 10-12",
    "2 of 4 measured files under 80%",
]


def test_lists_files_under_the_threshold_lowest_first(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--cov=pkg", "tests")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(SECTION, consecutive=True)
    assert "pkg/good.py  missing" not in result.stdout.str()


def test_branch_coverage_counts_in_the_percent(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--cov=pkg", "--cov-branch", "tests")
    # 4 of 10 statements and 1 of 2 branch exits: 5/12 = 41.67%, shown rounded down
    result.stdout.fnmatch_lines([" 41.6%  pkg/poor.py    missing 4-6, 10-12"])


def test_threshold_option_changes_the_list(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--cov=pkg", "--xaio-cov-threshold=30", "tests")
    result.stdout.fnmatch_lines(
        [
            "*= xaio: coverage gaps (files under 30%) =*",
            "  0.0%  pkg/unused.py  missing 1-5",
            "1 of 4 measured files under 30%",
        ],
        consecutive=True,
    )


def test_threshold_zero_hides_the_section(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--cov=pkg", "--xaio-cov-threshold=0", "tests")
    assert result.ret == pytest.ExitCode.OK
    assert "coverage gaps" not in result.stdout.str()


def test_every_file_above_threshold_and_fail_under(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        "--cov=pkg.good", "--cov=pkg.poor", "--xaio-cov-threshold=40", "--xaio-cov-fail-under-file=40", "tests"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*= xaio: coverage gaps (files under 40%) =*",
            "no file under 40% (2 measured)",
            "xaio: every measured file reaches --xaio-cov-fail-under-file=40%",
        ],
        consecutive=True,
    )


def test_fail_under_file_fails_the_run(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--cov=pkg", "--xaio-cov-fail-under-file=30", "tests")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["FAIL xaio: 1 file under --xaio-cov-fail-under-file=30%: pkg/unused.py (0.0%)"])


def test_report_omit_setting_is_respected(project: pytest.Pytester) -> None:
    (project.path / ".coveragerc").write_text("[report]\nomit = */unused.py\n")
    result = project.runpytest_subprocess("--cov=pkg", "--xaio-cov-fail-under-file=30", "tests")
    assert result.ret == pytest.ExitCode.OK
    assert "unused.py" not in result.stdout.str()
    result.stdout.fnmatch_lines([" 40.0%  pkg/poor.py  missing 4-6, 10-12", "1 of 3 measured files under 80%"])


def test_xdist_run_reports_the_combined_data(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--cov=pkg", "-n", "2", "--xaio-cov-fail-under-file=30", "tests")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(SECTION, consecutive=True)


def test_fail_under_file_without_cov_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--xaio-cov-fail-under-file=80", "tests")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--xaio-cov-fail-under-file checks the coverage pytest-cov measures, and this run measures none*",
            "*fix: add --cov=YOUR_PACKAGE, or drop --xaio-cov-fail-under-file*",
        ]
    )


def test_fail_under_file_from_env_without_cov_is_only_a_note(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XAIO_COV_FAIL_UNDER_FILE", "80")
    result = project.runpytest_subprocess("tests")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["xaio: per-file coverage minimum (80%) not checked: no coverage measured*"])


def test_without_pytest_cov_the_section_is_absent(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:pytest_cov", "tests")
    result.assert_outcomes(passed=2)
    assert "coverage gaps" not in result.stdout.str()
    refused = project.runpytest_subprocess("-p", "no:pytest_cov", "--xaio-cov-fail-under-file=80", "tests")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*this run measures none*"])


@pytest.mark.parametrize(("percent", "shown"), [(79.96, "79.9%"), (57.1, "57.1%"), (0.0, "0.0%"), (100.0, "100.0%")])
def test_percent_is_rounded_down(percent: float, shown: str) -> None:
    assert format_percent(percent) == shown
