"""Settings: one name per setting, precedence CLI > env > ini > default, clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_xaio.config import _SECTIONS, OPTIONS, XaioSettings


def test_the_option_table_is_the_section_fields_in_order() -> None:
    names = [opt.name for opt in OPTIONS]
    assert len(names) == len(set(names))  # one name gives one flag, one ini key, one env var
    for section, cls in _SECTIONS.items():
        assert [f.name for f in dataclasses.fields(cls)] == [o.name for o in OPTIONS if o.section == section]
    settings_sections = {f.name for f in dataclasses.fields(XaioSettings)} - {"rootdir", "worker"}
    assert settings_sections == set(_SECTIONS)


def test_option_defaults_are_the_dataclass_defaults() -> None:
    for opt in OPTIONS:
        assert getattr(_SECTIONS[opt.section](), opt.name) == opt.default, opt.name


def test_kinds_follow_the_defaults_unless_declared() -> None:
    kinds = {opt.name: opt.kind for opt in OPTIONS}
    assert [kinds[n] for n in ("postgres_url", "allow_remote", "jwt_lifetime", "cov_threshold", "keep_tables")] == [
        "str",
        "bool",
        "int",
        "float",
        "lines",
    ]
    assert [kinds[n] for n in ("isolation", "migrations", "cov_fail_under_file")] == ["choice", "path", "float"]


def test_names_are_derived_from_one_name() -> None:
    opt = next(o for o in OPTIONS if o.name == "postgres_url")
    names = (opt.ini_name, opt.cli_flag, opt.env_name)
    assert names == ("xaio_postgres_url", "--xaio-postgres-url", "XAIO_POSTGRES_URL")


def test_from_values_rejects_unknown_names() -> None:
    with pytest.raises(pytest.UsageError, match="unknown setting 'nope'"):
        XaioSettings.from_values({"nope": 1})


def test_project_defaults_to_rootdir_name() -> None:
    assert XaioSettings(rootdir="/srv/my-api").project == "my-api"
    assert XaioSettings.from_values({"project": "billing"}).project == "billing"


PRECEDENCE_TEST = """
    def test_show(xaio_settings):
        pg = xaio_settings.postgres
        print("ISOLATION=" + pg.isolation, "KEEP=" + "|".join(pg.keep_tables), "REMOTE=" + str(pg.allow_remote))
"""


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "ISOLATION=clone"),  # ini
        ([], {"XAIO_ISOLATION": "truncate"}, "ISOLATION=truncate"),  # env beats ini
        (["--xaio-isolation", "transaction"], {"XAIO_ISOLATION": "truncate"}, "ISOLATION=transaction"),  # CLI wins
    ],
)
def test_precedence_cli_env_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], expected: str
) -> None:
    pytester.makeini("[pytest]\nxaio_isolation = clone\nxaio_keep_tables =\n    plans\n    roles\n")
    pytester.makepyfile(PRECEDENCE_TEST)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest("-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{expected} KEEP=plans|roles REMOTE=False*"])


def test_lists_from_env_are_comma_separated(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(PRECEDENCE_TEST)
    monkeypatch.setenv("XAIO_KEEP_TABLES", "plans, roles")
    monkeypatch.setenv("XAIO_ALLOW_REMOTE", "yes")
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["*KEEP=plans|roles REMOTE=True*"])


def test_bad_choice_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nxaio_isolation = sometimes\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini xaio_isolation must be one of transaction, truncate, clone; got 'sometimes'*"])
    assert "Traceback" not in result.stderr.str()


def test_bad_bool_in_env_is_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAIO_ALLOW_REMOTE", "maybe")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*$XAIO_ALLOW_REMOTE must be true or false, not 'maybe'*"])


def test_every_option_is_in_help_under_the_xaio_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    out = result.stdout.str()
    assert "pytest-xaio:" in out
    for opt in OPTIONS:
        if opt.cli:
            assert opt.cli_flag in out, opt.cli_flag
        assert opt.ini_name in out, opt.ini_name
