"""The slug generator returns a URL-safe slug for any text: Unicode, emoji, 10,000-character strings."""

import pytest
from hypothesis import example, given, settings
from saas_app.services.slug import MAX_LENGTH, slugify

from pytest_xaio.strategies import assert_url_safe, nasty_text, slugs_input


@settings(max_examples=300, deadline=None)
@given(slugs_input())
@example("x" * 10_000)
@example("\U0001f680" * 10_000)
@example("\u00e9" * 10_000)
@example("\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family")
@example("\u202eevil\u202c")
@example("\x00\x07\x1b[31m")
@example(" \t\u3000 ")
@example("")
def test_slug_is_always_url_safe(text):
    assert_url_safe(slugify(text), max_length=MAX_LENGTH)


@settings(max_examples=100, deadline=None)
@given(nasty_text(min_size=1000, max_size=10_000))
def test_long_text_is_cut_to_the_limit(text):
    slug = slugify(text)
    assert_url_safe(slug, max_length=MAX_LENGTH)
    assert len(slug) <= MAX_LENGTH


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("Cr\u00e8me Br\u00fbl\u00e9e", "creme-brulee"),
        ("Stra\u00dfe", "strasse"),
        ("  --My   Project--  ", "my-project"),
        ("\U0001f680\U0001f680", "project"),
    ],
)
def test_known_slugs(text, slug):
    assert slugify(text) == slug
