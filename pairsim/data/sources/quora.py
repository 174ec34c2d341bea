"""Quora Question Pairs (Iyer, Dandekar & Csernai 2017): ~404k question pairs, 1 = duplicate.

Two layouts are read from ``<data>/quora/``:

* public: ``quora_duplicate_questions.tsv`` with header ``id qid1 qid2 question1 question2 is_duplicate``
  (quoted fields may span lines). No official split: train/val/test are carved by connected groups of
  questions (by question text, since some questions recur under several qids), so no question appears in
  two splits.
* GLUE ``qqp``: ``train.tsv`` and ``dev.tsv`` with the same columns, unquoted (``test.tsv`` has no labels
  and is not used). Test = ``dev.tsv``; val is carved from ``train.tsv`` by question groups.

Rows with an empty question are skipped (the public file has a few).

Example:
    >>> # splits = load_dataset({"name": "quora", "path": "tests/fixtures/quora"})
"""

from __future__ import annotations

import csv
import dataclasses
import sys
from pathlib import Path
from typing import ClassVar, Literal

from pairsim.config import bounded
from pairsim.data.download import extract, fetch
from pairsim.data.paths import missing_error
from pairsim.data.sources.base import DATASETS, NamedDatasetConfig, Source
from pairsim.data.sources.text_pairs import PairRow, make_splits, parse_label
from pairsim.data.types import PairTable, Splits
from pairsim.errors import DataError

PUBLIC_FILE = "quora_duplicate_questions.tsv"
PUBLIC_URL = "http://qim.fs.quoracdn.net/quora_duplicate_questions.tsv"
GLUE_URL = "https://dl.fbaipublicfiles.com/glue/data/QQP-clean.zip"
COLUMNS = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
HOW = f"set download: true to fetch {PUBLIC_URL} (layout: glue fetches {GLUE_URL})"


def read_quora(path: Path, *, quoted: bool, limit: int | None = None) -> list[PairRow]:
    """Labelled pairs of one Quora TSV (public file: ``quoted=True``; GLUE files: ``quoted=False``).

    Raises:
        DataError: A needed column is missing (the message lists the columns found) or a label is not 0/1.
    """
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    rows: list[PairRow] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        if quoted:
            reader = csv.DictReader(f, delimiter="\t")
        else:
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        found = reader.fieldnames or []
        missing = [c for c in COLUMNS[1:] if c not in found]
        if missing:
            raise DataError(f"{path}: missing column {missing[0]!r}; found columns {list(found)}")
        for number, r in enumerate(reader, start=1):
            if limit is not None and len(rows) >= limit:
                break
            q1, q2 = (r.get("question1") or "").strip(), (r.get("question2") or "").strip()
            if not q1 or not q2 or r.get("is_duplicate") is None:
                continue
            rows.append(
                PairRow(
                    key_a=r["qid1"], key_b=r["qid2"], a=q1, b=q2, label=parse_label(r["is_duplicate"], path, number)
                )
            )
    return rows


@DATASETS.register("quora")
class Quora(Source["Quora.Config"]):
    """Quora Question Pairs as text :class:`PairTable` splits (label 1 = duplicate)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(NamedDatasetConfig):
        name: str = "quora"
        layout: Literal["auto", "public", "glue"] = "auto"  # auto: the public file if present, else GLUE qqp
        val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of (train) pairs carved for val, by question groups
        test_fraction: float = bounded(0.1, ge=0, lt=1)  # share of pairs carved for test (public layout only)
        drop_test_overlap: bool = True  # GLUE layout: drop train pairs sharing a question with dev.tsv
        train_filters: ClassVar[tuple[str, ...]] = ("drop_test_overlap",)  # only the training split
        limit: int | None = bounded(None, ge=1)  # read only the first this many pairs of each file (quick runs)

    folder = "quora"
    citation = "Iyer, Dandekar & Csernai (2017), First Quora Dataset Release: Question Pairs"

    def _layout(self, root: Path) -> str:
        layout = self.config.layout
        if layout == "auto":
            layout = "public" if (root / PUBLIC_FILE).is_file() else "glue"
        files = [PUBLIC_FILE] if layout == "public" else ["train.tsv", "dev.tsv"]
        if not all((root / f).is_file() for f in files):
            if self.config.layout == "auto":
                files = [PUBLIC_FILE, "or GLUE qqp train.tsv + dev.tsv"]
            raise missing_error(self.name, root, files, HOW)
        return layout

    def check(self, root: Path) -> None:
        self._layout(root)

    def download(self, root: Path) -> None:
        if self.config.layout == "glue":
            unpacked = extract(fetch(GLUE_URL, root / "QQP-clean.zip"), root / "_unpacked")
            for f in (unpacked / "QQP").iterdir():
                f.replace(root / f.name)
        else:
            fetch(PUBLIC_URL, root / PUBLIC_FILE)

    def load(self) -> Splits[PairTable]:
        cfg = self.config
        root = self.prepare()
        if self._layout(root) == "public":
            train = read_quora(root / PUBLIC_FILE, quoted=True, limit=cfg.limit)
            test = None
        else:
            train = read_quora(root / "train.tsv", quoted=False, limit=cfg.limit)
            test = read_quora(root / "dev.tsv", quoted=False, limit=cfg.limit)
        return make_splits(
            train,
            val=None,
            test=test,
            val_fraction=cfg.val_fraction,
            test_fraction=cfg.test_fraction,
            seed=cfg.seed,
            drop_test_overlap=cfg.drop_test_overlap,
            where="quora",
            max_filtered=cfg.max_filtered,
        )
