"""Mined negatives joined to any dataset's training split (``data: {name: ..., train_negatives: mined.csv}``).

``pairsim mine`` (or :func:`pairsim.search.mine.mine_negatives`) writes a table of ``anchor, positive,
negative_1 .. negative_n`` rows. ``train_negatives`` on a dataset's config joins that table to the training split
of the dataset itself (STS-B, MRPC, Flickr8k, a ``pair_table``): each similar training pair whose (anchor,
positive) is a row of the table gets that row's negatives, and the split becomes those pairs only (what the
``hard_negatives`` sampler and ``infonce`` with ``negatives: n`` read). Validation and test stay the dataset's
own, so a model trained on mined negatives is measured exactly as the recipe without them. Keys stay the
dataset's (a Flickr8k caption's key is its image), so key masking keeps working.

Image items are matched and resolved as paths: a relative path in the table resolves against the table's folder.

Example:
    >>> from pairsim.data.types import PairTable
    >>> train = PairTable(a=["q1", "q2", "q3"], b=["p1", "p2", "x"], labels=[1.0, 1.0, 0.0])
    >>> rows = [{"anchor": "q1", "positive": "p1", "negative_1": "p2"}]
    >>> joined, counts = join_rows(train, rows, folder=Path("."), where="mined.csv")
    >>> joined.a, joined.negatives, counts
    (['q1'], [['p2']], {'joined': 1, 'unmatched': 1, 'dissimilar': 1})
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pairsim.data.table_file import read_table
from pairsim.data.types import CaptionImages, PairTable
from pairsim.errors import DataError
from pairsim.images import resolve_path

log = logging.getLogger(__name__)


def _norm(item: Any, modality: str, folder: Path) -> str:
    """How an item is compared: a text as it is; an image path resolved and normalised."""
    return os.path.normpath(resolve_path(item, folder)) if modality == "image" else str(item)


def match_rows(
    train: PairTable, rows: Sequence[Mapping[str, Any]], *, folder: Path, where: str
) -> tuple[list[int], list[list[Any]], dict[str, int]]:
    """Which similar pairs of ``train`` have a row in ``rows``, and that row's negatives.

    Args:
        train: The training split as pairs.
        rows: The mined rows: ``anchor``, ``positive``, ``negative_1`` .. ``negative_n`` (the same ``n`` in every
            row; other columns are ignored). The first row of a repeated (anchor, positive) is used.
        folder: Where relative image paths of the rows resolve from.
        where: The table's name, for messages.

    Returns:
        ``(kept, negatives, counts)``: the indices of the joined pairs in ``train``, each one's negatives, and how
        many training pairs were ``joined``, had no row (``unmatched``) or were ``dissimilar`` (label < 0.5:
        never an anchor-positive).

    Raises:
        DataError: A row lacks a column, the rows have different numbers of negatives, or no training pair has
            a row (the message shows a training pair and a row, so a path or text mismatch is visible).
    """
    if not rows:
        raise DataError(f"{where}: the mined table has no rows")
    mod_a, mod_b = train.side_modality("a"), train.side_modality("b")
    negative_columns = sorted((c for c in rows[0] if c.startswith("negative_") and c[9:].isdigit()),
                              key=lambda c: int(c[9:]))  # fmt: skip
    if not negative_columns:
        raise DataError(f"{where}: expected columns anchor, positive, negative_1 .. negative_n; got {list(rows[0])}")
    mined: dict[tuple[str, str], list[Any]] = {}
    for i, row in enumerate(rows):
        try:
            anchor, positive = row["anchor"], row["positive"]
            negatives = [row[c] for c in negative_columns]
        except KeyError as missing:
            raise DataError(f"{where}: row {i + 1} has no {missing} column (expected anchor, positive, "
                            f"{', '.join(negative_columns)})") from None  # fmt: skip
        if any(v is None or not str(v).strip() for v in (anchor, positive, *negatives)):
            raise DataError(f"{where}: row {i + 1}: an empty anchor, positive or negative")
        resolved = [resolve_path(n, folder) if mod_b == "image" else str(n) for n in negatives]
        mined.setdefault((_norm(anchor, mod_a, folder), _norm(positive, mod_b, folder)), resolved)
    here = Path(".")
    keep, negatives_of, counts = [], [], {"joined": 0, "unmatched": 0, "dissimilar": 0}
    for r, (a, b, y) in enumerate(zip(train.a, train.b, train.labels, strict=True)):
        if y < 0.5:
            counts["dissimilar"] += 1
            continue
        found = mined.get((_norm(a, mod_a, here), _norm(b, mod_b, here)))
        if found is None:
            counts["unmatched"] += 1
            continue
        keep.append(r)
        negatives_of.append(found)
    if not keep:
        example = next(iter(mined))
        raise DataError(
            f"{where}: none of the {len(train)} training pairs is an (anchor, positive) row of the mined table; "
            f"expected a table mined from this dataset's training split (a training pair: "
            f"{str(train.a[0])[:80]!r} / {str(train.b[0])[:80]!r}; a table row: {example[0][:80]!r} / "
            f"{example[1][:80]!r})"
        )
    counts["joined"] = len(keep)
    return keep, negatives_of, counts


def join_rows(
    train: PairTable, rows: Sequence[Mapping[str, Any]], *, folder: Path, where: str
) -> tuple[PairTable, dict[str, int]]:
    """The similar pairs of ``train`` that have a row in ``rows``, each with that row's negatives.

    Args:
        train: The training split as pairs.
        rows: The mined rows (see :func:`match_rows`).
        folder: Where relative image paths of the rows resolve from.
        where: The table's name, for messages.

    Returns:
        ``(table, counts)``: the joined pairs (labels 1, keys and classes kept) and the counts of
        :func:`match_rows`.
    """
    keep, negatives_of, counts = match_rows(train, rows, folder=folder, where=where)
    joined = train.subset(keep)
    return PairTable(a=joined.a, b=joined.b, labels=[1.0] * len(keep), modality=joined.modality,
                     modality_b=joined.modality_b, keys_a=joined.keys_a, keys_b=joined.keys_b,
                     classes_a=joined.classes_a, classes_b=joined.classes_b,
                     negatives=negatives_of), counts  # fmt: skip


def join_captions(
    data: CaptionImages, rows: Sequence[Mapping[str, Any]], *, folder: Path, where: str
) -> tuple[CaptionImages, dict[str, int]]:
    """Caption-image data cut to the captions whose (caption, image) pair has a row, each with its negatives.

    Every image stays, so the split is still caption-image data of the same kind as validation and test.

    Returns:
        ``(data, counts)``: the joined captions (``negatives`` set) and the counts of :func:`match_rows`.
    """
    keep, negatives_of, counts = match_rows(data.to_pairs(), rows, folder=folder, where=where)
    return CaptionImages(images=data.images, image_ids=data.image_ids, captions=[data.captions[c] for c in keep],
                         caption_image=[data.caption_image[c] for c in keep], image_side=data.image_side,
                         negatives=negatives_of), counts  # fmt: skip


def join_negatives(train: Any, path: str) -> PairTable | CaptionImages:
    """Read a mined table (``.csv``, ``.tsv``, ``.jsonl``/``.json``, ``.parquet``) and join it to ``train``.

    Args:
        train: The training split: a :class:`PairTable`, or :class:`CaptionImages` (matched as caption-image
            pairs; the result stays caption-image data, as validation and test are).
        path: The mined table.

    Returns:
        The joined split (see :func:`join_rows`, :func:`join_captions`); the counts are logged.

    Raises:
        DataError: The split has no pairs (labelled items), the file cannot be read, or nothing joins.
    """
    where = f"data.train_negatives {path}"
    if not isinstance(train, (PairTable, CaptionImages)):
        raise DataError(f"{where}: needs a dataset of pairs (text pairs, caption-image pairs, a pair table); "
                        f"this dataset's training split is {type(train).__name__}")  # fmt: skip
    p = Path(path).expanduser()
    try:
        rows = read_table(p, "auto", None).to_list()
    except DataError as err:  # the shared reader speaks of a "pair table": say which setting named the file
        raise DataError(
            f"data.train_negatives: {err} (expected a mined table: anchor, positive, negative_1 ..)"
        ) from None
    if isinstance(train, CaptionImages):
        joined, counts = join_captions(train, rows, folder=p.parent, where=where)
    else:
        joined, counts = join_rows(train, rows, folder=p.parent, where=where)
    log.info(
        "data.train_negatives: %d of %d training pairs have %d mined negatives each from %s (%d similar pairs "
        "without a row and %d dissimilar pairs left out)",
        counts["joined"], len(train), len((joined.negatives or [[]])[0]), p, counts["unmatched"], counts["dissimilar"],
    )  # fmt: skip
    return joined
