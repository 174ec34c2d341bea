"""A sweep's search space: dotted recipe keys with choices or ranges, checked against the recipe before any training.

Choices are YAML values, as ``key=value`` overrides take them (``train.fit.projection: [none, wccn]``,
``model.head: [{name: cosine}, {name: cosine, cohort: 20}]``); a range is ``{low, high, log}`` (integers when
both ends are integers). Each choice is kept as its override text, so Optuna sees plain strings (its storage and
GridSampler take no mappings) and a trial's overrides are exactly what ``pairsim train`` would be given.

Example:
    >>> space = SearchSpace.parse({"train.lr": [0.001, 0.003], "train.epochs": {"low": 1, "high": 4}})
    >>> [p.key for p in space.params], space.all_choices()
    (['train.lr', 'train.epochs'], False)
    >>> parse_budget("1.5h"), parse_budget("90s"), parse_budget("20")
    (5400.0, 90.0, 1200.0)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from pairsim.errors import ConfigError, shown

_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
MAX_COMBINATIONS = 256  # up to this many combinations of the swept values, each is checked before a sweep


def parse_budget(text: str, *, where: str = "--budget") -> float:
    """Seconds of a budget written ``60m``, ``1.5h``, ``900s`` or a bare number of minutes.

    Raises:
        ConfigError: Any other spelling, or a budget that is not positive.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|min|h)?\s*", str(text))
    if not match:
        raise ConfigError(
            f"{where}: expected a time such as 60m, 1.5h or 900s (bare number: minutes), got {shown(text)}"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "m"]
    if not 0 < seconds <= 7 * 24 * 3600:
        raise ConfigError(f"{where}: expected a time above 0 and at most a week, got {shown(text)}")
    return seconds


def split_choices(text: str) -> list[str]:
    """Split ``v1,v2,...`` at the commas outside brackets, braces and quotes (``{name: cosine, cohort: 20},{...}``).

    Example:
        >>> split_choices("{name: cosine, cohort: 20},{name: cosine}")
        ['{name: cosine, cohort: 20}', '{name: cosine}']
    """
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def yaml_text(value: Any) -> str:
    """A plain value as the one-line YAML an override takes (``1e-05`` reads back as the same float)."""
    if isinstance(value, str):
        return value if _reads_as(value, value) else yaml.safe_dump(value, default_flow_style=True).strip()
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 20).strip()
    return text.removesuffix("\n...").strip()


def _reads_as(text: str, value: Any) -> bool:
    from pairsim.yaml_core import load_yaml

    try:
        return load_yaml(text) == value
    except yaml.YAMLError:
        return False


@dataclasses.dataclass(frozen=True)
class Param:
    """One swept key: ``choices`` (override texts) or a range ``low``..``high`` (``log``: on a log scale)."""

    key: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    def suggest(self, trial: Any) -> str:
        """The override text of this key's value in an Optuna trial (``trial.suggest_*`` under the key's name)."""
        if self.choices:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.integer:
            return str(trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log))
        return repr(float(trial.suggest_float(self.key, self.low, self.high, log=self.log)))

    def edge_texts(self) -> list[str]:
        """The values checked against the recipe before a sweep: every choice, or both ends of the range."""
        if self.choices:
            return list(self.choices)
        return [str(int(v)) if self.integer else repr(float(v)) for v in (self.low, self.high)]


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The swept keys, in the order given."""

    params: tuple[Param, ...]

    @classmethod
    def parse(cls, space: dict[str, Any], tries: Sequence[str] = (), *, where: str = "sweep.space") -> SearchSpace:
        """Read a recipe's ``sweep.space`` and ``--try key=v1,v2`` options (a ``--try`` replaces that key).

        Raises:
            ConfigError: An empty space, an empty or repeated choice list, a range that is not ``{low, high, log}``
                with ``low < high`` (and both > 0 on a log scale), or a ``--try`` without ``=``.
        """
        params: dict[str, Param] = {}
        for key, spec in space.items():
            params[key] = _param(str(key), spec, f"{where}.{key}")
        for option in tries:
            key, sep, raw = option.partition("=")
            if not sep or not key.strip() or not raw.strip():
                raise ConfigError(f"--try {shown(option)}: expected key=v1,v2,... e.g. train.lr=0.001,0.0003")
            choices = split_choices(raw)
            params[key.strip()] = _param(key.strip(), [_value(c) for c in choices], f"--try {key.strip()}")
        if not params:
            raise ConfigError(f"{where}: nothing to sweep; give the recipe a sweep.space or --try key=v1,v2")
        return cls(tuple(params.values()))

    def all_choices(self) -> bool:
        """Whether every key has a list of choices (a grid can cover the space)."""
        return all(p.choices for p in self.params)

    def grid(self) -> dict[str, list[str]]:
        """Optuna GridSampler's search space (every key a list of choices)."""
        return {p.key: list(p.choices) for p in self.params}

    def grid_size(self) -> int:
        return math.prod(len(p.choices) for p in self.params) if self.all_choices() else 0

    def suggest(self, trial: Any) -> list[str]:
        """The trial's ``key=value`` overrides."""
        return [f"{p.key}={p.suggest(trial)}" for p in self.params]

    def check(self, load: Callable[[list[str]], Any]) -> None:
        """Load the recipe with every value of every key (both ends of a range), before any training; where the
        combinations are few (at most :data:`MAX_COMBINATIONS`) every combination, so that keys that only work
        together (``train.fit.views`` needs ``train.fit.projection``) fail now and not half-way through a sweep.

        Args:
            load: ``load(overrides)`` reads the recipe with those overrides; raises ConfigError for a bad one.

        Raises:
            ConfigError: An unknown key, or a value (or combination) the recipe refuses, naming the swept values.
        """
        for p in self.params:
            for text in p.edge_texts():
                try:
                    load([f"{p.key}={text}"])
                except ConfigError as err:
                    raise ConfigError(f"sweep key {p.key}={text}: {err}") from None
        if math.prod(len(p.edge_texts()) for p in self.params) > MAX_COMBINATIONS:
            return
        for combination in itertools.product(*([f"{p.key}={t}" for t in p.edge_texts()] for p in self.params)):
            try:
                load(list(combination))
            except ConfigError as err:
                raise ConfigError(f"sweep variant {' '.join(combination)}: {err}") from None


def _value(text: str) -> Any:
    from pairsim.yaml_core import load_yaml

    try:
        return load_yaml(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {shown(value)}")
    return value


def _param(key: str, spec: Any, where: str) -> Param:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where}: expected at least one choice, got an empty list")
        texts = tuple(yaml_text(v) for v in spec)
        if len(set(texts)) != len(texts):
            raise ConfigError(f"{where}: a choice is given twice in {shown(spec)}")
        return Param(key, choices=texts)
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "log"}
        if unknown or not {"low", "high"} <= set(spec):
            raise ConfigError(f"{where}: expected a list of choices or a range {{low, high, log}}, got {shown(spec)}")
        low, high = _number(spec["low"], f"{where}.low"), _number(spec["high"], f"{where}.high")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"{where}.log: expected true or false, got {shown(log)}")
        if not low < high:
            raise ConfigError(f"{where}: expected low < high, got low {low} and high {high}")
        if log and low <= 0:
            raise ConfigError(f"{where}: a log range needs low > 0, got {low}")
        return Param(key, low=low, high=high, log=log, integer=isinstance(low, int) and isinstance(high, int))
    raise ConfigError(f"{where}: expected a list of choices or a range {{low, high, log}}, got {shown(spec)}")
