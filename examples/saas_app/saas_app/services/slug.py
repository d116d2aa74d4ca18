"""URL slugs from user-supplied names: ``"Hello, World!"`` -> ``"hello-world"``."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["FALLBACK", "MAX_LENGTH", "slugify"]

MAX_LENGTH = 60
FALLBACK = "project"

# Letters NFKD does not split into an ASCII base and a mark.
_TRANSLITERATE = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "ss",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ø": "o",
        "Ø": "o",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "ł": "l",
        "Ł": "l",
        "þ": "th",
        "Þ": "th",
        "ı": "i",
    }
)
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = MAX_LENGTH, fallback: str = FALLBACK) -> str:
    """A lower-case slug of ``a-z``, ``0-9`` and single hyphens, at most ``max_length`` long, never empty.

    Only RFC 3986 unreserved characters come out, so the slug needs no escaping in a URL path.
    Text with nothing transliterable (emoji, CJK, punctuation) gives ``fallback``.
    """
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    ascii_text = (
        unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode("ascii").lower()
    )
    slug = _SEPARATORS.sub("-", ascii_text).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip("-")
    if not slug:
        slug = _SEPARATORS.sub("-", fallback.lower()).strip("-")[:max_length].rstrip("-") or "x"
    return slug
