"""Omniglot (Lake et al. 2015): 1,623 handwritten characters from 50 alphabets, 20 drawers each.

Files (``<data>/omniglot/``): ``images_background.npz`` and ``images_evaluation.npz`` (key ``images``:
``(characters, 20, 105, 105)`` bool, True = white background; key ``labels``: ``(characters, 20)``
character ids), ``alphabet_ranges.tsv`` (which character ids belong to which alphabet) and ``all_runs.zip``
(the 20 official one-shot runs). ``download: true`` fetches the official zips from
github.com/brendenlake/omniglot and converts them to this layout.

Splits (see data_cards/omniglot.md): train = the background alphabets minus ``val_fraction`` of each
alphabet's characters, which form val (unseen characters of seen alphabets); test = the 20 evaluation
alphabets (unseen alphabets), as in Lake et al. and Koch et al. Characters never cross splits.

Example:
    >>> # splits = load_dataset({"name": "omniglot", "background_alphabets": ["Latin", "Greek"]})
"""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pairsim.config import bounded
from pairsim.data.download import extract, fetch
from pairsim.data.episodes import Episode, FixedEpisodes
from pairsim.data.paths import require_files
from pairsim.data.sources.base import DATASETS, ExtraEvaluation, NamedDatasetConfig, Source
from pairsim.data.split import rng
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError

BASE_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"
URLS = {
    "images_background.zip": BASE_URL + "images_background.zip",
    "images_evaluation.zip": BASE_URL + "images_evaluation.zip",
    "all_runs.zip": BASE_URL + "one-shot-classification/all_runs.zip",
}
FILES = ["images_background.npz", "images_evaluation.npz", "alphabet_ranges.tsv"]
HOW = f"set download: true to fetch the official zips from {BASE_URL} (converted to .npz)"
RANGE_COLUMNS = ["split", "first_char_id", "last_char_id", "npz_label_first", "npz_label_last", "alphabet"]


@dataclasses.dataclass(frozen=True)
class AlphabetRange:
    """Rows ``first..last`` (inclusive) of one npz file hold the characters of ``alphabet``."""

    split: str  # "background" or "evaluation"
    alphabet: str
    first: int  # first row (npz label) of the alphabet
    last: int  # last row, inclusive


def read_ranges(path: Path) -> list[AlphabetRange]:
    """Read ``alphabet_ranges.tsv``.

    Raises:
        DataError: The file lacks a needed column; the message lists the columns found.
    """
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        found = reader.fieldnames or []
        missing = [c for c in ("split", "npz_label_first", "npz_label_last", "alphabet") if c not in found]
        if missing:
            raise DataError(f"{path}: missing column {missing[0]!r}; found columns {found}")
        return [
            AlphabetRange(r["split"], r["alphabet"], int(r["npz_label_first"]), int(r["npz_label_last"]))
            for r in reader
        ]


