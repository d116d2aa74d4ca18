"""Hypothesis strategies for the inputs web backends get wrong, and a URL-safety assertion.

Users import this module explicitly (``from pytest_xaio.strategies import nasty_text``), so it may
import Hypothesis at the top; the plugin itself never imports it at startup.

Example::

    from hypothesis import given
    from pytest_xaio.strategies import assert_url_safe, nasty_text

    @given(nasty_text())
    def test_slug(text):
        assert_url_safe(slugify(text))
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_xaio.db.examples import xaio_example

__all__ = [
    "assert_url_safe",
    "emails",
    "nasty_text",
    "register_profiles",
    "slugs_input",
    "xaio_example",
    "xaio_given",
]

F = TypeVar("F", bound=Callable[..., Any])

COMBINING = ["e\u0301", "a\u0308\u0304", "Z\u0351\u0352\u0357\u0358\u035b\u0300\u0301\u0302", "\u0301"]
EMOJI = [
    "\U0001f680",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\U0001f468\U0001f3fd\u200d\U0001f4bb",
    "\U0001f1eb\U0001f1f7",
    "\u2764\ufe0f",
    "1\ufe0f\u20e3",
]
RTL = ["\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd", "\u202eevil\u202c", "\u200f", "\u202b"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
CONTROL = ["\x00", "\x07", "\x1b[31m", "\r\n", "\t", "\x7f", "\x85", "\u2028", "\u2029"]
WHITESPACE = " \t\n\r\x0b\x0c\u00a0\u1680\u2000\u2003\u2009\u202f\u205f\u3000"
OTHER = [
    "Stra\u00dfe",
    "\u0130stanbul",
    "\u65e5\u672c\u8a9e",
    "\ud55c\uad6d\uc5b4",
    "\u0928\u092e\u0938\u094d\u0924\u0947",
    "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48",
    "\u2167",
    "\u00bd",
    "\ufb01",
    "\u212a",
    "../",
    "%00",
    "<script>",
    "' OR 1=1 --",
    "a--b",
    "--",
    "__",
    "..",
    " - ",
]
FRAGMENTS = COMBINING + EMOJI + RTL + ZERO_WIDTH + CONTROL + OTHER + list(WHITESPACE)


def nasty_text(min_size: int = 0, max_size: int = 10_000, *, surrogates: bool = False) -> st.SearchStrategy[str]:
    """Text that breaks slugifiers, validators and column limits: every Unicode category (controls
    and NUL included), combining marks, emoji ZWJ sequences, right-to-left and zero-width
    characters, whitespace-only strings, and very long strings (up to ``max_size`` characters).

    Lone surrogates are left out unless ``surrogates=True``: no UTF-8 text (a database column, JSON,
    an HTTP body) can carry them, so they only test Python-level code.

    Example::

        @given(nasty_text())
        def test_slug_is_url_safe(text):
            assert_url_safe(slugify(text))
    """
    mixed = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(min_size=1, max_size=8)), max_size=30).map("".join)
    parts = [
        st.text(st.characters(codec=None if surrogates else "utf-8"), max_size=min(max_size, 200)),
        mixed,
        st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=min(max_size, 40)),
    ]
    if surrogates:  # rare among all code points, so offered directly like the other nasty classes
        lone = st.sampled_from(["\ud800", "\udfff", "\ud83d", "a\udc00b"])
        parts.append(st.lists(st.one_of(lone, st.sampled_from(FRAGMENTS)), min_size=1, max_size=5).map("".join))
    if max_size >= 1000:
        long_text = st.tuples(st.sampled_from([*FRAGMENTS, "a", "A", "-"]), st.integers(1000, max_size)).map(
            lambda t: (t[0] * (t[1] // max(len(t[0]), 1) + 1))[: t[1]]
        )
        parts.append(long_text)
    # Grow or cut to the size asked for rather than filter: filtering long-text requests away
    # trips Hypothesis' too-much-filtering health check.
    return st.one_of(parts).map(lambda s: _fit(s, min_size, max_size))


def _fit(text: str, min_size: int, max_size: int) -> str:
    if len(text) < min_size:
        unit = text or "\u200b"
        text = unit * (min_size // len(unit) + 1)
    return text[:max_size]


def emails() -> st.SearchStrategy[str]:
    """Valid email addresses, including the forms apps mishandle: plus-addressing, upper case,
    subdomains, quoted-looking local parts.

    Example::

        @given(emails())
        def test_signup(email): ...
    """
    tricky = st.sampled_from(
        [
            "a+tag@example.com",
            "First.Last@Example.COM",
            "x@sub.domain.example.org",
            "o'brien@example.ie",
            "user_name-1@example.co.uk",
            "UPPER@EXAMPLE.COM",
            "a@b.io",
        ]
    )
    return st.one_of(tricky, st.emails())


def slugs_input() -> st.SearchStrategy[str]:
    """What users type as a name that becomes a slug: ordinary titles, accented and non-Latin names,
    punctuation runs, emoji, and everything :func:`nasty_text` produces.

    Example::

        @given(slugs_input())
        def test_slug(name):
            assert_url_safe(slugify(name), max_length=60)
    """
    titles = st.sampled_from(
        [
            "My Project",
            "  Hello --  World  ",
            "Cr\u00e8me br\u00fbl\u00e9e",
            "\u65e5\u672c\u8a9e\u306e\u30d7\u30ed\u30b8\u30a7\u30af\u30c8",
            "\U0001f680 Launch!!",
            "C++ & C#",
            "___",
            "a.b.c",
            "v2.0 (beta)",
            "\u00c5ngstr\u00f6m",
            "ALL CAPS NAME",
        ]
    )
    words = st.lists(
        st.text(st.characters(categories=("L", "N", "P", "Zs")), min_size=1, max_size=12), min_size=1, max_size=6
    ).map(" ".join)
    return st.one_of(titles, words, nasty_text(max_size=10_000))


_UNRESERVED = re.compile(r"[a-z0-9._~-]+")
_SEPARATORS = "-._~"


def assert_url_safe(s: str, max_length: int = 100) -> None:
    """Assert ``s`` is a clean URL path segment: only RFC 3986 unreserved characters, lower case
    (``a-z 0-9 - . _ ~``), not empty, at most ``max_length`` long, no separator at either end and no
    two separators in a row.

    Example::

        assert_url_safe(slugify("Hello, World!"))   # "hello-world" passes
    """
    __tracebackhide__ = True
    problem = None
    value: object = s
    if not isinstance(value, str):
        problem = f"it is a {type(value).__name__}, not a str"
    elif not s:
        problem = "it is empty"
    elif len(s) > max_length:
        problem = f"it is {len(s)} characters long (at most {max_length})"
    elif not _UNRESERVED.fullmatch(s):
        bad = sorted({c for c in s if not _UNRESERVED.fullmatch(c)})
        problem = f"it contains characters outside a-z 0-9 - . _ ~: {''.join(bad)!r}"
    elif s[0] in _SEPARATORS or s[-1] in _SEPARATORS:
        problem = "it starts or ends with a separator"
    else:
        for i in range(len(s) - 1):
            if s[i] in _SEPARATORS and s[i + 1] in _SEPARATORS:
                problem = f"it has two separators in a row at position {i} ({s[i : i + 2]!r})"
                break
    if problem:
        shown = value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."
        raise AssertionError(f"{shown!r} is not URL-safe: {problem}")


_DB_ARGS = ("xaio_database", "xaio_db")


def xaio_given(*args: Any, db: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """``@given`` where each example runs in :func:`xaio_example`: the database is clean for every
    example, and Hypothesis' function-scoped-fixture health check is switched off (it is handled).

    ``db`` names the test argument holding the database (default: ``xaio_database`` or ``xaio_db``,
    whichever the test takes).

    Example::

        @xaio_given(name=nasty_text(max_size=200))
        def test_create_project(xaio_client, xaio_db, name):
            xaio_client.post("/api/projects", json={"name": name})
            assert xaio_db.execute("SELECT count(*) FROM projects").fetchone()[0] <= 1
    """

    def decorate(test: F) -> F:
        params = inspect.signature(test).parameters
        name = db or next((n for n in _DB_ARGS if n in params), None)
        if name is None or name not in params:
            raise TypeError(
                f"@xaio_given: {test.__name__} must take the database fixture "
                f"({db or ' or '.join(_DB_ARGS)}) as an argument"
            )

        @functools.wraps(test)
        def run_example(*a: Any, **kw: Any) -> Any:
            with xaio_example(kw[name]):
                return test(*a, **kw)

        given_: Any = given  # its overloads cannot type a pass-through of *args/**kwargs
        wrapped: Any = given_(*args, **kwargs)(run_example)
        suppress_fixture_check(wrapped)
        wrapped._xaio_given = True
        return wrapped  # type: ignore[no-any-return]

    return decorate


def suppress_fixture_check(test: Any) -> None:
    """Add ``function_scoped_fixture`` to the test's suppressed health checks, keeping its other settings."""
    current: Any = getattr(test, "_hypothesis_internal_use_settings", None) or settings.default
    if HealthCheck.function_scoped_fixture not in current.suppress_health_check:
        test._hypothesis_internal_use_settings = settings(
            current, suppress_health_check=[*current.suppress_health_check, HealthCheck.function_scoped_fixture]
        )


def register_profiles() -> None:
    """Register ``xaio-ci`` (500 examples, derandomized, no deadline) and ``xaio-dev`` (fast: 20
    examples, no deadline). Pick one with ``--hypothesis-profile xaio-ci``. A profile of the same name
    the project registered itself is left alone."""
    profiles: dict[str, dict[str, Any]] = {
        "xaio-ci": {
            "max_examples": 500,
            "derandomize": True,
            "deadline": None,
            "print_blob": True,
            "suppress_health_check": [HealthCheck.too_slow],
        },
        # derandomize is explicit: on CI Hypothesis makes its own "ci" profile the default parent.
        "xaio-dev": {"max_examples": 20, "deadline": None, "derandomize": False},
    }
    for name, values in profiles.items():
        try:
            settings.get_profile(name)
        except Exception:  # InvalidArgument: not registered yet
            settings.register_profile(name, **values)


register_profiles()
