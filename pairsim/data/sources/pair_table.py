"""A generic table of pairs (CSV, TSV, JSON lines or parquet), read through the ``datasets`` library.

A column mapping names the two items, the 0/1 label and optionally a graded score. Give one file and the
splits are carved from it by connected groups of items (no item in two splits), or give ``val_path`` and
``test_path`` to use existing splits.

Example:
    >>> # load_dataset({"name": "pair_table", "path": "pairs.csv", "column_a": "q1", "column_b": "q2",
    >>> #               "label": "dup"})

Every field is described in docs/own_data.md.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, ClassVar, Literal

from pairsim.config import bounded
from pairsim.data.sources.base import DATASETS, DatasetConfig, Source
from pairsim.data.sources.text_pairs import PairRow, make_splits
from pairsim.data.split import check_filter
from pairsim.data.table_file import read_table
from pairsim.data.types import PairTable, Splits
from pairsim.errors import ConfigError, DataError
from pairsim.images import resolve_path

log = logging.getLogger("pairsim.data")
MAX_COLUMNS = 100_000  # column numbers are 0-based positions below this


def column_name(column: str | int, found: list[str], path: Path, field: str) -> str:
    """The table's name of a configured column: a name, or a 0-based column number.

    Raises:
        DataError: The column is not in the table; the message lists the columns found and, for a missing
            ``label``, how to use a graded column instead.
    """
    if isinstance(column, int):
        if not 0 <= column < len(found):
            raise DataError(f"{path}: {field}: column number {column} is out of range; the table has {len(found)} "
                            f"columns (0-{len(found) - 1})")  # fmt: skip
        return found[column]
    if column not in found:
        hint = ""
        if field == "label":
            hint = ("; for a graded column set label: null, score: <column> and binarize_at: <threshold> "
                    "(label = score >= binarize_at)")  # fmt: skip
        elif field in ("column_a", "column_b") and all(c.isdigit() for c in found):
            hint = "; a file without a header row has numbered columns: use column numbers (0, 1, ...)"
        raise DataError(f"{path}: missing column {column!r}; found columns {found} (data.{field}){hint}")
    return column


def table_rows(table: Any, cfg: PairTableSource.Config, path: Path) -> list[PairRow]:
    """Pairs of one loaded table, with the config's column mapping.

    Raises:
        DataError: A mapped column is missing (the message lists the columns found) or a value is unusable.
    """
    found = list(table.column_names)
    col_a, col_b = cfg.columns()
    names = {"column_a": column_name(col_a, found, path, "column_a"),
             "column_b": column_name(col_b, found, path, "column_b")}  # fmt: skip
    if cfg.label is not None:
        names["label"] = column_name(cfg.label, found, path, "label")
    if cfg.score is not None:
        names["score"] = column_name(cfg.score, found, path, "score")
    for field in ("class_a", "class_b"):
        if getattr(cfg, field) is not None:
            names[field] = column_name(getattr(cfg, field), found, path, field)
    if cfg.label is None and (cfg.score is None or cfg.binarize_at is None):
        raise DataError(f"{path}: no label: set data.label to a 0/1 column, or label: null with score: <column> "
                        "and binarize_at: <threshold>")  # fmt: skip
    columns = {field: table[name] for field, name in names.items()}
    side_b = cfg.modality_b or cfg.modality
    rows, empty = [], 0
    for i in range(len(table)):
        a, b = columns["column_a"][i], columns["column_b"][i]
        if a is None or b is None or not str(a).strip() or not str(b).strip():
            if cfg.drop_empty:
                empty += 1
                continue
            raise DataError(f"{path}: row {i + 1}: empty {names['column_a']!r} or {names['column_b']!r}")
        score = _number(columns["score"][i], names["score"], path, i) if cfg.score is not None else None
        if cfg.label is not None:
            label = _number(columns["label"][i], names["label"], path, i)
            if label not in (0.0, 1.0):
                raise DataError(f"{path}: row {i + 1}: column {names['label']!r} must be 0 or 1, found {label} "
                                "(a graded column: label: null, score and binarize_at)")  # fmt: skip
            if cfg.label_means == "different":  # e.g. verification CSVs with 1 = impostor pair
                label = 1.0 - label
        else:
            label = float(score >= cfg.binarize_at)  # type: ignore[operator]
        a = resolve_path(a, path.parent) if cfg.modality == "image" else str(a)
        b = resolve_path(b, path.parent) if side_b == "image" else str(b)
        classes = [_class(columns[f][i], names[f], path, i) if f in columns else None for f in ("class_a", "class_b")]
        rows.append(PairRow(key_a=a, key_b=b, a=a, b=b, label=label, score=score, class_a=classes[0],
                            class_b=classes[1]))  # fmt: skip
    check_filter(where=f"pair_table {path}", setting="drop_empty", split="table", before=len(table),
                 after=len(rows), max_share=cfg.max_filtered)  # fmt: skip
    return rows


def _class(value: Any, column: str, path: Path, i: int) -> str:
    if value is None or not str(value).strip():
        raise DataError(f"{path}: row {i + 1}: column {column!r} (a class column) is empty; every item needs a class")
    return str(value).strip()


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
        column_a: str | int = bounded(
            "sentence1", ge=0, le=MAX_COLUMNS
        )  # column of side a's items (texts or image paths): a name or a number
        column_b: str | int = bounded("sentence2", ge=0, le=MAX_COLUMNS)  # column of side b's items
        text_a: str | int | None = bounded(
            None, ge=0, le=MAX_COLUMNS
        )  # older name of column_a (accepted; set one of them)
        text_b: str | int | None = bounded(None, ge=0, le=MAX_COLUMNS)  # older name of column_b
        header: bool = True  # the first row names the columns; false: columns are numbered 0, 1, ...
        label: str | int | None = bounded(
            "label", ge=0, le=MAX_COLUMNS
        )  # column of the 0/1 label; None: binarize score at binarize_at
        label_means: Literal["similar", "different"] = "similar"  # what label 1 means in the file
        score: str | int | None = bounded(
            None, ge=0, le=MAX_COLUMNS
        )  # column of a graded score, kept for correlation metrics
        binarize_at: float | None = bounded(None)  # with label None: label = score >= binarize_at
        # columns naming the class of each side's item (the person in a face image), for the few-class fitters
        # (train.fit.projection: wccn); None: an item's class is its connected component of similar pairs
        class_a: str | int | None = bounded(None, ge=0, le=MAX_COLUMNS)
        class_b: str | int | None = bounded(None, ge=0, le=MAX_COLUMNS)  # set together with class_a
        # what the item columns hold: texts, or image paths (relative ones resolve against the table's folder)
        modality: Literal["text", "image"] = "text"
        modality_b: Literal["text", "image"] | None = None  # what column_b holds when it differs from column_a
        val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of pairs carved for val when val_path is None
        test_fraction: float = bounded(0.1, ge=0, lt=1)  # share of pairs carved for test when test_path is None
        drop_empty: bool = True  # skip rows with an empty item, else raise
        drop_test_overlap: bool = True  # drop train pairs sharing an item with the val/test tables
        train_filters: ClassVar[tuple[str, ...]] = ("drop_test_overlap",)  # only the training split
        cache_dir: str | None = None  # datasets cache folder (None: the datasets default)

        def check(self) -> None:
            if (self.class_a is None) != (self.class_b is None):
                raise ConfigError("data: set class_a and class_b together (the class column of each side)")
            for old, new in (("text_a", "column_a"), ("text_b", "column_b")):
                default = {"column_a": "sentence1", "column_b": "sentence2"}[new]
                if getattr(self, old) is not None and getattr(self, new) != default:
                    raise ConfigError(f"data: set {new} or its older name {old}, not both")

        def columns(self) -> tuple[str | int, str | int]:
            """The columns of sides a and b (``text_a`` / ``text_b`` where given)."""
            a = self.text_a if self.text_a is not None else self.column_a
            b = self.text_b if self.text_b is not None else self.column_b
            return a, b

    def root(self) -> Path:
        return Path(self.config.path).expanduser()

    def _rows(self, path: str | None, split: str) -> list[PairRow] | None:
        if path is None:
            return None
        p = Path(path).expanduser()
        log.info("pair_table: reading the %s table %s", split, p)
        return table_rows(read_table(p, self.config.format, self.config.cache_dir, header=self.config.header),
                          self.config, p)  # fmt: skip

    def load(self) -> Splits[PairTable]:
        cfg = self.config
        splits = make_splits(
            self._rows(cfg.path, "train" if cfg.val_path or cfg.test_path else "whole") or [],
            val=self._rows(cfg.val_path, "val"),
            test=self._rows(cfg.test_path, "test"),
            val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction,
            seed=cfg.seed,
            drop_test_overlap=cfg.drop_test_overlap,
            where=f"pair_table {cfg.path}",
            max_filtered=cfg.max_filtered,
        )
        for _, table in splits.items():
            table.modality, table.modality_b = cfg.modality, cfg.modality_b
        return splits
