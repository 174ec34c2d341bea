"""Shared reading and splitting of sentence-pair files (MRPC, STS-B, Quora).

Splits never share a sentence: the validation set (and the test set, where the data has no official one)
is carved from connected groups of pairs (:func:`pairsim.data.split.components`), and training pairs that
share a sentence with the test set are dropped when ``drop_test_overlap`` is set.

Example:
    >>> rows = [PairRow("1", "2", "a", "b", 1.0), PairRow("3", "4", "c", "d", 0.0)]
    >>> to_table(rows).labels
    [1.0, 0.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from pairsim.data.split import check_filter, components, fraction_counts, split_by_component
from pairsim.data.types import PairTable, Splits
from pairsim.errors import DataError


@dataclasses.dataclass(frozen=True)
class PairRow:
    """One sentence pair; ``key_a``/``key_b`` identify the sentences (an id, or the text itself)."""

    key_a: str
    key_b: str
    a: str
    b: str
    label: float  # 1.0 = similar
    score: float | None = None  # graded similarity (STS-B 0-5)
    class_a: str | None = None  # class of item a (a table's class column), for fitters that learn from classes
    class_b: str | None = None  # class of item b


def read_tsv(path: Path, *, fields: int, where: str, limit: int | None = None) -> list[list[str]]:
    """Lines of a tab-separated file without quoting (MRPC, STS-B, GLUE), BOM removed.

    Args:
        path: The file.
        fields: Minimum number of fields per line; lines may carry more (STS-B's source columns).
        where: Dataset name for error messages.
        limit: Read at most this many lines.

    Raises:
        DataError: The file is missing or a line has too few fields (naming the file and line).
    """
    if not path.is_file():
        raise DataError(f"{where}: file not found: {path}")
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for number, line in enumerate(f, start=1):
            if limit is not None and len(rows) >= limit:
                break
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < fields:
                raise DataError(f"{path}:{number}: expected at least {fields} tab-separated fields, found {len(parts)}")
            rows.append(parts)
    return rows


def parse_label(value: str, path: Path, number: int) -> float:
    """A 0/1 label from text; DataError naming the file and row otherwise."""
    if value.strip() not in ("0", "1"):
        raise DataError(f"{path}: row {number}: expected a 0/1 label, found {value!r}")
    return float(value.strip())


def to_table(rows: Sequence[PairRow]) -> PairTable:
    """The pairs as a text :class:`PairTable` (with scores when every row has one)."""
    scores = [r.score for r in rows]
    return PairTable(
        a=[r.a for r in rows],
        b=[r.b for r in rows],
        labels=[r.label for r in rows],
        scores=None if any(s is None for s in scores) else [float(s) for s in scores],  # type: ignore[arg-type]
        classes_a=None if any(r.class_a is None for r in rows) else [str(r.class_a) for r in rows],
        classes_b=None if any(r.class_b is None for r in rows) else [str(r.class_b) for r in rows],
        modality="text",
    )


def make_splits(
    train: Sequence[PairRow],
    *,
    val: Sequence[PairRow] | None,
    test: Sequence[PairRow] | None,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    drop_test_overlap: bool,
    where: str,
    max_filtered: float = 0.5,
) -> Splits[PairTable]:
    """Train/val/test tables from official splits where given, carving the missing ones from ``train``.

    Args:
        train: Training pairs (official train, or the whole data).
        val: Official validation pairs, or None to carve ``val_fraction`` of ``train``.
        test: Official test pairs, or None to carve ``test_fraction`` of ``train``.
        val_fraction: Share of pairs to carve for val.
        test_fraction: Share of pairs to carve for test (only when ``test`` is None).
        seed: Split seed.
        drop_test_overlap: Drop training (and carved val) pairs that share a sentence with an official
            val/test set, so no sentence is seen in training and scored in evaluation.
        where: Dataset name for messages.
        max_filtered: Largest share of the training pairs ``drop_test_overlap`` may remove (logged always).

    Returns:
        The three tables. Carved splits never share a sentence with each other.
    """
    rows = list(train)
    if drop_test_overlap:
        held = {k for part in (val, test) if part is not None for r in part for k in (r.key_a, r.key_b)}
        rows = [r for r in rows if r.key_a not in held and r.key_b not in held]
        check_filter(where=where, setting="drop_test_overlap", split="train", before=len(train), after=len(rows),
                     max_share=max_filtered)  # fmt: skip
    if not rows:
        raise DataError(f"{where}: no training pairs left")
    carve_val = val_fraction if val is None else 0.0
    carve_test = test_fraction if test is None else 0.0
    if carve_val or carve_test:
        fraction_counts(len(rows), carve_val, carve_test, where=where)
        comp = components([r.key_a for r in rows], [r.key_b for r in rows])
        tr, va, te = split_by_component(comp, val=carve_val, test=carve_test, seed=seed, where=where)
        parts = [[rows[i] for i in ix] for ix in (tr, va, te)]
    else:
        parts = [rows, [], []]
    out = [parts[0], list(val) if val is not None else parts[1], list(test) if test is not None else parts[2]]
    for name, part in zip(("train", "val", "test"), out, strict=True):
        if not part:
            raise DataError(f"{where}: the {name} split is empty; check the files and the split fractions")
    return Splits(*(to_table(p) for p in out))
