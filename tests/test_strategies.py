"""pytest_xaio.strategies: nasty inputs, assert_url_safe, a clean database per example, profiles."""

from __future__ import annotations

import alembic.command  # noqa: F401
import pytest
import sqlalchemy  # noqa: F401  (outer-process imports: see test_db_migrations.py)
from fixtures_db import make_project
from hypothesis import HealthCheck, find, given, settings

from pytest_xaio.strategies import assert_url_safe, emails, nasty_text, slugs_input

SEARCH = settings(max_examples=5000, database=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("slug", ["hello-world", "a", "v2.0", "x_y", "caf~e", "a" * 100, "2024-report"])
def test_url_safe_accepts(slug: str) -> None:
    assert_url_safe(slug)


@pytest.mark.parametrize(
    ("slug", "why"),
    [
        ("", "it is empty"),
        ("Hello", "it contains characters outside a-z 0-9 - . _ ~: 'H'"),
        ("caf\u00e9", "it contains characters outside a-z 0-9 - . _ ~: '\u00e9'"),
        ("a b/c", "it contains characters outside a-z 0-9 - . _ ~: ' /'"),
        ("-start", "it starts or ends with a separator"),
        ("end.", "it starts or ends with a separator"),
        ("a--b", "it has two separators in a row at position 1 ('--')"),
        ("a-_b", "it has two separators in a row at position 1 ('-_')"),
        ("a" * 101, "it is 101 characters long (at most 100)"),
    ],
)
def test_url_safe_rejects_with_the_reason(slug: str, why: str) -> None:
    with pytest.raises(AssertionError) as info:
        assert_url_safe(slug)
    assert str(info.value).endswith(f"is not URL-safe: {why}")


def test_url_safe_length_is_configurable() -> None:
    assert_url_safe("a" * 200, max_length=200)
    with pytest.raises(AssertionError, match="at most 10"):
        assert_url_safe("a" * 11, max_length=10)


@pytest.mark.parametrize(
    ("label", "condition"),
    [
        ("NUL", lambda s: "\x00" in s),
        ("control", lambda s: "\x1b" in s or "\x07" in s),
        ("combining mark", lambda s: "\u0301" in s),
        ("emoji ZWJ sequence", lambda s: "\u200d\U0001f467" in s or "\u200d\U0001f308" in s),
        ("right-to-left", lambda s: "\u202e" in s or "\u05e9" in s),
        ("zero-width", lambda s: "\u200b" in s),
        ("whitespace only", lambda s: len(s) > 0 and s.strip() == ""),
        ("very long", lambda s: len(s) >= 5000),
        ("empty", lambda s: s == ""),
    ],
)
def test_nasty_text_reaches_each_kind(label: str, condition: object) -> None:
    assert find(nasty_text(), condition, settings=SEARCH) is not None  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(nasty_text(max_size=300))
def test_nasty_text_respects_sizes(text: str) -> None:
    assert 0 <= len(text) <= 300


@settings(max_examples=100, deadline=None)
@given(emails())
def test_emails_look_like_emails(email: str) -> None:
    local, _, domain = email.rpartition("@")
    assert local
    assert "." in domain


def test_slugs_input_covers_titles_and_long_text() -> None:
    assert find(slugs_input(), lambda s: "Cr\u00e8me" in s, settings=SEARCH)
    assert find(slugs_input(), lambda s: len(s) > 9000, settings=SEARCH)


EXAMPLES = """
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_xaio.strategies import emails, xaio_example, xaio_given

SEEN = []

def count(db):
    return db.execute("SELECT count(*) FROM waitlist").fetchone()[0]

@settings(max_examples=15, deadline=None)
@xaio_given(email=emails())
def test_given_wrapper(xaio_db, email):
    assert count(xaio_db) == 0
    xaio_db.execute("INSERT INTO waitlist (email) VALUES (%s)", (email,))
    assert count(xaio_db) == 1
    SEEN.append(email)

@xaio_given(n=st.integers(0, 5))
@settings(max_examples=10, deadline=None)
def test_given_wrapper_settings_inside(xaio_db, n):
    assert count(xaio_db) == 0
    for i in range(n):
        xaio_db.execute("INSERT INTO waitlist (email) VALUES (%s)", (f"{i}@example.com",))
    assert count(xaio_db) == n

@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(email=emails())
def test_context_manager(xaio_db, email):
    with xaio_example(xaio_db):
        assert count(xaio_db) == 0
        xaio_db.execute("INSERT INTO waitlist (email) VALUES (%s)", (email,))

@pytest.mark.xaio_db(isolation="truncate")
@settings(max_examples=5, deadline=None)
@xaio_given(email=emails())
def test_truncate_isolation(xaio_database, email):
    assert count(xaio_database.connection) == 0
    xaio_database.connection.execute("INSERT INTO waitlist (email) VALUES (%s)", (email,))

@settings(max_examples=5, deadline=None)
@xaio_given(email=emails(), db="xaio_database")
def test_sqlalchemy_session_example(xaio_database, email):
    from sqlalchemy import text

    with xaio_database.session() as session, xaio_example(session):
        assert session.execute(text("SELECT count(*) FROM waitlist")).scalar() == 0
        session.execute(text("INSERT INTO waitlist (email) VALUES (:e)"), {"e": email})
        assert session.execute(text("SELECT count(*) FROM waitlist")).scalar() == 1

def test_the_test_transaction_is_intact(xaio_db):
    assert len(SEEN) > 1
    assert count(xaio_db) == 0

@pytest.mark.xaio_db(isolation="truncate")
def test_truncate_written_empties_what_the_test_wrote(xaio_database):
    xaio_database.connection.execute("INSERT INTO waitlist (email) VALUES ('a@example.com')")
    assert xaio_database.truncate_written() == ["public.waitlist"]
    assert count(xaio_database.connection) == 0

def test_truncate_written_is_refused_in_transaction_isolation(xaio_database):
    with pytest.raises(RuntimeError, match="isolation='truncate'"):
        xaio_database.truncate_written()
"""

LEAKS = """
from hypothesis import HealthCheck, given, settings, strategies as st

@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers())
def test_without_help(xaio_db, n):
    assert xaio_db.execute("SELECT count(*) FROM waitlist").fetchone()[0] == 0
    xaio_db.execute("INSERT INTO waitlist (email) VALUES (%s)", (str(n),))

@given(n=st.integers())
def test_health_check(xaio_db, n):
    pass
"""


def test_each_example_sees_a_clean_database(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql")
    pytester.makepyfile(EXAMPLES)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=8)


def test_without_the_helper_rows_leak_between_examples(pytester: pytest.Pytester) -> None:
    make_project(pytester, "sql")
    pytester.makepyfile(LEAKS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*uses a function-scoped fixture 'xaio_db'*"])


def test_xaio_given_needs_the_database_argument() -> None:
    from pytest_xaio.strategies import xaio_given

    with pytest.raises(TypeError, match=r"test_x must take the database fixture \(xaio_database or xaio_db\)"):

        @xaio_given(email=emails())
        def test_x(email: str) -> None:
            pass


PROFILE = """
from hypothesis import settings

def test_profile():
    print("PROFILE", settings.get_current_profile_name(), settings.default.max_examples,
          settings.default.derandomize, settings.default.deadline)
"""


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("xaio-ci", "PROFILE xaio-ci 500 True None"),
        ("xaio-dev", "PROFILE xaio-dev 20 False None"),
    ],
)
def test_profiles_are_chosen_with_the_usual_option(pytester: pytest.Pytester, profile: str, expected: str) -> None:
    pytester.makepyfile(PROFILE)
    result = pytester.runpytest_subprocess("-s", "--hypothesis-profile", profile)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{expected}"])


def test_nasty_text_is_valid_utf8_unless_surrogates_are_asked_for() -> None:
    from hypothesis import find, given, settings

    from pytest_xaio.strategies import nasty_text

    @settings(max_examples=300, database=None)
    @given(nasty_text(max_size=200))
    def encodable(text: str) -> None:
        text.encode("utf-8")

    encodable()
    lone = find(
        nasty_text(max_size=20, surrogates=True),
        lambda s: any(0xD800 <= ord(c) <= 0xDFFF for c in s),
        settings=settings(database=None),
    )
    assert any(0xD800 <= ord(c) <= 0xDFFF for c in lone)
