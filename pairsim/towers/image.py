"""Shared parts of image towers: preprocessing (load, convert to the tower's channels, resize, normalise) and the
pixels -> features path, wrapped in :class:`~pairsim.towers.mirror.MirrorAverage` under ``mirror_average``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from pairsim.config import MAX_IMAGE_SIDE, bounded
from pairsim.images import crop_to_content, load_image
from pairsim.towers.augment import AugmentConfig, Augmenter
from pairsim.towers.base import Batch, Features, Tower, TowerConfig
from pairsim.towers.mirror import Encode, mirror_averaged
from pairsim.towers.pixels import PixelTransform


@dataclasses.dataclass(kw_only=True)
class ImageTowerConfig(TowerConfig):
    """Fields every image tower has; the defaults suit ImageNet backbones."""

    channels: int = bounded(3, ge=1, le=3)  # 1: grayscale input, 3: RGB
    # (height, width) fed to the net
    image_size: list[int] = bounded(default_factory=lambda: [224, 224], ge=1, le=MAX_IMAGE_SIDE)
    mean: list[float] = bounded(default_factory=lambda: [0.485, 0.456, 0.406])  # per channel
    std: list[float] = bounded(default_factory=lambda: [0.229, 0.224, 0.225], gt=0)  # per channel
    # crop every image to the square around its non-background pixels plus this share of its side on each side
    # before resizing (drawn characters, signatures: strokes at full resolution wherever they sit); None: no crop
    crop_to_content: float | None = bounded(None, ge=0, le=1)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)  # training images only
    # encode each image and its left-right mirror and average the two feature vectors (the trunk's, before the
    # projection; the MLP's output), in training and at test time alike: embeddings that do not change when an
    # image is mirrored (the "flip test" of face verification; photos, whose captions rarely depend on the side),
    # at twice the encoding cost; not for inputs whose mirror is another thing (characters, text in images)
    mirror_average: bool = False

    def check(self) -> None:
        from pairsim.errors import ConfigError

        if self.channels not in (1, 3):
            raise ConfigError(f"channels: expected 1 or 3, got {self.channels}")
        if len(self.image_size) != 2:
            raise ConfigError(f"image_size: expected [height, width], got {self.image_size}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ConfigError(f"mean and std need {self.channels} values each (one per channel)")
        self.augment.check()
        if self.mirror_average and self.augment.enabled and self.augment.hflip:
            raise ConfigError("augment.hflip: a mirror_average tower encodes every image with its mirror already")


class ImageTower(Tower):
    """Base of image towers: accepts paths, PIL images, arrays or tensors and yields ``(B, C, H, W)``.

    ``forward = forward_rest(forward_trunk(batch))``, where ``forward_trunk`` runs :attr:`encode_pixels`:
    :meth:`pixel_features` (the subclass's :meth:`trunk_features`), or its mirror average, chosen at build.
    """

    modality = "image"
    # feed the trunk channels-last pixels at inference (no autograd): the same values, and oneDNN's convolutions
    # then skip converting every layer's input and output (EfficientNet-Lite0 encodes 1.27x faster on 2 AVX2
    # cores, benchmarks/RESULTS.md); declared by convolutional towers
    channels_last: ClassVar[bool] = False

    def __init__(self, config: ImageTowerConfig) -> None:
        super().__init__(config)
        self._transform = PixelTransform(size=config.image_size, mean=config.mean, std=config.std)

        self._augment = Augmenter(config.augment) if config.augment.enabled else None
        # pixels -> features: pixel_features, or MirrorAverage(pixel_features) under mirror_average (an image and its
        # mirror in one pass, averaged); chosen once here, a parameter-free sub-component
        self.encode_pixels: Encode = mirror_averaged(self.pixel_features, config.mirror_average)

    @property
    def augments(self) -> bool:  # type: ignore[override]
        return self._augment is not None

    def featurize(
        self, items: Sequence[Any], *, train: bool = False, rng: Sequence[np.random.Generator] | None = None
    ) -> list[Features]:
        mode = "L" if self.config.channels == 1 else "RGB"
        images = [load_image(item, mode=mode) for item in items]  # DataError naming an unreadable file
        if self.config.crop_to_content is not None:
            images = [crop_to_content(image, self.config.crop_to_content) for image in images]
        if train and rng is not None and self._augment is not None:
            images = [self._augment(image, gen) for image, gen in zip(images, rng, strict=True)]
        return [{"pixel_values": self._transform(image)} for image in images]  # (C, H, W)

    def collate(self, features: Sequence[Features]) -> Batch:
        return {"pixel_values": torch.stack([f["pixel_values"] for f in features])}  # (B, C, H, W)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.forward_rest(self.forward_trunk(batch))  # (B, out_dim)

    def forward_trunk(self, batch: Batch) -> torch.Tensor:
        """The trunk's features of the images (averaged with their mirrors' under ``mirror_average``)."""
        pixels = batch["pixel_values"]  # (B, C, H, W)
        if self.channels_last and pixels.dim() == 4 and not torch.is_grad_enabled():
            pixels = pixels.contiguous(memory_format=torch.channels_last)  # (B, C, H, W), stored as (B, H, W, C)
        return self.encode_pixels(pixels)  # (B, C, H, W) -> (B, F)

    def pixel_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """The part of the tower that ``mirror_average`` wraps (:attr:`encode_pixels`): the trunk's features here,
        a tower without a trunk (the MLP) overrides it. ``(B, C, H, W)`` -> ``(B, F)``."""
        return self.trunk_features(pixels)  # (B, F)

    def trunk_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` normalised pixels -> the trunk's features ``(B, F)`` (towers that name a :attr:`trunk`)."""
        raise NotImplementedError(f"the {self.config.name} tower has no trunk")
