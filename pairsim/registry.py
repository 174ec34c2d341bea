"""Registries: build a component from its short name (timm's ``register_model`` pattern).

Recipes and saved configs refer to towers, heads, losses and datasets by registered name, never by
import path, so a saved model keeps loading when code moves.

An entry may be **lazy** (:meth:`Registry.lazy`): its name is known at once, but the module defining it (and
whatever heavy library that module needs: transformers, torchvision, timm) is imported only when the entry is
first asked for, so a CNN model never pays for loading transformers.

Example:
    >>> from pairsim.registry import Registry
    >>> ANIMALS = Registry("animal")
    >>> @ANIMALS.register("cat")
    ... class Cat: ...
    >>> ANIMALS.get("cat") is Cat
    True
"""

from __future__ import annotations

import importlib
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
        self._lazy: dict[str, str] = {}  # name -> module that registers it when imported

    def lazy(self, name: str, module: str) -> None:
        """Declare ``name`` as registered by ``module``, which is imported on the first :meth:`get` of it.

        Args:
            name: The registered name.
            module: The dotted module whose import registers ``name`` (with :meth:`register`).

        Example:
            >>> TABLES = Registry("table")
            >>> TABLES.lazy("json", "json")  # any module; json registers nothing, so get() would fail
            >>> "json" in TABLES and TABLES.names()
            ['json']
        """
        if name in self._entries or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy[name] = module

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; the name is stored on it as ``registered_name``."""

        def add(obj: T) -> T:
            lazy_module = self._lazy.get(name)
            if name in self._entries or (lazy_module is not None and getattr(obj, "__module__", None) != lazy_module):
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
        if name not in self._entries and name in self._lazy:
            importlib.import_module(self._lazy[name])  # registers it
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; valid {self.plural}: {', '.join(self.names())}")
        return self._entries[name]

    @property
    def plural(self) -> str:
        """The kind in the plural, for messages ("towers", "losses")."""
        return f"{self.kind}es" if self.kind.endswith("s") else f"{self.kind}s"

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted({*self._entries, *self._lazy})

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
