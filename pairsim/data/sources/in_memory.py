"""``in_memory``: data handed over in Python (``pairsim.fit(train=...)``) as a registered source.

The tables (a list of tuples or dicts, a pandas DataFrame, a ``datasets.Dataset`` / ``DatasetDict``, a dict of
columns, or pairsim's own :class:`~pairsim.data.types.LabelledItems` / :class:`~pairsim.data.types.PairTable` /
:class:`~pairsim.data.types.CaptionImages` / :class:`~pairsim.data.types.Splits`) are held in this process under
a reference while a run lasts (:func:`hold`); the recipe names the source and the reference, and its column
mapping is the one of :class:`~pairsim.data.sources.table.TableConfig`, so the run's ``recipe.yaml`` records how
the data was read. Everything downstream (samplers, losses, evaluation) sees the same data kinds as from files.

Example:
    >>> rows = [(f"q{i}", f"p{i}", i % 2) for i in range(10)]
    >>> with hold(rows) as ref:
    ...     splits = InMemory(InMemory.Config(ref=ref)).load()
    >>> len(splits.train) + len(splits.val) + len(splits.test)
    10
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pairsim.data.sources.base import DATASETS, Source
from pairsim.data.sources.table import TableConfig, pairsim_splits, pick_splits, table_splits
from pairsim.data.types import Splits
from pairsim.errors import DataError

_HELD: dict[str, tuple[Any, Any, Any]] = {}
_COUNTER = itertools.count(1)


def is_split_mapping(data: Any) -> bool:
    """Whether ``data`` is a ``datasets.DatasetDict`` (named splits)."""
    kind = type(data)
    return kind.__module__.split(".", 1)[0] == "datasets" and kind.__name__ == "DatasetDict"


@contextmanager
def hold(train: Any, val: Any = None, test: Any = None) -> Iterator[str]:
    """Hold in-memory tables under a new reference for an ``in_memory`` config while the block runs.

    Args:
        train: The training table, or a ``DatasetDict`` / :class:`~pairsim.data.types.Splits` holding every split.
        val: The validation table (None: carved from train, or taken from the DatasetDict).
        test: The test table (the same).

    Yields:
        The reference (``in_memory`` config's ``ref``).
    """
    ref = f"python-{next(_COUNTER)}"
    _HELD[ref] = (train, val, test)
    try:
        yield ref
    finally:
        _HELD.pop(ref, None)


@DATASETS.register("in_memory")
class InMemory(Source["InMemory.Config"]):
    """Tables held in this Python process (:func:`hold`), as the data kind their columns describe."""

    @dataclasses.dataclass(kw_only=True)
    class Config(TableConfig):
        name: str = "in_memory"
        ref: str  # the reference pairsim.fit gave the tables it holds while the run lasts
        description: str = ""  # what was handed over (for the run's recipe.yaml; not read)

    def load(self) -> Splits[Any]:
        cfg = self.config
        where = "in_memory"
        if cfg.ref not in _HELD:
            raise DataError(
                f"in_memory data {cfg.ref!r} is not held in this process: in-memory data is handed to pairsim.fit("
                "train=...) in Python; a recipe file reads files with the hf_dataset or pair_table source"
            )
        train, val, test = _HELD[cfg.ref]
        if is_split_mapping(train):
            if val is not None or test is not None:
                raise DataError(f"{where}: train is a DatasetDict (its splits are used); give no val or test beside it")
            train, val, test = pick_splits(train, cfg, where=where)
        own = pairsim_splits(train, val, test, cfg, where=where)
        if own is not None:
            return own
        return table_splits(train, val, test, cfg, where=where)


def describe(data: Any) -> str:
    """A short description of an in-memory table for the run's recipe (``list of 200 tuple``, ``DataFrame``)."""
    if data is None:
        return "none"
    if isinstance(data, (list, tuple)):
        first = type(data[0]).__name__ if data else "rows"
        return f"{type(data).__name__} of {len(data)} {first}"
    size = getattr(data, "shape", None) or (len(data) if hasattr(data, "__len__") else None)
    return f"{type(data).__name__} {tuple(size) if isinstance(size, tuple) else size}".strip()
