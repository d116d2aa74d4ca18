"""The one CHECK reader: what Postgres reports (pg_get_constraintdef) and what migrations say."""

from __future__ import annotations

import pytest

from pytest_xaio.db.checkexpr import REJECTED_TEXT, expression_of, listed_values, pattern_check, read_check


@pytest.mark.parametrize(
    ("definition", "values"),
    [
        ("CHECK ((status = ANY (ARRAY['pending'::text, 'approved'::text])))", ["pending", "approved"]),
        (
            "CHECK (((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))",
            ["a", "b"],
        ),
        ("CHECK (((status = 'a'::text) OR (status = 'b'::text)))", ["a", "b"]),
        ("CHECK ((status IN ('it''s', 'b'))) NOT VALID", ["it's", "b"]),
        ("CHECK (((n > 0) AND (status = ANY (ARRAY['x'::text, 'y'::text]))))", ["x", "y"]),
        ("CHECK (((status IS NULL) OR (status = ANY (ARRAY['x'::text]))))", ["x"]),
        ("status IN ('a', 'b')", ["a", "b"]),
    ],
)
def test_listed_values(definition: str, values: list[str]) -> None:
    assert listed_values(definition, "status") == values


@pytest.mark.parametrize(
    "definition",
    [
        "CHECK ((other = ANY (ARRAY['a'::text])))",  # another column
        "CHECK (((status = 'a'::text) OR (other = 'b'::text)))",  # alternatives on two columns
        "CHECK ((status <> 'a'::text))",
        "CHECK ((status = ANY (ARRAY[lower(name)])))",  # not literals
    ],
)
def test_lists_it_does_not_read(definition: str) -> None:
    assert listed_values(definition, "status") is None


def test_expression_of_strips_check_and_its_options() -> None:
    assert expression_of("CHECK ((n > 0)) NO INHERIT") == "(n > 0)"
    assert expression_of("n > 0") == "n > 0"


def test_read_check_from_the_catalog_form() -> None:
    reading = read_check("CHECK (((n >= 1) AND (n <= 3)))", {"n"})
    assert reading is not None
    assert (reading.kind, reading.accepts, reading.rejects) == ("range", (1, 2, 3), (0, 4))
    listed = read_check("CHECK ((status = ANY (ARRAY['a'::text])))", {"status"})
    assert listed is not None
    assert (listed.kind, listed.allowed, listed.rejects) == ("values", ("a",), (REJECTED_TEXT,))
    assert read_check("CHECK ((status = ANY (ARRAY['a'::text])))", {"other"}) is None


def test_pattern_check() -> None:
    found = pattern_check("CHECK ((key ~* '^[a-z]+$'::text))")
    assert found is not None
    column, pattern = found
    assert column == "key"
    assert pattern.search("ABC")
    assert pattern_check("CHECK ((key ~ '(['::text))") is None  # not a pattern Python can read
