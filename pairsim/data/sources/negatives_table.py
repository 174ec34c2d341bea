"""A table of anchors, positives and explicit negatives (``anchor, positive, negative_1 .. negative_n``, ``key``).

This is the layout ``pairsim mine`` writes (sentence-transformers' ``mine_hard_negatives`` in "n-tuple" form):
CSV, TSV, JSON lines or parquet. The training split is a :class:`~pairsim.data.types.PairTable` of similar pairs
whose ``negatives`` hold each row's negative columns (the ``hard_negatives`` sampler and ``infonce`` with
``negatives: n`` read them); rows sharing a ``key`` (when the table has that column) are one thing, never each
other's negatives. With ``margin: <column>`` (a teacher's ``t(q, p) - t(q, negative_1)`` per row, what
:func:`pairsim.train.distill.write_margins` writes) the training split's ``scores`` hold the margins, which the
``margins`` sampler gives ``margin_mse`` as its target. Validation and test splits (carved from the table by key, or given as files) are pair tables
a verification metric can read: each row's (anchor, positive) labelled 1 and (anchor, negative_1) labelled 0.

Example:
    >>> # load_dataset({"name": "negatives_table", "path": "mined.parquet"})
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any, Literal

from pairsim.config import bounded
from pairsim.data.sources.base import DATASETS, DatasetConfig, Source
from pairsim.data.sources.pair_table import column_name, resolve_path
from pairsim.data.split import fraction_counts, rng
from pairsim.data.table_file import read_table
from pairsim.data.types import PairTable, Splits
from pairsim.errors import DataError


@dataclasses.dataclass(frozen=True)
class NegativeRows:
    """The rows of one table: anchors, positives, ``(N, n)`` negatives, a key and a teacher's margin per row."""

    anchors: list[Any]
    positives: list[Any]
    negatives: list[list[Any]]
    keys: list[str] | None
    margins: list[float] | None = None

    def take(self, rows: list[int]) -> NegativeRows:
        pick = lambda col: [col[i] for i in rows]  # noqa: E731
        return NegativeRows(pick(self.anchors), pick(self.positives), pick(self.negatives),
                            None if self.keys is None else pick(self.keys),
                            None if self.margins is None else pick(self.margins))  # fmt: skip

    def training(self, modality: str) -> PairTable:
        """Similar pairs with their negatives (keys on both sides when the table has a key column) and, when the
        table has them, the margins as ``scores``."""
        return PairTable(a=self.anchors, b=self.positives, labels=[1.0] * len(self.anchors), modality=modality,  # type: ignore[arg-type]
                         keys_a=self.keys, keys_b=self.keys, negatives=self.negatives,
                         scores=self.margins)  # fmt: skip

    def evaluation(self, modality: str) -> PairTable:
        """(anchor, positive) = 1 and (anchor, negative_1) = 0 for each row."""
        a = self.anchors + (self.anchors if self.negatives and self.negatives[0] else [])
        b = self.positives + [row[0] for row in self.negatives if row]
        return PairTable(a=a, b=b, labels=[1.0] * len(self.anchors) + [0.0] * (len(a) - len(self.anchors)),
                         modality=modality)  # type: ignore[arg-type]  # fmt: skip


