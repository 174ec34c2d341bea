"""AT&T "Database of Faces" (formerly ORL): 40 subjects ``s1..s40``, 10 grayscale 92x112 PGM images each.

Splits hold out whole subjects (face verification on people never seen in training). By default
``test_count`` and ``val_count`` subjects are drawn with the seed; ``test_subjects: [s5, s6, s7]`` reproduces
the seed tutorial's held-out faces.

Example:
    >>> # load_dataset({"name": "att_faces", "test_subjects": ["s5", "s6", "s7"]})
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pairsim.config import MAX_COUNT, bounded
from pairsim.data.download import extract, fetch
from pairsim.data.paths import missing_error
from pairsim.data.sources.base import DATASETS, NamedDatasetConfig, Source
from pairsim.data.sources.image_folder import items_of, natural_key, scan_class_folders
from pairsim.data.split import partition
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError

URL = "https://www.cl.cam.ac.uk/Research/DTG/attarchive/pub/data/att_faces.zip"
HOW = f"set download: true to fetch {URL} (or get att_faces.zip from a mirror and unpack it there)"


@DATASETS.register("att_faces")
class AttFaces(Source["AttFaces.Config"]):
    """Faces as :class:`LabelledItems` of PGM paths; label = subject number - 1, group = subject ("s5")."""

    @dataclasses.dataclass(kw_only=True)
    class Config(NamedDatasetConfig):
        name: str = "att_faces"
        test_subjects: list[str] | None = None  # held-out test subjects, e.g. [s5, s6, s7]; None: draw test_count
        test_count: int = bounded(4, ge=0, le=MAX_COUNT)  # subjects drawn for test when test_subjects is None
        val_subjects: list[str] | None = None  # held-out val subjects; None: draw val_count from the rest
        val_count: int = bounded(4, ge=0, le=MAX_COUNT)  # subjects drawn for val when val_subjects is None
        subjects: list[str] | None = None  # use only these subjects (None: all found)

    folder = "att_faces"
    citation = "Samaria & Harter (1994), Parameterisation of a stochastic model for human face identification"

    def check(self, root: Path) -> None:
        if not (root / "s1").is_dir():
            raise missing_error(self.name, root, ["s1/ .. s40/ (10 .pgm each)"], HOW)

    def download(self, root: Path) -> None:
        archive = fetch(URL, root / "att_faces.zip")
        extract(archive, root)
        nested = root / "att_faces"
        if not (root / "s1").is_dir() and (nested / "s1").is_dir():
            for sub in nested.iterdir():
                sub.rename(root / sub.name)

    def load(self) -> Splits[LabelledItems]:
        cfg = self.config
        root = self.prepare()
        classes = scan_class_folders(root, [".pgm", ".png", ".jpg"])
        label_of = {n: _subject_number(n, root) - 1 for n in classes}
        names = list(classes) if cfg.subjects is None else self._known(cfg.subjects, classes, "subjects")
        test = self._known(cfg.test_subjects, classes, "test_subjects") if cfg.test_subjects is not None else None
        val = self._known(cfg.val_subjects, classes, "val_subjects") if cfg.val_subjects is not None else None
        rest = [n for n in names if test is None or n not in test]
        if test is None:
            rest, _, test = partition(names, val=0, test=cfg.test_count, seed=cfg.seed)
        rest = [n for n in rest if val is None or n not in val]
        if val is None:
            rest, val, _ = partition(rest, val=cfg.val_count, test=0, seed=cfg.seed + 1)
        overlap = set(val) & set(test)
        if overlap:
            raise DataError(f"att_faces: subject {sorted(overlap)[0]} is in both val_subjects and test_subjects")
        key = lambda n: natural_key(n)  # noqa: E731
        return Splits(*(items_of(classes, sorted(s, key=key), label_of) for s in (rest, val, test)))

    @staticmethod
    def _known(names: list[str], classes: dict[str, list[Path]], field: str) -> list[str]:
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise DataError(f"att_faces.{field}: unknown subject {unknown[0]!r}; expected names like s1..s40")
        return list(names)


def _subject_number(name: str, root: Path) -> int:
    if not (name.startswith("s") and name[1:].isdigit()):
        raise DataError(f"{root / name}: unexpected folder; expected subject folders named s1..s40")
    return int(name[1:])
