"""FNC-1 (Fake News Challenge stage 1): news headlines vs article bodies, label 1 = related.

Files (``<data>/fnc1/``): ``train_stances.csv`` (``Headline,Body ID,Stance``, 49,972 pairs) with
``train_bodies.csv`` (``Body ID,articleBody``, 1,683 bodies), and the official labelled test set
``competition_test_stances.csv`` (25,413 pairs) with ``competition_test_bodies.csv`` (904 bodies); stances
and bodies join on ``Body ID``. Side a = the headline, side b = the article body (untied text towers fit:
headlines are short, bodies long).

Labels: stance ``unrelated`` = 0; ``discuss``, ``agree``, ``disagree`` = 1 (the headline is about the body's
story). The 4-way stance is kept per pair in :attr:`StanceTable.stances`, with the body's id in
``keys_b``.

Splits: test = the competition set; val = ``val_fraction`` of the training *bodies* with all their pairs
(bodies with identical text count as one), so no body is in two splits, as in the FNC-1 baseline's
hold-out split. Headlines recur across bodies by design (each is paired with ~30 bodies), so val headlines
also occur in train. With ``drop_test_overlap`` (default) training pairs whose headline or body text also
occurs in the competition set are dropped.

Example:
    >>> # splits = load_dataset({"name": "fnc1"}); splits.test.stances[:2]
    >>> # ['unrelated', 'unrelated']
"""

from __future__ import annotations

import csv
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from pairsim.config import MAX_COUNT, bounded
from pairsim.data.download import fetch
from pairsim.data.paths import missing_error
from pairsim.data.sources.base import DATASETS, NamedDatasetConfig, Source
from pairsim.data.split import check_filter, fraction_counts, partition
from pairsim.data.types import PairTable, Splits
from pairsim.errors import DataError

BASE_URL = "https://raw.githubusercontent.com/FakeNewsChallenge/fnc-1/master/"  # the official repository
TRAIN = ("train_stances.csv", "train_bodies.csv")
TEST = ("competition_test_stances.csv", "competition_test_bodies.csv")
HOW = f"set download: true to fetch them from {BASE_URL}"


def base_url() -> str:
    """Where ``download: true`` fetches the four files from (a function, so tests can serve local copies)."""
    return BASE_URL


STANCES = ("unrelated", "discuss", "agree", "disagree")  # 0 = unrelated, the other three = related (1)


@dataclasses.dataclass(frozen=True)
class StanceRow:
    """One headline-body pair of FNC-1."""

    headline: str
    body_id: str
    body: str
    stance: str  # one of STANCES

    @property
    def label(self) -> float:
        """1.0 when the headline is related to the body (discuss / agree / disagree), else 0.0."""
        return float(self.stance != "unrelated")