def read_rows(npz_path: Path, key: str, ranges: Sequence[tuple[int, int]]) -> np.ndarray:
    """Read only rows ``[start, stop)`` of each range from one array in an .npz, streaming the zip member.

    Avoids decompressing the whole ~200 MB image array when only a few alphabets are needed.

    Args:
        npz_path: The .npz file.
        key: Array name (e.g. "images").
        ranges: Sorted, non-overlapping ``(start, stop)`` row ranges.

    Returns:
        The selected rows, concatenated along axis 0.
    """
    try:
        with zipfile.ZipFile(npz_path) as zf, zf.open(f"{key}.npy") as f:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(f)
            if fortran:
                raise DataError(f"{npz_path}: array {key!r} is Fortran-ordered; expected C order")
            row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
            parts, pos = [], 0
            for start, stop in ranges:
                if start < pos or stop > shape[0]:
                    raise DataError(f"{npz_path}: row range {start}:{stop} outside 0:{shape[0]} or unsorted")
                f.seek((start - pos) * row_bytes, io.SEEK_CUR)
                buf = f.read((stop - start) * row_bytes)
                parts.append(np.frombuffer(buf, dtype=dtype).reshape((stop - start, *shape[1:])))
                pos = stop
    except (KeyError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise DataError(f"cannot read array {key!r} from {npz_path}: {err}") from None
    if not parts:
        return np.zeros((0, *shape[1:]), dtype=dtype)
    return np.concatenate(parts)


@DATASETS.register("omniglot")
class Omniglot(Source["Omniglot.Config"]):
    """Omniglot characters as :class:`LabelledItems` (bool 105x105 arrays; label = character id,
    unique over all 1,623 characters; group = alphabet)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(NamedDatasetConfig):
        name: str = "omniglot"
        # share of each background alphabet's characters held out for val
        val_fraction: float = bounded(0.15, ge=0, lt=1)
        background_alphabets: list[str] | None = None  # only these background alphabets (None: all 30)
        evaluation_alphabets: list[str] | None = None  # only these evaluation alphabets (None: all 20)
        drawers: int = bounded(20, ge=1, le=20)  # use the first this many of the 20 drawers of each character

    folder = "omniglot"
    citation = (
        "Lake, Salakhutdinov & Tenenbaum (2015), Human-level concept learning through probabilistic program "
        "induction, Science 350(6266)"
    )

    def check(self, root: Path) -> None:
        require_files(self.name, root, FILES, HOW)

    def download(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        archives = {name: fetch(url, root / name) for name, url in URLS.items()}
        rows: list[list[str]] = []
        offset = 0
        for split in ("background", "evaluation"):
            unpacked = extract(archives[f"images_{split}.zip"], root / "_unpacked")
            ranges = convert_folders(unpacked / f"images_{split}", root / f"images_{split}.npz")
            for r in ranges:
                rows.append(
                    [split, str(offset + r.first + 1), str(offset + r.last + 1), str(r.first), str(r.last), r.alphabet]
                )
            offset += ranges[-1].last + 1
        with (root / "alphabet_ranges.tsv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(RANGE_COLUMNS)
            writer.writerows(rows)

    def load(self) -> Splits[LabelledItems]:
        root = self.prepare()
        cfg = self.config
        ranges = read_ranges(root / "alphabet_ranges.tsv")
        n_background = max(r.last for r in ranges if r.split == "background") + 1
        background = self._read("background", root, ranges, cfg.background_alphabets, 0)
        test = self._read("evaluation", root, ranges, cfg.evaluation_alphabets, n_background)
        val_classes = self._val_characters(background)
        train_ix = [i for i, y in enumerate(background.labels) if y not in val_classes]
        val_ix = [i for i, y in enumerate(background.labels) if y in val_classes]
        return Splits(train=background.subset(train_ix), val=background.subset(val_ix), test=test)

    def _read(
        self, split: str, root: Path, ranges: list[AlphabetRange], names: list[str] | None, offset: int
    ) -> LabelledItems:
        chosen = [r for r in ranges if r.split == split]
        if names is not None:
            known = {r.alphabet for r in chosen}
            unknown = [n for n in names if n not in known]
            if unknown:
                raise DataError(f"omniglot: unknown {split} alphabet {unknown[0]!r}; valid: {', '.join(sorted(known))}")
            chosen = [r for r in chosen if r.alphabet in names]
        chosen.sort(key=lambda r: r.first)
        spans = [(r.first, r.last + 1) for r in chosen]
        images = read_rows(root / f"images_{split}.npz", "images", spans)  # (chars, 20, 105, 105) bool
        drawers = max(1, min(self.config.drawers, images.shape[1]))
        items: list[Any] = []
        labels: list[int] = []
        groups: list[str] = []
        row = 0
        for r in chosen:
            for char in range(r.first, r.last + 1):
                for d in range(drawers):
                    items.append(images[row, d])  # (105, 105) bool, True = background
                    labels.append(offset + char)
                    groups.append(r.alphabet)
                row += 1
        if not items:
            raise DataError(f"omniglot: the {split} split is empty; check the alphabets selected")
        return LabelledItems(items=items, labels=labels, groups=groups, modality="image")

    def _val_characters(self, background: LabelledItems) -> set[int]:
        """Characters held out for val: ``val_fraction`` of each alphabet's characters, chosen by seed."""
        frac = self.config.val_fraction
        if not 0.0 <= frac < 1.0:
            raise DataError(f"omniglot: val_fraction must lie in [0, 1), got {frac}")
        per_alphabet: dict[str, list[int]] = {}
        assert background.groups is not None
        for y, g in zip(background.labels, background.groups, strict=True):
            chars = per_alphabet.setdefault(g, [])
            if not chars or chars[-1] != y:
                chars.append(y)
        held: set[int] = set()
        for g, chars in sorted(per_alphabet.items()):
            n = max(1, round(len(chars) * frac)) if frac > 0 else 0
            if n >= len(chars):
                raise DataError(f"omniglot: alphabet {g!r} has {len(chars)} characters; cannot hold out {n} for val")
            order = rng(self.config.seed, zlib.crc32(g.encode())).permutation(len(chars))  # stable per alphabet
            held.update(chars[i] for i in order[:n])
        return held

    def one_shot_runs(self) -> list[Episode]:
        """The 20 official 20-way one-shot runs of Lake et al. (see :func:`one_shot_runs`)."""
        root = self.prepare()
        return one_shot_runs(root / "all_runs.zip")

    def extra_evaluations(self, split: str) -> list[ExtraEvaluation]:
        """On the test split, when the official runs are on disk: the 20 runs, scored as ``official_*``."""
        if split != "test" or not (self.root() / "all_runs.zip").is_file():
            return []
        return [ExtraEvaluation("official", FixedEpisodes(self.one_shot_runs()), "episodes")]


def one_shot_runs(zip_path: Path) -> list[Episode]:
    """Read the 20 official within-alphabet 20-way one-shot runs from ``all_runs.zip``.

    Each run ``runNN`` has ``training/class01..20.png`` (the support, one drawing per class), ``test/item01..20.png``
    (the queries) and ``class_labels.txt`` mapping each test item to its training class.

    Args:
        zip_path: Path to ``all_runs.zip``.

    Returns:
        20 episodes; support items and queries are ``(105, 105)`` bool arrays (True = background), support
        in class order, so ``targets[q]`` is the index of the query's one correct support item.

    Raises:
        DataError: The zip is missing or a run is malformed; the message names the file.
    """
    if not zip_path.is_file():
        raise DataError(f"omniglot one-shot runs not found: {zip_path}; {HOW}")
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"cannot read {zip_path}: {err}") from None
    episodes = []
    with zf:
        names = set(zf.namelist())
        runs = sorted({n.split("/")[0] for n in names if n.startswith("run") and "/" in n})
        for run in runs:
            label_file = f"{run}/class_labels.txt"
            if label_file not in names:
                raise DataError(f"{zip_path}: {label_file} is missing")
            pairs = [line.split() for line in zf.read(label_file).decode().splitlines() if line.strip()]
            if any(len(p) != 2 for p in pairs):
                raise DataError(f"{zip_path}: {label_file} must hold 'test_item training_item' per line")
            training = sorted(n for n in names if n.startswith(f"{run}/training/") and n.endswith(".png"))
            index = {n: i for i, n in enumerate(training)}
            missing = [t for _, t in pairs if t not in index]
            if missing:
                raise DataError(f"{zip_path}: {label_file} names {missing[0]}, which is not in the zip")
            episodes.append(
                Episode(
                    support=[_png(zf, n, zip_path) for n in training],
                    support_labels=list(range(len(training))),
                    query=[_png(zf, q, zip_path) for q, _ in pairs],
                    targets=[index[t] for _, t in pairs],
                    group=run,
                )
            )
    if not episodes:
        raise DataError(f"{zip_path}: no run folders (run01..run20) found")
    return episodes


