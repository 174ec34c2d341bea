"""Tables of named columns as pairsim's data kinds, for the ``in_memory`` and ``hf_dataset`` sources.

One column mapping (:class:`TableConfig`) reads three kinds of table; ``kind: auto`` picks the first that fits:

* **pairs** (:class:`~pairsim.data.types.PairTable`): two item columns, a 0/1 label and/or a graded score.
  Defaults are the conventional names: ``sentence1/sentence2`` (GLUE, sentence-transformers), ``question1/
  question2`` (QQP), ``anchor/positive`` (+ ``negative``: each row gives a similar and a dissimilar pair),
  ``image1/image2``, ``text1/text2``, ``a/b``, and columns ``0/1`` of tuples; the label is ``label`` or
  ``is_duplicate`` (tuples: their third value), the score ``score``. Graded data is read as ``pair_table``
  reads it: a 0/1 ``label``, or ``label: null`` with ``score`` and ``binarize_at``. Without label or score every
  pair is similar (positive pairs for in-batch-negative losses); val and test then get one mismatched pair per
  pair (:func:`with_negatives`) so verification metrics can be measured.
* **captions** (:class:`~pairsim.data.types.CaptionImages`): an ``image`` and a ``caption`` column (a caption
  or a list of captions per row); rows with the same image (path, or ``image_id``) are one image.
* **items** (:class:`~pairsim.data.types.LabelledItems`): one item column (``image``, ``text``, ``sentence``,
  ``item``) and a class column (``label``, ``class``), for pairs, triplets, P x K batches and episodes drawn
  from classes.

Missing validation or test tables are carved from the training table exactly as the file sources do: pairs by
connected groups of items (:func:`~pairsim.data.sources.text_pairs.make_splits`, as ``pair_table``), items by
class or item (as ``image_folder``), captions by image (as ``captions``), so a list, a DataFrame, a
``datasets.Dataset`` and a ``pair_table`` CSV of the same rows give the same splits.

Example:
    >>> cfg = TableConfig(name="in_memory", val_fraction=0.25, test_fraction=0.25)
    >>> rows = [(f"q{i}", f"p{i}", i % 2) for i in range(8)]
    >>> splits = table_splits(rows, None, None, cfg, where="fit")
    >>> len(splits.train), splits.train.modality
    (4, 'text')
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from pairsim.config import MAX_COUNT, bounded
from pairsim.data.records import check_items, columns_of, find_column, modality_of, number, require_column
from pairsim.data.samplers import mismatch
from pairsim.data.sources.base import DatasetConfig
from pairsim.data.sources.captions import split_by_image
from pairsim.data.sources.pair_table import MAX_COLUMNS
from pairsim.data.sources.text_pairs import PairRow, make_splits
from pairsim.data.split import Stream, check_filter, fraction_counts, partition, rng, stratified_items
from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits
from pairsim.errors import DataError

log = logging.getLogger("pairsim.data")
PAIR_COLUMNS = [("sentence1", "sentence2"), ("question1", "question2"), ("anchor", "positive"),
                ("image1", "image2"), ("text1", "text2"), ("a", "b"), ("0", "1")]  # fmt: skip
LABEL_COLUMNS = ["label", "is_duplicate", "labels"]
SCORE_COLUMNS = ["score", "similarity_score", "relatedness_score"]
ITEM_COLUMNS = ["image", "img", "text", "sentence", "item", "0"]
CLASS_COLUMNS = ["label", "labels", "class", "1"]
IMAGE_COLUMNS = ["image", "img", "image_path", "filepath", "file_name"]
CAPTION_COLUMNS = ["caption", "captions", "text", "sentence"]
VAL_SPLITS = ["validation", "val", "valid", "dev"]


@dataclasses.dataclass(kw_only=True)
class TableConfig(DatasetConfig):
    """The column mapping and splitting shared by the ``in_memory`` and ``hf_dataset`` sources.

    Column settings take a name (or a tuple position); ``auto`` looks up the conventional names.
    """

    kind: Literal["auto", "pairs", "captions", "items"] = "auto"  # what a row is; auto: from the columns found
    column_a: str | int = bounded("auto", ge=0, le=MAX_COLUMNS)  # pairs: side a's items
    column_b: str | int = bounded("auto", ge=0, le=MAX_COLUMNS)  # pairs: side b's items
    negative: str | int | None = bounded("auto", ge=0, le=MAX_COLUMNS)  # pairs: a dissimilar side-b item per row
    label: str | int | None = bounded("auto", ge=0, le=MAX_COLUMNS)  # pairs: 0/1 label; items: class; None: none
    label_means: Literal["similar", "different"] = "similar"  # pairs: what label 1 means
    score: str | int | None = bounded("auto", ge=0, le=MAX_COLUMNS)  # pairs: graded score (STS 0-5 or 0-1)
    binarize_at: float | None = bounded(None)  # pairs with no 0/1 label: label = score >= binarize_at
    item: str | int = bounded("auto", ge=0, le=MAX_COLUMNS)  # items: the item column
    group: str | None = "auto"  # items: a coarser group per item (episodes within a group); None: none
    image: str = "auto"  # captions: the image column
    caption: str = "auto"  # captions: the caption column (a caption, or a list of captions, per row)
    image_id: str | None = "auto"  # captions: the image's id (rows with one id are one image); None: the image
    image_side: Literal["a", "b"] = "b"  # captions: the side holding the images
    modality: Literal["auto", "text", "image"] = "auto"  # what side a (items: the item) holds; auto: from values
    modality_b: Literal["auto", "text", "image"] = "auto"  # what side b holds
    split_by: Literal["class", "item"] = "class"  # items: hold out whole classes, or spread each class
    val_fraction: float = bounded(0.1, ge=0, lt=1)  # share carved for val when there is no val table
    test_fraction: float = bounded(0.1, ge=0, lt=1)  # share carved for test when there is no test table
    limit: int | None = bounded(None, ge=1, le=MAX_COUNT)  # read only the first this many rows of each table
    drop_empty: bool = True  # pairs: skip rows with an empty item, else raise
    drop_test_overlap: bool = True  # pairs: drop train pairs sharing an item with a given val/test table
    train_split: str = "train"  # of a DatasetDict: the training split
    val_split: str | None = (
        "auto"  # of a DatasetDict: the validation split; auto: validation/val/valid/dev; None: carve
    )
    test_split: str | None = "auto"  # of a DatasetDict: the test split; auto: test; None: carve


def pick_splits(splits: Mapping[str, Any], cfg: TableConfig, *, where: str) -> tuple[Any, Any, Any]:
    """``(train, val, test)`` of a mapping of named splits (a ``DatasetDict``); None where carved.

    Raises:
        DataError: A named split is missing; the message lists the splits found and the setting.
    """
    found = list(splits)

    def get(name: str | None, setting: str, auto: list[str]) -> Any:
        if name is None:
            return None
        if name == "auto":
            return next((splits[n] for n in auto if n in splits), None)
        if name not in splits:
            raise DataError(f"{where}: no split {name!r}; found splits {found} (set {setting})")
        return splits[name]

    return (get(cfg.train_split, "train_split", []), get(cfg.val_split, "val_split", VAL_SPLITS),
            get(cfg.test_split, "test_split", ["test"]))  # fmt: skip


def table_kind(cols: Mapping[str, Any], cfg: TableConfig) -> str:
    """The kind of table ``cols`` holds under ``cfg`` (``kind: auto``: pairs, then captions, then items)."""
    if cfg.kind != "auto":
        return cfg.kind
    if _pair_columns(cols, cfg) is not None:
        return "pairs"
    if find_column(cols, cfg.image, IMAGE_COLUMNS) and find_column(cols, cfg.caption, CAPTION_COLUMNS):
        return "captions"
    return "items"


def _pair_columns(cols: Mapping[str, Any], cfg: TableConfig) -> tuple[str, str] | None:
    given_a = None if cfg.column_a == "auto" else str(cfg.column_a)
    given_b = None if cfg.column_b == "auto" else str(cfg.column_b)
    for a, b in PAIR_COLUMNS:
        if (given_a or a) in cols and (given_b or b) in cols:
            return given_a or a, given_b or b
    if not (given_a or given_b or cfg.kind == "pairs"):
        return None
    # the given column is missing: the other side's first conventional name found, so the error names the given one
    a = given_a or next((a for a, _ in PAIR_COLUMNS if a in cols), "sentence1")
    b = given_b or next((b for _, b in PAIR_COLUMNS if b in cols), "sentence2")
    return a, b


# -- pairs ----------------------------------------------------------------------------------------------------
def pair_rows(cols: Mapping[str, list[Any]], cfg: TableConfig, *, where: str) -> tuple[list[PairRow], str, str, bool]:
    """The pairs of one table, the modality of each side, and whether it holds positive pairs only (no label,
    score or negative column).

    Raises:
        DataError: A missing column, an item of the wrong kind, a label that is not 0/1 or a missing number,
            naming ``where``, the row and the column.
    """
    col_a, col_b = _pair_columns(cols, cfg) or ("sentence1", "sentence2")
    require_column(cols, col_a, where=where, setting="column_a")
    require_column(cols, col_b, where=where, setting="column_b")
    negative = find_column(cols, cfg.negative, ["negative"] if col_a == "anchor" else [])
    if negative is not None:
        require_column(cols, negative, where=where, setting="negative")
    label = find_column(cols, cfg.label, ["2"] if col_a == "0" else LABEL_COLUMNS)
    score = find_column(cols, cfg.score, SCORE_COLUMNS)
    for name, setting in ((label, "label"), (score, "score")):
        if name is not None:
            require_column(cols, name, where=where, setting=setting)
    if label is None and score is not None and cfg.binarize_at is None and negative is None:
        raise DataError(f"{where}: graded column {score!r} and no 0/1 label; set binarize_at=<threshold> (label = "
                        f"score >= binarize_at), or label=<a 0/1 column>")  # fmt: skip
    mod_a = modality_of(cols[col_a], cfg.modality)
    mod_b = modality_of(cols[col_b], cfg.modality_b if cfg.modality_b != "auto" else cfg.modality)
    side_a = check_items(cols[col_a], mod_a, where=where, column=col_a)
    side_b = check_items(cols[col_b], mod_b, where=where, column=col_b)
    side_n = check_items(cols[negative], mod_b, where=where, column=negative) if negative else None
    rows: list[PairRow] = []
    empty = 0
    for i in range(len(side_a)):
        a, b = side_a[i], side_b[i]
        if _empty(a) or _empty(b) or (side_n is not None and _empty(side_n[i])):
            if cfg.drop_empty:
                empty += 1
                continue
            raise DataError(f"{where}: row {i}: empty {col_a!r} or {col_b!r}")
        if side_n is not None:  # (anchor, positive, negative): a similar and a dissimilar pair
            rows += [PairRow(_key(a), _key(b), a, b, 1.0), PairRow(_key(a), _key(side_n[i]), a, side_n[i], 0.0)]
            continue
        value = number(cols[score][i], where=where, row=i, column=score) if score is not None else None
        if label is not None:
            y = number(cols[label][i], where=where, row=i, column=label)
            if y not in (0.0, 1.0):
                raise DataError(f"{where}: row {i}, column {label!r}: expected a 0/1 label, found {y:g} (a graded "
                                f"column: label=None, score={label!r}, binarize_at=<threshold>)")  # fmt: skip
            y = 1.0 - y if cfg.label_means == "different" else y
        elif value is not None:
            y = float(value >= cfg.binarize_at)  # type: ignore[operator]
        else:  # positive pairs only
            y = 1.0
        rows.append(PairRow(_key(a), _key(b), a, b, y, value))
    check_filter(where=where, setting="drop_empty", split="table", before=len(side_a), after=len(rows),
                 max_share=cfg.max_filtered)  # fmt: skip
    return rows, mod_a, mod_b, label is None and score is None and negative is None


def with_negatives(table: PairTable, *, seed: int, stream: int) -> PairTable:
    """A positives-only evaluation table with one dissimilar pair added per pair: its side-a item with the side-b
    item of another row (a different key), drawn with ``rng(seed, stream)``, so verification metrics have both
    classes. Training tables stay as they are (samplers draw their own negatives).

    Example:
        >>> t = PairTable(a=["q1", "q2", "q3"], b=["p1", "p2", "p3"], labels=[1.0] * 3)
        >>> with_negatives(t, seed=0, stream=11).labels
        [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    rows = np.arange(len(table))  # (N,)
    other = mismatch(table.keys("b"), rows, rng(seed, stream))  # (N,) a row with another side-b key
    return dataclasses.replace(
        table,
        a=[*table.a, *table.a],
        b=[*table.b, *(table.b[j] for j in other)],
        labels=[*table.labels, *([0.0] * len(table))],
        keys_a=None if table.keys_a is None else [*table.keys_a, *table.keys_a],
        keys_b=None if table.keys_b is None else [*table.keys_b, *(table.keys_b[j] for j in other)],
    )


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _key(item: Any) -> str:
    """An item's identity for leak-free splitting: a text or path itself, else the object's identity."""
    return item if isinstance(item, str) else f"<object {id(item)}>"


# -- labelled items -------------------------------------------------------------------------------------------
def labelled_items(
    cols: Mapping[str, list[Any]], cfg: TableConfig, *, where: str, classes: dict[Any, int]
) -> LabelledItems:
    """The items and classes of one table; ``classes`` maps class values to ids (shared by every table).

    Raises:
        DataError: A missing column or an item of the wrong kind, naming the row and the column.
    """
    item = find_column(cols, cfg.item, ITEM_COLUMNS) or "item"
    require_column(cols, item, where=where, setting="item")
    label = find_column(cols, cfg.label, [c for c in CLASS_COLUMNS if c != item])
    if label is None:
        raise DataError(f"{where}: no class column; found columns {list(cols)} (set label=<column>)")
    require_column(cols, label, where=where, setting="label")
    group = find_column(cols, cfg.group, ["group"])
    modality = modality_of(cols[item], cfg.modality)
    items = check_items(cols[item], modality, where=where, column=item)
    for i, value in enumerate(cols[label]):
        if not isinstance(value, (str, int)) and not (hasattr(value, "is_integer") and float(value).is_integer()):
            raise DataError(f"{where}: row {i}, column {label!r}: expected a class (an integer or a name), "
                            f"found {type(value).__name__} {value!r}")  # fmt: skip
    labels = [classes[_class_value(v)] for v in cols[label]]
    groups = [str(g) for g in cols[group]] if group is not None and group in cols else None
    return LabelledItems(items=items, labels=labels, groups=groups, modality=modality)  # type: ignore[arg-type]


def _class_value(value: Any) -> Any:
    return value if isinstance(value, str) else int(value)


def _class_ids(tables: list[Mapping[str, list[Any]]], cfg: TableConfig) -> dict[Any, int]:
    """Class value -> id over every table: integer classes keep their value, names are numbered in order."""
    values: set[Any] = set()
    for cols in tables:
        item = find_column(cols, cfg.item, ITEM_COLUMNS) or "item"
        label = find_column(cols, cfg.label, [c for c in CLASS_COLUMNS if c != item])
        if label is not None and label in cols:
            values |= {_class_value(v) for v in cols[label] if isinstance(v, (str, int, float))}
    if values and all(isinstance(v, int) for v in values):
        return {v: v for v in values}
    return {v: i for i, v in enumerate(sorted(values, key=str))}


# -- captions -------------------------------------------------------------------------------------------------
def caption_table(cols: Mapping[str, list[Any]], cfg: TableConfig, *, where: str) -> CaptionImages:
    """Images with their captions from one table (one image per distinct id or path)."""
    image = find_column(cols, cfg.image, IMAGE_COLUMNS) or "image"
    caption = find_column(cols, cfg.caption, CAPTION_COLUMNS) or "caption"
    require_column(cols, image, where=where, setting="image")
    require_column(cols, caption, where=where, setting="caption")
    ids_col = find_column(cols, cfg.image_id, ["image_id"])
    images = check_items(cols[image], "image", where=where, column=image)
    index: dict[str, int] = {}
    out_images, out_ids, captions, caption_image = [], [], [], []
    for i, img in enumerate(images):
        key = str(cols[ids_col][i]) if ids_col is not None and ids_col in cols else _key(img)
        if key not in index:
            index[key] = len(out_images)
            out_images.append(img)
            out_ids.append(key)
        texts = cols[caption][i] if isinstance(cols[caption][i], (list, tuple)) else [cols[caption][i]]
        for text in check_items(list(texts), "text", where=where, column=caption):
            if not _empty(text):
                captions.append(text)
                caption_image.append(index[key])
    return CaptionImages(images=out_images, image_ids=out_ids, captions=captions, caption_image=caption_image,
                         image_side=cfg.image_side)  # fmt: skip


# -- the splits -----------------------------------------------------------------------------------------------
def table_splits(train: Any, val: Any, test: Any, cfg: TableConfig, *, where: str) -> Splits[Any]:
    """Train/val/test data of pairsim's kinds from in-memory tables; a missing val or test table is carved from
    ``train`` (see the module docstring).

    Args:
        train: The training table (any kind :func:`~pairsim.data.records.columns_of` reads).
        val: The validation table, or None to carve ``val_fraction``.
        test: The test table, or None to carve ``test_fraction``.
        cfg: Column mapping and splitting.
        where: The source's name in messages.

    Returns:
        The splits, of one kind.

    Raises:
        DataError: Bad data, naming the table (train / val / test), the row and the column.
    """
    given = {"train": train, "val": val, "test": test}
    tables = {name: _limited(columns_of(t, where=f"{where} {name}"), cfg.limit) for name, t in given.items()
              if t is not None}  # fmt: skip
    if not tables["train"] or not next(iter(tables["train"].values()), []):
        raise DataError(f"{where} train: no rows; expected at least one row")
    kind = table_kind(tables["train"], cfg)
    if kind == "pairs":
        read = {n: pair_rows(c, cfg, where=f"{where} {n}") for n, c in tables.items()}
        splits = make_splits(
            read["train"][0], val=read["val"][0] if "val" in read else None,
            test=read["test"][0] if "test" in read else None, val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction, seed=cfg.seed, drop_test_overlap=cfg.drop_test_overlap, where=where,
            max_filtered=cfg.max_filtered,
        )  # fmt: skip
        _, mod_a, mod_b, positives_only = read["train"]
        for _, part in splits.items():
            part.modality, part.modality_b = mod_a, (mod_b if mod_b != mod_a else None)  # type: ignore[assignment]
        if positives_only:
            log.info("%s: positive pairs only: val and test get one mismatched (dissimilar) pair per pair", where)
            splits.val = with_negatives(splits.val, seed=cfg.seed, stream=Stream.EVAL_VAL)
            splits.test = with_negatives(splits.test, seed=cfg.seed, stream=Stream.EVAL_TEST)
        return splits
    if kind == "captions":
        caps = {n: caption_table(c, cfg, where=f"{where} {n}") for n, c in tables.items()}
        return _carve_captions(caps, cfg, where=where)
    classes = _class_ids(list(tables.values()), cfg)
    items = {n: labelled_items(c, cfg, where=f"{where} {n}", classes=classes) for n, c in tables.items()}
    return _carve_items(items, cfg, where=where)


def _limited(cols: dict[str, list[Any]], limit: int | None) -> dict[str, list[Any]]:
    return cols if limit is None else {k: v[:limit] for k, v in cols.items()}


def _carve_items(parts: dict[str, LabelledItems], cfg: TableConfig, *, where: str) -> Splits[LabelledItems]:
    train = parts["train"]
    val_f = 0.0 if "val" in parts else cfg.val_fraction
    test_f = 0.0 if "test" in parts else cfg.test_fraction
    if cfg.split_by == "item":
        tr, va, te = stratified_items(train.labels, val=val_f, test=test_f, seed=cfg.seed)
    else:
        classes = train.classes()
        n_val, n_test = fraction_counts(len(classes), val_f, test_f, where=f"{where} classes")
        tr_c, va_c, te_c = (set(p) for p in partition(classes, val=n_val, test=n_test, seed=cfg.seed))
        tr, va, te = ([i for i, y in enumerate(train.labels) if y in part] for part in (tr_c, va_c, te_c))
    out = [
        train.subset(tr),
        parts["val"] if "val" in parts else train.subset(va),
        parts["test"] if "test" in parts else train.subset(te),
    ]
    _check_nonempty(out, where)
    return Splits(*out)


def _carve_captions(parts: dict[str, CaptionImages], cfg: TableConfig, *, where: str) -> Splits[CaptionImages]:
    val_f = 0.0 if "val" in parts else cfg.val_fraction
    test_f = 0.0 if "test" in parts else cfg.test_fraction
    carved = split_by_image(parts["train"], val=val_f, test=test_f, seed=cfg.seed, where=where)
    out = [carved.train, parts.get("val", carved.val), parts.get("test", carved.test)]
    _check_nonempty(out, where)
    return Splits(*out)


def _check_nonempty(parts: list[Any], where: str) -> None:
    for name, part in zip(("train", "val", "test"), parts, strict=True):
        if not len(part):
            raise DataError(f"{where}: the {name} split is empty; check the data and the split fractions")


def pairsim_splits(train: Any, val: Any, test: Any, cfg: TableConfig, *, where: str) -> Splits[Any] | None:
    """The splits when the tables are pairsim's own data (a ``Splits``, or ``LabelledItems`` / ``PairTable`` /
    ``CaptionImages``, missing parts carved), else None."""
    if isinstance(train, Splits):
        if val is not None or test is not None:
            raise DataError(f"{where}: train is a Splits (train, val and test); give no val or test beside it")
        return train
    kinds = (LabelledItems, PairTable, CaptionImages)
    if not isinstance(train, kinds):
        return None
    for name, part in (("val", val), ("test", test)):
        if part is not None and type(part) is not type(train):
            raise DataError(
                f"{where} {name}: expected a {type(train).__name__} like train, found {type(part).__name__}"
            )
    parts = {n: p for n, p in (("train", train), ("val", val), ("test", test)) if p is not None}
    if isinstance(train, LabelledItems):
        return _carve_items(parts, cfg, where=where)
    if isinstance(train, CaptionImages):
        return _carve_captions(parts, cfg, where=where)
    rows = {n: [PairRow(*(k for k in (_key(x) for x in (a, b))), a, b, y, None if p.scores is None else p.scores[i])
                for i, (a, b, y) in enumerate(zip(p.a, p.b, p.labels, strict=True))] for n, p in parts.items()}  # fmt: skip
    splits = make_splits(rows["train"], val=rows.get("val"), test=rows.get("test"), val_fraction=cfg.val_fraction,
                         test_fraction=cfg.test_fraction, seed=cfg.seed, drop_test_overlap=cfg.drop_test_overlap,
                         where=where, max_filtered=cfg.max_filtered)  # fmt: skip
    for _, part in splits.items():
        part.modality, part.modality_b = train.modality, train.modality_b
    return splits
