"""Microsoft Research Paraphrase Corpus (Dolan & Brockett 2005): 5,801 news sentence pairs, 1 = paraphrase.

Files (``<data>/mrpc/``): ``msr_paraphrase_train.txt`` (4,076 pairs) and ``msr_paraphrase_test.txt`` (1,725),
tab-separated ``Quality, #1 ID, #2 ID, #1 String, #2 String``, UTF-8 with BOM; a header line is skipped if
present. Test = the official test file; val is carved from train by connected groups of
sentences.

Example:
    >>> # splits = load_dataset({"name": "mrpc"}); splits.test.labels[:3]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from pairsim.config import bounded
from pairsim.data.download import fetch
from pairsim.data.paths import require_files
from pairsim.data.sources.base import DATASETS, NamedDatasetConfig, Source
from pairsim.data.sources.text_pairs import PairRow, make_splits, parse_label, read_tsv
from pairsim.data.types import PairTable, Splits

BASE_URL = "https://dl.fbaipublicfiles.com/senteval/senteval_data/"  # the copy GLUE's downloader uses
FILES = ["msr_paraphrase_train.txt", "msr_paraphrase_test.txt"]
HOW = f"set download: true to fetch them from {BASE_URL} (or unpack Microsoft's MSRParaphraseCorpus.msi)"


def read_mrpc(path: Path, limit: int | None = None) -> list[PairRow]:
    """Pairs of one MRPC file; the sentence texts are the keys (a few sentences recur under another id)."""
    rows = read_tsv(path, fields=5, where="mrpc", limit=limit)
    if rows and not rows[0][0].strip().isdigit():  # "Quality\t#1 ID\t..." header
        rows = rows[1:]
    return [
        PairRow(key_a=r[3], key_b=r[4], a=r[3], b=r[4], label=parse_label(r[0], path, n))
        for n, r in enumerate(rows, start=1)
    ]


@DATASETS.register("mrpc")
class Mrpc(Source["Mrpc.Config"]):
    """MRPC as text :class:`PairTable` splits (label 1 = paraphrase)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(NamedDatasetConfig):
        name: str = "mrpc"
        # share of training pairs held out for val (whole groups of linked sentences)
        val_fraction: float = bounded(0.1, ge=0, lt=1)
        drop_test_overlap: bool = True  # drop training pairs with a sentence that also occurs in the test file
        train_filters: ClassVar[tuple[str, ...]] = ("drop_test_overlap",)  # only the training split
        limit: int | None = bounded(None, ge=1)  # read only the first this many pairs of each file (quick runs)

    folder = "mrpc"
    citation = "Dolan & Brockett (2005), Automatically constructing a corpus of sentential paraphrases, IWP"

    def check(self, root: Path) -> None:
        require_files(self.name, root, FILES, HOW)

    def download(self, root: Path) -> None:
        for name in FILES:
            fetch(BASE_URL + name, root / name)

    def load(self) -> Splits[PairTable]:
        cfg = self.config
        root = self.prepare()
        return make_splits(
            read_mrpc(root / FILES[0], cfg.limit),
            val=None,
            test=read_mrpc(root / FILES[1], cfg.limit),
            val_fraction=cfg.val_fraction,
            test_fraction=0.0,
            seed=cfg.seed,
            drop_test_overlap=cfg.drop_test_overlap,
            where="mrpc",
            max_filtered=cfg.max_filtered,
        )