def _png(zf: zipfile.ZipFile, name: str, where: Path) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(zf.read(name))) as img:
            return np.asarray(img.convert("1"), dtype=bool)  # (105, 105), True = background
    except (KeyError, OSError) as err:
        raise DataError(f"cannot read image {name} in {where}: {err}") from None


def convert_folders(folder: Path, out_npz: Path) -> list[AlphabetRange]:
    """Convert the official layout ``<folder>/<alphabet>/characterNN/*.png`` to pairsim's .npz layout.

    Alphabets and characters are taken in sorted order; each character's drawings in file-name order.

    Args:
        folder: ``images_background`` or ``images_evaluation`` as unpacked from the official zip.
        out_npz: The .npz to write (keys ``images`` and ``labels``).

    Returns:
        The alphabet ranges (rows in the npz) in order.
    """
    alphabets = sorted(p for p in folder.iterdir() if p.is_dir())
    if not alphabets:
        raise DataError(f"{folder}: no alphabet folders found")
    images, ranges, row = [], [], 0
    for alphabet in alphabets:
        chars = sorted(p for p in alphabet.iterdir() if p.is_dir())
        for char in chars:
            files = sorted(char.glob("*.png"))
            drawings = []
            for f in files:
                with Image.open(f) as img:
                    drawings.append(np.asarray(img.convert("1"), dtype=bool))
            images.append(np.stack(drawings))  # (drawers, H, W)
        ranges.append(
            AlphabetRange(
                folder.name.replace("images_", ""), alphabet.name.replace("_", " "), row, row + len(chars) - 1
            )
        )
        row += len(chars)
    counts = {a.shape for a in images}
    if len(counts) != 1:
        raise DataError(f"{folder}: characters differ in drawer count or image size: {sorted(counts)}")
    stacked = np.stack(images)  # (chars, drawers, H, W)
    labels = np.repeat(np.arange(len(images))[:, None], stacked.shape[1], axis=1)  # (chars, drawers)
    np.savez_compressed(out_npz, images=stacked, labels=labels)
    return ranges
