"""The plugin's markers: one real signature each, so a typo in a marker kwarg fails at collection."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_xaio.config import ISOLATIONS

__all__ = [
    "MARKERS",
    "DbMarker",
    "MatrixMarker",
    "has_marker",
    "marker_options",
    "register_markers",
    "use_fixture_first",
    "uses_fixture",
    "validate_item",
]


@dataclass(frozen=True)
class DbMarker:
    """``@pytest.mark.xaio_db(isolation="clone")``: per-test database options."""

    isolation: str | None = None


@dataclass(frozen=True)
class MatrixMarker:
    """``@pytest.mark.endpoint_matrix(...)``: which routes and statuses the matrix expands."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()
    app: str | None = None
    public: tuple[str, ...] = ()
    seed: int = 0
    expect: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    examples: int | None = None


def _xaio_db(*, isolation: str | None = None) -> DbMarker:
    if isolation is not None and isolation not in ISOLATIONS:
        raise TypeError(f"isolation must be {', '.join(ISOLATIONS[:-1])} or {ISOLATIONS[-1]}, not {isolation!r}")
    return DbMarker(isolation=isolation)


def _endpoint_matrix(
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    statuses: Sequence[int] = (),
    app: str | None = None,
    public: Sequence[str] = (),
    seed: int = 0,
    expect: Mapping[str, Mapping[str, Any]] | None = None,
    examples: int | None = None,
) -> MatrixMarker:
    if expect is not None and not isinstance(expect, Mapping):
        raise TypeError(
            f'expect must be a dict like {{"GET /path/{{id}}": {{"missing-resource": 200}}}}, not {expect!r}'
        )
    if examples is not None and (isinstance(examples, bool) or not isinstance(examples, int) or examples < 0):
        raise TypeError(f"examples must be a whole number of requests (0 for none), not {examples!r}")
    return MatrixMarker(
        include=tuple(include),
        exclude=tuple(exclude),
        statuses=tuple(int(s) for s in statuses),
        app=app,
        public=tuple(public),
        seed=int(seed),
        expect=dict(expect or {}),
        examples=examples,
    )


def _no_kwargs() -> None:
    return None


@dataclass(frozen=True)
class _MarkerSpec:
    name: str
    build: Callable[..., Any]
    doc: str

    @property
    def line(self) -> str:
        sig = str(inspect.signature(self.build)).split(" ->")[0]
        return f"{self.name}{sig}: {self.doc}"


MARKERS: tuple[_MarkerSpec, ...] = (
    _MarkerSpec("xaio_db", _xaio_db, "per-test database options, e.g. isolation='clone' for a fresh database."),
    _MarkerSpec(
        "endpoint_matrix",
        _endpoint_matrix,
        "expand this test into 200/400/401/403/404 cases for every route of the app (takes a `case` argument).",
    ),
    _MarkerSpec("xaio_externals", _no_kwargs, "answer Stripe, Brevo and GitHub with fakes and block other hosts."),
    _MarkerSpec("xaio_mock_db", _no_kwargs, "replace the app's DB dependency with a recording mock; block real DB."),
)
_BY_NAME = {spec.name: spec for spec in MARKERS}


def register_markers(config: pytest.Config) -> None:
    for spec in MARKERS:
        config.addinivalue_line("markers", spec.line)


def marker_options(node: pytest.Item | pytest.Function, name: str) -> Any:
    """The options of the closest ``name`` marker on ``node`` (defaults when it has none)."""
    spec = _BY_NAME[name]
    marker = node.get_closest_marker(name)
    if marker is None:
        return spec.build()
    return _build(spec, marker, node.nodeid)


_names_key = pytest.StashKey[frozenset[str]]()


def validate_item(item: pytest.Item) -> None:
    """Fail collection (not the run) for a marker called with arguments its signature refuses.

    One walk over the item's markers; the names of the plugin's markers it carries are kept for
    :func:`has_marker`, so the collection hooks of the other modules do not walk them again.
    """
    names: set[str] = set()
    for marker in item.iter_markers():
        spec = _BY_NAME.get(marker.name)
        if spec is not None:
            _build(spec, marker, item.nodeid)
            names.add(marker.name)
    item.stash[_names_key] = frozenset(names)


def has_marker(item: pytest.Item, name: str) -> bool:
    """True when the item carries the plugin's marker ``name`` (on itself, its class or module)."""
    names = item.stash.get(_names_key, None)
    if names is None:
        return item.get_closest_marker(name) is not None
    return name in names


def _build(spec: _MarkerSpec, marker: pytest.Mark, where: str) -> Any:
    if marker.args:
        raise pytest.UsageError(
            f"pytest-xaio: @pytest.mark.{spec.name} takes keyword arguments only ({where}); "
            f"signature: {spec.line.split(':')[0]}"
        )
    try:
        return spec.build(**marker.kwargs)
    except TypeError as exc:
        raise pytest.UsageError(
            f"pytest-xaio: bad @pytest.mark.{spec.name} on {where}: {exc}. Signature: {spec.line.split(':')[0]}"
        ) from None


# --- per-test work only for the tests that use a feature ----------------------------------------------
def uses_fixture(item: pytest.Item, name: str) -> bool:
    """True when the test's fixture closure (what it asks for, directly or through other fixtures) has ``name``."""
    return name in getattr(item, "fixturenames", ())


def use_fixture_first(item: pytest.Item, name: str) -> None:
    """Make the test use fixture ``name``, set up before its other fixtures and torn down after them.

    Called at collection for the tests that need a feature, instead of an autouse fixture every
    test pays for (the way Hypothesis marks its own tests). Items without fixtures are left alone.
    """
    names = getattr(item, "fixturenames", None)
    if not isinstance(names, list):
        return
    if name in names:
        names.remove(name)
    names.insert(0, name)