def read_csv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a comma-separated file with a header (quoted fields may span lines).

    Raises:
        DataError: The file is missing, is not UTF-8 CSV, or lacks one of ``columns`` (the message lists the
            columns found).
    """
    if not path.is_file():
        raise DataError(f"fnc1: file not found: {path}")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            found = reader.fieldnames or []
            missing = [c for c in columns if c not in found]
            if missing:
                raise DataError(f"{path}: missing column {missing[0]!r}; expected {list(columns)}, found {list(found)}")
            return list(reader)
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: expected a UTF-8 CSV file with columns {list(columns)}: {err}") from None


def read_bodies(path: Path) -> dict[str, str]:
    """``Body ID`` -> article text of a bodies file.

    Raises:
        DataError: A column is missing, or a Body ID is empty or given twice.
    """
    bodies: dict[str, str] = {}
    for line, row in enumerate(read_csv(path, ["Body ID", "articleBody"]), start=2):
        body_id = (row["Body ID"] or "").strip()
        if not body_id or body_id in bodies:
            problem = "an empty Body ID" if not body_id else f"Body ID {body_id} a second time"
            raise DataError(f"{path}: row {line}: {problem}; expected one row per body")
        bodies[body_id] = row["articleBody"] or ""
    return bodies


def read_stances(path: Path, bodies: dict[str, str], *, bodies_file: str, limit: int | None = None) -> list[StanceRow]:
    """The headline-body pairs of a stances file, joined with their bodies.

    Args:
        path: The stances file (``Headline,Body ID,Stance``).
        bodies: ``Body ID`` -> text, from :func:`read_bodies`.
        bodies_file: Name of the bodies file, for messages.
        limit: Read only the first this many pairs.

    Raises:
        DataError: A column is missing, a stance is not one of :data:`STANCES`, or a Body ID has no body.
    """
    rows: list[StanceRow] = []
    for line, row in enumerate(read_csv(path, ["Headline", "Body ID", "Stance"]), start=2):
        if limit is not None and len(rows) >= limit:
            break
        stance, body_id = (row["Stance"] or "").strip().lower(), (row["Body ID"] or "").strip()
        if stance not in STANCES:
            raise DataError(
                f"{path}: row {line}: unknown stance {row['Stance']!r}; expected one of {', '.join(STANCES)}"
            )
        if body_id not in bodies:
            raise DataError(f"{path}: row {line}: Body ID {body_id!r} has no body in {bodies_file}")
        rows.append(StanceRow(headline=row["Headline"] or "", body_id=body_id, body=bodies[body_id], stance=stance))
    return rows


def split_by_body(
    rows: Sequence[StanceRow], *, val_fraction: float, seed: int
) -> tuple[list[StanceRow], list[StanceRow]]:
    """Hold out ``val_fraction`` of the bodies (bodies with the same text as one) with all their pairs.

    Returns:
        ``(train, val)`` pairs in file order; no body text is in both.
    """
    texts = sorted({r.body for r in rows})
    n_val, _ = fraction_counts(len(texts), val_fraction, 0.0, where="fnc1")
    _, val_texts, _ = partition(texts, val=n_val, test=0, seed=seed)
    held = set(val_texts)
    return [r for r in rows if r.body not in held], [r for r in rows if r.body in held]


def drop_overlap(rows: Sequence[StanceRow], other: Sequence[StanceRow]) -> list[StanceRow]:
    """The rows whose headline and body text both never occur in ``other``."""
    headlines, bodies = {r.headline for r in other}, {r.body for r in other}
    return [r for r in rows if r.headline not in headlines and r.body not in bodies]


@dataclasses.dataclass
class StanceTable(PairTable):
    """A text :class:`PairTable` (a = headline, b = body, ``keys_b`` = each body's ``Body ID``, so an aligned
    batch never holds one body twice) carrying each pair's 4-way stance.

    Args:
        stances: The FNC-1 stance of each pair (one of :data:`STANCES`).
    """

    stances: list[str] = dataclasses.field(default_factory=list)

    def subset(self, indices: Sequence[int]) -> StanceTable:
        return dataclasses.replace(PairTable.subset(self, indices), stances=[self.stances[i] for i in indices])


def to_table(rows: Sequence[StanceRow]) -> StanceTable:
    """Glue: the pairs as a :class:`StanceTable` (labels 1 = related)."""
    return StanceTable(
        a=[r.headline for r in rows],
        b=[r.body for r in rows],
        labels=[r.label for r in rows],
        modality="text",
        keys_b=[r.body_id for r in rows],
        stances=[r.stance for r in rows],
    )


@DATASETS.register("fnc1")
class Fnc1(Source["Fnc1.Config"]):
    """FNC-1 as headline-vs-body :class:`StanceTable` splits (label 1 = related, stance kept)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(NamedDatasetConfig):
        name: str = "fnc1"
        val_fraction: float = bounded(
            0.1, ge=0, lt=1
        )  # share of the training bodies held out, with all their pairs, for val
        drop_test_overlap: bool = True  # drop training pairs whose headline or body text occurs in the test set
        train_filters: ClassVar[tuple[str, ...]] = ("drop_test_overlap",)  # only the training split
        limit: int | None = bounded(
            None, ge=1, le=MAX_COUNT
        )  # read only the first this many pairs of each stances file (quick runs)

    folder = "fnc1"
    citation = (
        "Pomerleau & Rao (2017), Fake News Challenge stage 1 (FNC-1), fakenewschallenge.org; data from "
        "Ferreira & Vlachos (2016), Emergent: a novel data-set for stance classification, NAACL"
    )

    def check(self, root: Path) -> None:
        missing = [name for name in (*TRAIN, *TEST) if not (root / name).is_file()]
        if missing:  # name only the files that are not there
            raise missing_error(self.name, root, missing, HOW)

    def download(self, root: Path) -> None:
        for name in (*TRAIN, *TEST):
            fetch(base_url() + name, root / name)

    def read(self, root: Path, files: tuple[str, str]) -> list[StanceRow]:
        """The pairs of one stances file joined with its bodies file."""
        bodies = read_bodies(root / files[1])
        return read_stances(root / files[0], bodies, bodies_file=files[1], limit=self.config.limit)

    def load(self) -> Splits[StanceTable]:
        cfg = self.config
        root = self.prepare()
        train, test = self.read(root, TRAIN), self.read(root, TEST)
        if cfg.drop_test_overlap:
            before, train = len(train), drop_overlap(train, test)
            check_filter(where="fnc1", setting="drop_test_overlap", split="train", before=before, after=len(train),
                         max_share=cfg.max_filtered)  # fmt: skip
        train, val = split_by_body(train, val_fraction=cfg.val_fraction, seed=cfg.seed)
        for name, part in (("train", train), ("val", val), ("test", test)):
            if not part:
                raise DataError(f"fnc1: the {name} split is empty; check the files, limit and val_fraction")
        return Splits(train=to_table(train), val=to_table(val), test=to_table(test))
