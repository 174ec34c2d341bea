"""A generic table of pairs (CSV, TSV, JSON lines or parquet), read through the ``datasets`` library.

A column mapping names the two items, the 0/1 label and optionally a graded score. Give one file and the
splits are carved from it by connected groups of items (no item in two splits), or give ``val_path`` and
``test_path`` to use existing splits.

Example:
    >>> # load_dataset({"name": "pair_table", "path": "pairs.csv", "text_a": "q1", "text_b": "q2",
    >>> #               "label": "dup"})
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from pairsim.config import bounded
from pairsim.data.sources.base import DATASETS, DatasetConfig, Source
from pairsim.data.sources.text_pairs import PairRow, make_splits
from pairsim.data.types import PairTable, Splits
from pairsim.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def read_table(path: Path, fmt: str, cache_dir: str | None) -> Any:
    """Load a file as a ``datasets.Dataset`` (cached as Arrow under ``cache_dir`` or the datasets cache).

    Raises:
        DataError: The file is missing or cannot be parsed; the message names it.
    """
    import datasets

    if not path.is_file():
        raise DataError(f"pair table not found: {path}")
    if fmt == "auto":
        fmt = FORMATS.get(path.suffix.lower(), "")
        if not fmt:
            raise DataError(f"{path}: cannot tell the format from the suffix; set format: csv, tsv, json or parquet")
    builder, kwargs = {
        "csv": ("csv", {}),
        "tsv": ("csv", {"sep": "\t", "quoting": 3}),  # 3 = csv.QUOTE_NONE: tab files carry raw quotes
        "json": ("json", {}),
        "parquet": ("parquet", {}),
    }[fmt]
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache_dir, **kwargs)
    except Exception as err:  # datasets raises many types (pyarrow, pandas, its own)
        raise DataError(f"cannot read {path} as {fmt}: {type(err).__name__}: {err}") from None


def table_rows(table: Any, cfg: PairTableSource.Config, path: Path) -> list[PairRow]:
    """Pairs of one loaded table, with the config's column mapping.

    Raises:
        DataError: A mapped column is missing (the message lists the columns found) or a value is unusable.
    """
    wanted = [c for c in (cfg.text_a, cfg.text_b, cfg.label, cfg.score) if c is not None]
    found = list(table.column_names)
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DataError(f"{path}: missing column {missing[0]!r}; found columns {found}")
    columns = {c: table[c] for c in wanted}
    rows = []
    for i in range(len(table)):
        a, b = columns[cfg.text_a][i], columns[cfg.text_b][i]
        if a is None or b is None or not str(a).strip() or not str(b).strip():
            if cfg.drop_empty:
                continue
            raise DataError(f"{path}: row {i + 1}: empty {cfg.text_a!r} or {cfg.text_b!r}")
        score = _number(columns[cfg.score][i], cfg.score, path, i) if cfg.score is not None else None
        if cfg.label is not None:
            label = _number(columns[cfg.label][i], cfg.label, path, i)
            if label not in (0.0, 1.0):
                raise DataError(f"{path}: row {i + 1}: column {cfg.label!r} must be 0 or 1, found {label}")
        elif score is not None and cfg.binarize_at is not None:
            label = float(score >= cfg.binarize_at)
        else:
            raise DataError(f"{path}: no label: set label to a column, or score and binarize_at")
        side_b = cfg.modality_b or cfg.modality
        if cfg.modality == "image":  # image paths are relative to the table's folder
            a = str(a) if Path(a).is_absolute() else str(path.parent / a)
        if side_b == "image":
            b = str(b) if Path(b).is_absolute() else str(path.parent / b)
        key_a, key_b = str(a), str(b)
        rows.append(PairRow(key_a=key_a, key_b=key_b, a=a, b=b, label=label, score=score))
    return rows


def _number(value: Any, column: str, path: Path, i: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"{path}: row {i + 1}: column {column!r} must be a number, found {value!r}") from None


@DATASETS.register("pair_table")
class PairTableSource(Source["PairTableSource.Config"]):
    """Pairs from table files as :class:`PairTable` splits."""

    @dataclasses.dataclass(kw_only=True)
    class Config(DatasetConfig):
        name: str = "pair_table"
        path: str  # the table (all pairs, or the training pairs when val_path/test_path are given)
        val_path: str | None = None  # validation table; None: carve val_fraction from path
        test_path: str | None = None  # test table; None: carve test_fraction from path
        format: Literal["auto", "csv", "tsv", "json", "parquet"] = "auto"  # auto: from the file suffix
        text_a: str = "sentence1"  # column of the first item
        text_b: str = "sentence2"  # column of the second item
        label: str | None = "label"  # column of the 0/1 label (1 = similar); None: binarize score
        score: str | None = None  # column of a graded score, kept for correlation metrics
        binarize_at: float | None = bounded(None)  # with label None: label = score >= binarize_at
        modality: Literal["text", "image"] = "text"  # what the item columns hold (texts or image paths)
        modality_b: Literal["text", "image"] | None = None  # what the text_b column holds when it differs
        val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of pairs carved for val when val_path is None
        test_fraction: float = bounded(0.1, ge=0, lt=1)  # share of pairs carved for test when test_path is None
        drop_empty: bool = True  # skip rows with an empty item, else raise
        drop_test_overlap: bool = True  # drop train pairs sharing an item with the val/test tables
        cache_dir: str | None = None  # datasets cache folder (None: the datasets default)

    def root(self) -> Path:
        return Path(self.config.path).expanduser()

    def _rows(self, path: str | None) -> list[PairRow] | None:
        if path is None:
            return None
        p = Path(path).expanduser()
        return table_rows(read_table(p, self.config.format, self.config.cache_dir), self.config, p)

    def load(self) -> Splits[PairTable]:
        cfg = self.config
        splits = make_splits(
            self._rows(cfg.path) or [],
            val=self._rows(cfg.val_path),
            test=self._rows(cfg.test_path),
            val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction,
            seed=cfg.seed,
            drop_test_overlap=cfg.drop_test_overlap,
            where=f"pair_table {cfg.path}",
        )
        for _, table in splits.items():
            table.modality, table.modality_b = cfg.modality, cfg.modality_b
        return splits
