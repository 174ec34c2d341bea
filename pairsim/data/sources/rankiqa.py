"""Image quality ranking data (RankIQA, Liu et al. 2017): Flickr8k photos at graded levels of synthetic distortion.

Every image (``<data>/flickr8k/images/*.jpg``, the files of the ``flickr8k`` dataset) is square-cropped to
``side`` pixels and distorted by Gaussian blur, Gaussian noise and JPEG compression at the levels of the config
(:mod:`pairsim.data.distortions`; made on demand, deterministic, never written to disk). The splits are
:class:`LabelledItems` whose items are :class:`~pairsim.data.distortions.DistortedImage` versions, **label =
distortion level** (0 = the original, a rank: lower ranks higher) and **group = ``<image>/<distortion>``**, so
the ``ranked_pairs`` sampler pairs versions of one image under one distortion and the ``ranking`` metric group
correlates scores with levels.

Images are split by id (train / val / test disjoint). ``heldout_distortion`` is left out of every split and
only used on the test images, through :meth:`RankIQA.extra_evaluations` (``heldout_distortion_*`` metrics).

Example:
    >>> # splits = load_dataset({"name": "rankiqa", "max_images": 50, "side": 64})
    >>> # splits.train.items[0].to_image().size == (64, 64); splits.train.groups[0] == "1000268201_693b08cb0e.jpg/blur"
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Literal

from pairsim.config import MAX_IMAGE_SIDE, bounded
from pairsim.data.distortions import KINDS, DistortedImage, Originals
from pairsim.data.paths import require_files
from pairsim.data.sources.base import DATASETS, ExtraEvaluation, NamedDatasetConfig, Source
from pairsim.data.sources.flickr8k import HOW, Flickr8k
from pairsim.data.split import fraction_counts, partition
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import ConfigError

SUFFIXES = (".jpg", ".jpeg", ".png")


@DATASETS.register("rankiqa")
class RankIQA(Source["RankIQA.Config"]):
    """Distorted versions of Flickr8k images as :class:`LabelledItems` (label = level, group = image/distortion)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(NamedDatasetConfig):
        name: str = "rankiqa"
        # images are resized (short side) and centre-cropped to side x side pixels before they are distorted
        side: int = bounded(128, ge=16, le=MAX_IMAGE_SIDE)
        distortions: list[Literal["blur", "noise", "jpeg"]] = dataclasses.field(default_factory=lambda: list(KINDS))
        heldout_distortion: Literal["blur", "noise", "jpeg"] | None = "jpeg"  # never trained on; test images only
        blur_sigmas: list[float] = bounded(default_factory=lambda: [0.5, 1.0, 1.5, 2.5, 4.0], gt=0, le=100)  # px
        # Gaussian noise std per level, as a fraction of the 0..255 range
        noise_stds: list[float] = bounded(default_factory=lambda: [0.02, 0.04, 0.07, 0.12, 0.2], gt=0, le=1)
        jpeg_qualities: list[int] = bounded(default_factory=lambda: [60, 35, 20, 10, 5], ge=1, le=100)  # per level
        include_original: bool = True  # level 0: the undistorted image in every group
        val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of images for val
        test_fraction: float = bounded(0.1, ge=0, lt=1)  # share of images for test
        max_images: int | None = bounded(None, ge=3)  # use only the first this many images by file name

        def check(self) -> None:
            strengths = {"blur_sigmas": self.blur_sigmas, "noise_stds": self.noise_stds}
            for field, values in {**strengths, "jpeg_qualities": [-q for q in self.jpeg_qualities]}.items():
                if not values or any(b <= a for a, b in itertools.pairwise(values)):
                    order = "decreasing" if field == "jpeg_qualities" else "increasing"
                    raise ConfigError(f"{field}: expected one or more strictly {order} values (one per level)")
            if len(set(self.distortions)) != len(self.distortions) or not self.distortions:
                raise ConfigError(f"distortions: expected distinct names among {', '.join(KINDS)}")
            trained = [k for k in self.distortions if k != self.heldout_distortion]
            if not trained:
                raise ConfigError("heldout_distortion: it is the only distortion; nothing would be left to train on")

    folder = "flickr8k"
    citation = (
        "Liu, van de Weijer & Bagdanov (2017), RankIQA: Learning from rankings for no-reference image quality "
        "assessment, ICCV; images: Hodosh, Young & Hockenmaier (2013), Flickr8k, JAIR 47"
    )

    def __init__(self, config: RankIQA.Config) -> None:
        super().__init__(config)
        self.originals = Originals(config.side)

    def check(self, root: Path) -> None:
        require_files(self.name, root, ["images/"], HOW)

    def download(self, root: Path) -> None:
        Flickr8k(Flickr8k.Config(path=str(root))).download(root)

    def params(self, kind: str) -> list[float]:
        """The strength of each level 1.. of distortion ``kind`` (see :mod:`pairsim.data.distortions`)."""
        cfg = self.config
        return [float(p) for p in {"blur": cfg.blur_sigmas, "noise": cfg.noise_stds, "jpeg": cfg.jpeg_qualities}[kind]]

    def image_splits(self) -> tuple[list[Path], list[Path], list[Path]]:
        """The image files of train, val and test (disjoint, each sorted by name), drawn with the seed."""
        cfg = self.config
        root = self.prepare()
        files = sorted(p for p in (root / "images").iterdir() if p.suffix.lower() in SUFFIXES)[: cfg.max_images]
        n_val, n_test = fraction_counts(len(files), cfg.val_fraction, cfg.test_fraction, where=cfg.name)
        train, val, test = partition([p.name for p in files], val=n_val, test=n_test, seed=cfg.seed)
        folder = root / "images"
        return [folder / n for n in train], [folder / n for n in val], [folder / n for n in test]

    def versions(self, files: list[Path], kinds: list[str]) -> LabelledItems:
        """Every version of ``files`` under ``kinds``: label = level, group = ``<file name>/<kind>``.

        Args:
            files: Image files.
            kinds: Distortion names.

        Returns:
            Items ordered by image, then kind, then level.
        """
        items: list[Any] = []
        labels: list[int] = []
        groups: list[str] = []
        first = 0 if self.config.include_original else 1
        for path in files:
            for kind in kinds:
                params = [0.0, *self.params(kind)]
                for level in range(first, len(params)):
                    items.append(DistortedImage(str(path), kind, level, params[level], self.originals))
                    labels.append(level)
                    groups.append(f"{path.name}/{kind}")
        return LabelledItems(items=items, labels=labels, groups=groups, modality="image")

    def trained_kinds(self) -> list[str]:
        """The distortions of the three splits (all but the held-out one)."""
        return [k for k in self.config.distortions if k != self.config.heldout_distortion]

    def load(self) -> Splits[LabelledItems]:
        kinds = self.trained_kinds()
        return Splits(*(self.versions(files, kinds) for files in self.image_splits()))

    def heldout(self, split: str = "test") -> LabelledItems | None:
        """The held-out distortion's versions of one split's images (None when no distortion is held out).

        Args:
            split: "train", "val" or "test".
        """
        kind = self.config.heldout_distortion
        if kind is None:
            return None
        files = dict(zip(("train", "val", "test"), self.image_splits(), strict=True))[split]
        return self.versions(files, [kind])

    def extra_evaluations(self, split: str) -> list[ExtraEvaluation]:
        """On the test split: the test images under the held-out distortion, ranked as ``heldout_distortion_*``
        (none when nothing is held out, or on other splits)."""
        data = self.heldout(split) if split == "test" else None
        return [] if data is None else [ExtraEvaluation("heldout_distortion", data, "ranking")]
