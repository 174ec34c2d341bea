"""STS Benchmark (Cer et al. 2017): 8,628 sentence pairs scored 0 (unrelated) to 5 (equivalent).

Files (``<data>/stsbenchmark/``): ``sts-train.csv``, ``sts-dev.csv``, ``sts-test.csv``; tab-separated, no
header: genre, file, year, id, score, sentence 1, sentence 2, and on some rows two extra source columns
(ignored). The official splits are used (dev = val). The 0-5 score is kept in ``PairTable.scores`` (for
Spearman correlation and regression losses); ``labels`` are ``score >= binarize_at``.

Example:
    >>> # splits = load_dataset({"name": "stsb", "binarize_at": 4.0}); splits.test.scores[:3]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from pairsim.config import bounded
from pairsim.data.download import extract, fetch
from pairsim.data.paths import require_files
from pairsim.data.sources.base import DATASETS, NamedDatasetConfig, Source
from pairsim.data.sources.text_pairs import PairRow, make_splits, read_tsv
from pairsim.data.types import PairTable, Splits
from pairsim.errors import DataError

URL = "http://ixa2.si.ehu.eus/stswiki/images/4/48/Stsbenchmark.tar.gz"
FILES = ["sts-train.csv", "sts-dev.csv", "sts-test.csv"]
HOW = f"set download: true to fetch {URL}"


def read_stsb(path: Path, binarize_at: float, limit: int | None = None) -> list[PairRow]:
    """Pairs of one STS-B file; the sentence texts are the keys."""
    out = []
    for n, r in enumerate(read_tsv(path, fields=7, where="stsb", limit=limit), start=1):
        try:
            score = float(r[4])
        except ValueError:
            raise DataError(f"{path}: row {n}: expected a 0-5 score in column 5, found {r[4]!r}") from None
        if not 0.0 <= score <= 5.0:
            raise DataError(f"{path}: row {n}: score {score} is outside 0-5")
        out.append(PairRow(key_a=r[5], key_b=r[6], a=r[5], b=r[6], label=float(score >= binarize_at), score=score))
    return out


@DATASETS.register("stsb")
class Stsb(Source["Stsb.Config"]):
    """STS-B as text :class:`PairTable` splits with ``scores`` 0-5 and labels ``score >= binarize_at``."""

    @dataclasses.dataclass(kw_only=True)
    class Config(NamedDatasetConfig):
        name: str = "stsb"
        # label = 1 (similar) when score >= this; ~24% of training pairs at 4.0
        binarize_at: float = bounded(4.0)  # 0-5, checked when loading (DataError)
        drop_test_overlap: bool = True  # drop train pairs with a sentence that also occurs in dev or test
        train_filters: ClassVar[tuple[str, ...]] = ("drop_test_overlap",)  # only the training split
        limit: int | None = bounded(None, ge=1)  # read only the first this many pairs of each file (quick runs)

    folder = "stsbenchmark"
    citation = "Cer et al. (2017), SemEval-2017 Task 1: Semantic Textual Similarity, SemEval"

    def check(self, root: Path) -> None:
        require_files(self.name, root, FILES, HOW)

    def download(self, root: Path) -> None:
        archive = fetch(URL, root / "Stsbenchmark.tar.gz")
        unpacked = extract(archive, root / "_unpacked")  # the archive holds a stsbenchmark/ folder
        for f in (unpacked / "stsbenchmark").iterdir():
            f.replace(root / f.name)

    def load(self) -> Splits[PairTable]:
        cfg = self.config
        if not 0.0 <= cfg.binarize_at <= 5.0:
            raise DataError(f"stsb.binarize_at: expected a score in 0-5, got {cfg.binarize_at}")
        root = self.prepare()
        train, dev, test = (read_stsb(root / f, cfg.binarize_at, cfg.limit) for f in FILES)
        return make_splits(
            train,
            val=dev,
            test=test,
            val_fraction=0.0,
            test_fraction=0.0,
            seed=cfg.seed,
            drop_test_overlap=cfg.drop_test_overlap,
            where="stsb",
            max_filtered=cfg.max_filtered,
        )
