"""One way to patch and undo: :class:`Patcher` sets attributes (or mapping items), remembers what was
there, and puts it back in reverse order.

The network guard, the HTTP transport hooks and the mock database's connection guard all patch
other libraries for the length of one test. They share this helper so that every patch is undone
exactly once, an attribute that was only inherited is removed again (not left behind as a copy of
the inherited value), and patches of the same attribute by two patchers stay correct whatever order
they are undone in: undoing the outer patch first hands its original to the inner one, so the last
undo still restores the value from before both.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = ["Patcher"]


class _Missing:
    """What stood in a slot that had nothing of its own (an inherited attribute, an absent key)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


@dataclass(eq=False)
class _Patch:
    target: Any
    name: Any
    original: Any  # the target's own value before this patch, or _MISSING
    is_item: bool


#: The patches in force, per slot, oldest first; shared by every Patcher so that two patchers of one
#: slot know about each other. Keyed by id(target), with the target kept alive by its _Patch.
_ACTIVE: dict[tuple[int, Any, bool], list[_Patch]] = {}
_LOCK = threading.Lock()


def _own_value(target: Any, name: Any, is_item: bool) -> Any:
    if is_item:
        return target.get(name, _MISSING) if hasattr(target, "get") else target[name]
    try:
        return vars(target).get(name, _MISSING)
    except TypeError:  # no __dict__ (slots, C types): whatever getattr finds counts as its own
        return getattr(target, name, _MISSING)


def _put(target: Any, name: Any, value: Any, is_item: bool) -> None:
    if is_item:
        if value is _MISSING:
            target.pop(name, None)
        else:
            target[name] = value
    elif value is _MISSING:
        if name in vars(target):
            delattr(target, name)
    else:
        setattr(target, name, value)


class Patcher:
    """Patches that belong together, undone together (in reverse order) by :meth:`undo` or on exit.

    Example::

        with Patcher() as patcher:
            original = patcher.setattr(socket.socket, "connect", guarded_connect)
            ...  # socket.socket.connect is guarded_connect here; original is the real one
        # and the real one again here
    """

    def __init__(self) -> None:
        self._patches: list[_Patch] = []

    def setattr(self, target: Any, name: str, value: Any) -> Any:
        """Set ``target.name = value``; returns what ``target.name`` was (inherited or its own)."""
        current = getattr(target, name)
        self._apply(target, name, value, is_item=False)
        return current

    def setitem(self, mapping: MutableMapping[Any, Any], key: Any, value: Any) -> None:
        """Set ``mapping[key] = value`` (the key is removed again on undo if it was absent)."""
        self._apply(mapping, key, value, is_item=True)

    def _apply(self, target: Any, name: Any, value: Any, *, is_item: bool) -> None:
        with _LOCK:
            patch = _Patch(target, name, _own_value(target, name, is_item), is_item)
            _put(target, name, value, is_item)
            _ACTIVE.setdefault((id(target), name, is_item), []).append(patch)
            self._patches.append(patch)

    def undo(self) -> None:
        """Put back everything this patcher changed, newest first. Safe to call more than once."""
        with _LOCK:
            while self._patches:
                self._undo_one(self._patches.pop())

    @staticmethod
    def _undo_one(patch: _Patch) -> None:
        key = (id(patch.target), patch.name, patch.is_item)
        stack = _ACTIVE.get(key, [])
        if patch not in stack:  # already undone
            return
        index = stack.index(patch)
        if index == len(stack) - 1:
            _put(patch.target, patch.name, patch.original, patch.is_item)
        else:  # a later patch of the same slot is still in force: it will restore our original
            stack[index + 1].original = patch.original
        del stack[index]
        if not stack:
            del _ACTIVE[key]

    def __enter__(self) -> Patcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.undo()
