"""Typed configuration: dataclasses checked on load, so a typo in a recipe is an error.

Every component (tower, head, loss, dataset, ...) has a ``Config`` dataclass with keyword-only fields and
commented defaults. :func:`from_dict` turns plain data (a recipe's YAML, a saved ``config.json``) into
those dataclasses and rejects unknown keys and wrong types with one message naming the key.

A field typed as a :class:`ComponentConfig` subclass that carries a ``registry`` is polymorphic: the
``name`` key picks the registered component, whose own ``Config`` class parses the rest.

Every numeric field declares its valid values with :func:`bounded` (``lr: float = bounded(1e-3, gt=0)``);
:func:`from_dict` checks them, so a recipe, a ``key=value`` override and a saved ``config.json`` all get the
same one-line error naming the dotted key, the value and the valid range. Floats must also be finite.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(kw_only=True)
    ... class Train:
    ...     epochs: int = bounded(1, ge=0)  # passes over the data
    >>> from_dict(Train, {"epochs": 3}).epochs
    3
    >>> from_dict(Train, {"epochs": -1})
    Traceback (most recent call last):
    ...
    pairsim.errors.ConfigError: config.epochs: expected an integer >= 0, got -1
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, ClassVar, Literal, TypeVar, Union

import yaml

from pairsim.errors import ConfigError, shown
from pairsim.yaml_core import YAMLRefused, load_yaml

C = TypeVar("C")

# Upper bounds of sizes, so a typo such as ``vocab_size: 100000000000`` is a clear error before allocation.
MAX_DIM = 65_536  # embedding, hidden and projection sizes
MAX_VOCAB = 10_000_000  # vocabulary rows (GloVe 840B has 2.2M words)
MAX_LENGTH = 100_000  # tokens or words per text
MAX_IMAGE_SIDE = 4_096  # pixels per image side fed to a network
MAX_BATCH = 1 << 20  # items per batch
MAX_COUNT = 10**12  # epochs, steps, pairs, episodes
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_TABLE = 1_000_000_000  # entries of one weight table (4 GB in float32), e.g. vocab_size x embed_dim


@dataclasses.dataclass(frozen=True)
class Range:
    """The valid values of a numeric config field (of each item, for a list field).

    Args:
        ge: Smallest allowed value (inclusive), or None.
        gt: Values must be greater than this, or None.
        le: Largest allowed value (inclusive), or None.
        lt: Values must be less than this, or None.

    Example:
        >>> str(Range(gt=0, lt=1)), Range(gt=0, lt=1).contains(1.0)
        ('in (0, 1)', False)
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the range (a string, e.g. a column named rather than numbered, always does)."""
        if isinstance(value, str):
            return True
        return not (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
        )

    def __str__(self) -> str:
        low = f"[{_num(self.ge)}" if self.ge is not None else f"({_num(self.gt)}" if self.gt is not None else None
        high = f"{_num(self.le)}]" if self.le is not None else f"{_num(self.lt)})" if self.lt is not None else None
        if low and high:
            return f"in {low}, {high}"
        if low:
            return f"{'>=' if low[0] == '[' else '>'} {low[1:]}"
        if high:
            return f"{'<=' if high[-1] == ']' else '<'} {high[:-1]}"
        return "any finite number"


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def bounded(
    default: Any = dataclasses.MISSING,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field whose numeric value (or each item of a list) must lie in a range.

    :func:`from_dict` checks the range when a config is read; ``None`` (for an optional field) is always
    allowed. With no bounds the field is declared "any finite number".

    Args:
        default: The default value.
        ge, gt, le, lt: The bounds (see :class:`Range`).
        default_factory: A default factory instead of ``default`` (list fields).

    Returns:
        A ``dataclasses.field`` carrying ``metadata["range"]``.

    Example:
        >>> @dataclasses.dataclass(kw_only=True)
        ... class Loss:
        ...     margin: float = bounded(0.2, gt=0)  # required gap
        >>> from_dict(Loss, {"margin": 0.5}).margin
        0.5
    """
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata={"range": Range(ge=ge, gt=gt, le=le, lt=lt)}
    )


def field_range(f: dataclasses.Field[Any]) -> Range | None:
    """The :class:`Range` declared on a dataclass field with :func:`bounded`, or None."""
    return f.metadata.get("range")