def negative_columns(found: list[str], prefix: str, count: int, path: Path) -> list[str]:
    """The table's ``<prefix>1 .. <prefix>n`` columns in number order (the first ``count``; 0: all)."""
    numbered = sorted((int(m.group(1)), c) for c in found if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", c)))
    columns = [c for _, c in numbered]
    if not columns:
        raise DataError(f"{path}: no negative columns {prefix}1 .. {prefix}n; found columns {found}")
    if count > len(columns):
        raise DataError(f"{path}: negatives: {count} asked for, the table has {len(columns)} ({prefix}1 ..)")
    return columns[:count] if count else columns


def _margins(column: Any, path: Path) -> list[float]:
    """A margin column as finite floats.

    Raises:
        DataError: A value is empty or not a finite number (the message names the file and the row).
    """
    out = []
    for i, value in enumerate(column):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise DataError(f"{path}: row {i + 1}: margin {value!r} is not a finite number")
        out.append(number)
    return out


@DATASETS.register("negatives_table")
class NegativesTableSource(Source["NegativesTableSource.Config"]):
    """Anchors, positives and mined negatives from a table file (the layout ``pairsim mine`` writes)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(DatasetConfig):
        name: str = "negatives_table"
        path: str  # the table (all rows, or the training rows when val_path / test_path are given)
        val_path: str | None = None  # validation table of the same layout; None: carve val_fraction from path
        test_path: str | None = None  # test table of the same layout; None: carve test_fraction from path
        format: Literal["auto", "csv", "tsv", "json", "parquet"] = "auto"  # auto: from the file suffix
        column_anchor: str = "anchor"  # side a's items
        column_positive: str = "positive"  # side b's item matching the anchor
        negative_prefix: str = "negative_"  # negatives are the columns <prefix>1, <prefix>2, ...
        negatives: int = bounded(0, ge=0, le=1024)  # read the first n negative columns; 0: all of them
        key: str | None = "key"  # rows sharing this column's value are one thing; used when the table has it
        margin: str | None = None  # a teacher's t(q, p) - t(q, negative_1) per row (margin_mse's target); None: none
        modality: Literal["text", "image"] = "text"  # what the columns hold (image paths resolve from the table)
        val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of rows (whole keys) carved for val
        test_fraction: float = bounded(0.1, ge=0, lt=1)  # share of rows (whole keys) carved for test
        cache_dir: str | None = None  # datasets cache folder (None: the datasets default)

    def root(self) -> Path:
        return Path(self.config.path).expanduser()

    def read(self, path: str) -> NegativeRows:
        """The rows of one table file.

        Raises:
            DataError: The file, a column or a value is missing (the message names the file, the row or the
                columns found).
        """
        cfg, p = self.config, Path(path).expanduser()
        table = read_table(p, cfg.format, cfg.cache_dir)
        found = list(table.column_names)
        anchor = column_name(cfg.column_anchor, found, p, "column_anchor")
        positive = column_name(cfg.column_positive, found, p, "column_positive")
        negs = negative_columns(found, cfg.negative_prefix, cfg.negatives, p)
        item = (lambda x: resolve_path(x, p.parent)) if cfg.modality == "image" else str
        columns = {c: table[c] for c in [anchor, positive, *negs]}
        rows: list[list[Any]] = []
        for i in range(len(table)):
            values = [columns[c][i] for c in [anchor, positive, *negs]]
            if any(v is None or not str(v).strip() for v in values):
                raise DataError(f"{p}: row {i + 1}: an empty {anchor!r}, {positive!r} or negative column")
            rows.append([item(v) for v in values])
        if not rows:
            raise DataError(f"{p}: the table has no rows")
        keys = [str(k) for k in table[cfg.key]] if cfg.key is not None and cfg.key in found else None
        margins = None if cfg.margin is None else _margins(table[column_name(cfg.margin, found, p, "margin")], p)
        return NegativeRows([r[0] for r in rows], [r[1] for r in rows], [r[2:] for r in rows], keys, margins)

    def load(self) -> Splits[PairTable]:
        cfg = self.config
        whole = self.read(cfg.path)
        val = None if cfg.val_path is None else self.read(cfg.val_path)
        test = None if cfg.test_path is None else self.read(cfg.test_path)
        carve = {"val": cfg.val_fraction if val is None else 0.0, "test": cfg.test_fraction if test is None else 0.0}
        groups = whole.keys if whole.keys is not None else [str(a) for a in whole.anchors]
        names = sorted(set(groups))
        order = [names[i] for i in rng(cfg.seed).permutation(len(names))]
        n_val, n_test = fraction_counts(len(names), carve["val"], carve["test"], where=f"negatives_table {cfg.path}")
        held = {"val": set(order[:n_val]), "test": set(order[n_val : n_val + n_test])}
        part = {name: [i for i, g in enumerate(groups) if g in keys] for name, keys in held.items()}
        train = [i for i, g in enumerate(groups) if g not in held["val"] and g not in held["test"]]
        val = val if val is not None else whole.take(part["val"])
        test = test if test is not None else whole.take(part["test"])
        out = {"train": whole.take(train), "val": val, "test": test}
        for name, rows in out.items():
            if not rows.anchors:
                raise DataError(f"negatives_table {cfg.path}: the {name} split is empty; check the split fractions")
        return Splits(out["train"].training(cfg.modality), out["val"].evaluation(cfg.modality),
                      out["test"].evaluation(cfg.modality))  # fmt: skip
