"""What the papers add to the core by name (methods, training targets, gaze-map kinds): each name once."""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class Registry(dict):
    """``{name: item}`` that refuses a second item under a name already taken."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def add(self, name: str, item: T) -> T:
        if not name:
            raise ValueError(f"{item!r} has no name")
        if name in self:
            raise ValueError(f"{self.what} {name!r} is already registered ({self[name]!r})")
        self[name] = item
        return item