def _check_range(rng: Range, value: Any, where: str) -> None:
    if value is None:
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_range(rng, item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_range(rng, item, f"{where}.{key}")
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not rng.contains(value):
        noun = "an integer" if isinstance(value, int) else "a number"
        raise ConfigError(f"{where}: expected {noun} {rng}, got {shown(value)}")


@dataclasses.dataclass(kw_only=True)
class ComponentConfig:
    """Base of the configs of registered components; ``name`` is the registered short name."""

    name: str  # registered name, e.g. "lstm", "cosine", "contrastive"
    registry: ClassVar[Any] = None  # set on the family's base class (TowerConfig.registry = TOWERS)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert nested data; raise ConfigError naming ``where``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got null")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError as err:
                errors.append(err)
        raise (
            errors[0] if len(errors) == 1 else ConfigError(f"{where}: expected {_type_name(tp)}, got {shown(value)}")
        )
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where}: expected one of {', '.join(map(repr, choices))}, got {shown(value)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {shown(value)}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        out = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return out if origin is list else tuple(out)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {shown(value)}")
        args = typing.get_args(tp)
        item = args[1] if args else Any
        return {str(k): _convert(item, v, f"{where}.{str(k)[:40]}") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {shown(value)}")
        return from_dict(tp, value, where=where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {shown(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            hint = f" (write {int(value)})" if isinstance(value, float) and value.is_integer() else ""
            raise ConfigError(f"{where}: expected an integer, got {shown(value)}{hint}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {shown(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            raise ConfigError(f"{where}: {shown(value)} is too large for a number") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite number, got {number!r}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {shown(value)}")
        return value
    raise TypeError(f"{where}: unsupported annotation {tp!r} in a config class")  # a bug, not bad input


def from_dict(cls: type[C], data: dict[str, Any], *, where: str = "config") -> C:
    """Build the dataclass ``cls`` from plain data, strictly.

    Args:
        cls: A dataclass. If it is a :class:`ComponentConfig` family base with a ``registry``, the
            ``name`` key selects the registered component and its ``Config`` class is used.
        data: Plain data (from YAML or JSON).
        where: Dotted path of ``data`` in the whole config, for error messages.

    Returns:
        An instance of ``cls`` (or of the selected component's config class).

    Raises:
        ConfigError: Unknown key, missing required key, wrong type, a number outside its declared range
            (or not finite) or unknown registered name.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {shown(data)}")
    registry = getattr(cls, "registry", None)
    if registry is not None and issubclass(cls, ComponentConfig):
        if "name" not in data:
            raise ConfigError(f"{where}: missing 'name'; valid {registry.plural}: {', '.join(registry.names())}")
        try:
            cls = registry.get(data["name"]).Config
        except ConfigError as err:
            raise ConfigError(f"{where}.name: {err}") from None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(f"{where}: unknown key {shown(unknown[0])}; valid keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], f"{where}.{name}")
            rng = field_range(f)
            if rng is not None:
                _check_range(rng, kwargs[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key {name!r}")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        try:
            check()
        except ConfigError as err:  # "field: ..." from check() becomes "where.field: ...", like a range error
            field = str(err).split(":", 1)[0].split("[", 1)[0]
            sep = "." if field in {f.name for f in dataclasses.fields(obj)} else ": "
            raise ConfigError(f"{where}{sep}{err}") from None
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain, JSON-ready data of a config dataclass (inverse of :func:`from_dict`)."""
    return dataclasses.asdict(obj)


def set_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.key=value`` override to nested plain data, in place.

    The value is parsed as YAML 1.2 (:func:`pairsim.yaml_core.load_yaml`, as recipes are), so ``train.epochs=3``
    sets an integer, ``model.tower_b=null`` clears a field and ``train.schedule.max_steps=1:00`` is the string "1:00" (a
    type error for an integer field); a value that is not YAML at all is taken as text. Unknown keys are caught
    later, when the data is checked with :func:`from_dict`.

    Raises:
        ConfigError: The assignment has no ``=``, walks through a value that is not a mapping, or its value is
            refused by :func:`~pairsim.yaml_core.load_yaml` (``010``: write 10 or 0o10; duplicate keys; too large).
    """
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {shown(assignment)}: expected key=value, e.g. train.epochs=1")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except YAMLRefused as err:  # an ambiguous number, a duplicate key, an alias bomb: never guess
        raise ConfigError(f"override {shown(assignment)}: {err.problem}") from None
    except yaml.YAMLError:  # not YAML at all (e.g. "a: b: c"): the text as it is
        value = raw
    parts = key.strip().split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(
                f"override {shown(assignment)}: {'.'.join(parts[: i + 1])} is {shown(child)}, not a mapping"
            )
        node = child
    node[parts[-1]] = value
