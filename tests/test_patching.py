"""Patcher: set, remember, undo in reverse; idempotent; right under nested use, in any undo order."""

from __future__ import annotations

import types

import pytest

from pytest_xaio.patching import Patcher


class Base:
    def greet(self) -> str:
        return "base"


class Child(Base):
    value = "own"


def _loud(self: Base) -> str:
    return "patched"


def test_setattr_returns_the_original_and_undo_restores_it() -> None:
    patcher = Patcher()
    original = patcher.setattr(Child, "value", "patched")
    assert original == "own"
    assert Child.value == "patched"
    patcher.undo()
    assert Child.value == "own"
    assert vars(Child)["value"] == "own"


def test_an_inherited_attribute_is_removed_again_not_copied() -> None:
    with Patcher() as patcher:
        original = patcher.setattr(Child, "greet", _loud)
        assert original is Base.greet
        assert Child().greet() == "patched"
    assert "greet" not in vars(Child)
    assert Child().greet() == "base"


def test_undo_twice_is_harmless() -> None:
    patcher = Patcher()
    patcher.setattr(Child, "value", "patched")
    patcher.undo()
    Child.value = "changed later"
    try:
        patcher.undo()
        assert Child.value == "changed later"
    finally:
        Child.value = "own"


def test_one_patcher_undoes_in_reverse_order() -> None:
    patcher = Patcher()
    patcher.setattr(Child, "value", "first")
    patcher.setattr(Child, "value", "second")
    assert Child.value == "second"
    patcher.undo()
    assert Child.value == "own"


def test_nested_patchers_undone_inside_out() -> None:
    with Patcher() as outer:
        outer.setattr(Child, "value", "outer")
        with Patcher() as inner:
            inner.setattr(Child, "value", "inner")
            assert Child.value == "inner"
        assert Child.value == "outer"
    assert Child.value == "own"


def test_nested_patchers_undone_outside_in_keep_the_inner_patch_then_restore() -> None:
    outer, inner = Patcher(), Patcher()
    outer.setattr(Child, "greet", _loud)
    inner.setattr(Child, "greet", lambda self: "inner")
    outer.undo()
    assert Child().greet() == "inner"  # the inner patch is still in force
    inner.undo()
    assert "greet" not in vars(Child)  # and the last undo restores what was there before both
    assert Child().greet() == "base"


def test_module_attributes() -> None:
    module = types.ModuleType("fake_module")
    module.lookup = lambda: "real"  # type: ignore[attr-defined]
    with Patcher() as patcher:
        patcher.setattr(module, "lookup", lambda: "fake")
        assert module.lookup() == "fake"
    assert module.lookup() == "real"


def test_setitem_adds_and_removes_keys_and_restores_values() -> None:
    overrides: dict[str, str] = {"kept": "before"}
    with Patcher() as patcher:
        patcher.setitem(overrides, "kept", "during")
        patcher.setitem(overrides, "added", "during")
        assert overrides == {"kept": "during", "added": "during"}
    assert overrides == {"kept": "before"}


def test_the_context_undoes_on_an_exception() -> None:
    def fails_while_patched() -> None:
        with Patcher() as patcher:
            patcher.setattr(Child, "value", "patched")
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fails_while_patched()
    assert Child.value == "own"


def test_patching_an_absent_attribute_is_an_error() -> None:
    with Patcher() as patcher, pytest.raises(AttributeError):
        patcher.setattr(Child, "no_such_attribute", 1)
