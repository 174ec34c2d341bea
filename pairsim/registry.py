"""Registries: build a component from its short name (timm's ``register_model`` pattern).

Recipes and saved configs refer to towers, heads, losses and datasets by registered name, never by
import path, so a saved model keeps loading when code moves.

Example:
    >>> from pairsim.registry import Registry
    >>> ANIMALS = Registry("animal")
    >>> @ANIMALS.register("cat")
    ... class Cat: ...
    >>> ANIMALS.get("cat") is Cat
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from pairsim.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> class (or factory) table for one kind of component.

    Args:
        kind: What is registered ("tower", "head", ...); used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; the name is stored on it as ``registered_name``."""

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            obj.registered_name = name  # type: ignore[attr-defined]
            return obj

        return add

    def get(self, name: str) -> T:
        """The entry registered as ``name``.

        Raises:
            ConfigError: ``name`` is unknown; the message lists the valid names.
        """
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; valid {self.plural}: {', '.join(self.names())}")
        return self._entries[name]

    @property
    def plural(self) -> str:
        """The kind in the plural, for messages ("towers", "losses")."""
        return f"{self.kind}es" if self.kind.endswith("s") else f"{self.kind}s"

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
