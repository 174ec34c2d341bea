"""Image augmentation for training items: small random affine distortions (Koch et al. 2015).

Part of an image tower's preprocessing (its config's ``augment``): applied by ``featurize(..., train=True,
rng=...)`` to the decoded image, training items only. The generator comes from the data pipeline, seeded by
``(seed, epoch, batch, rank, slot)``, so the result does not depend on the worker that loads it and a resumed
run sees the same images.

Example:
    >>> from PIL import Image
    >>> from pairsim.data.split import rng
    >>> out = Augmenter(AugmentConfig(enabled=True))(Image.new("L", (105, 105), 255), rng(0))
    >>> out.size
    (105, 105)
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from pairsim.config import bounded
from pairsim.errors import ConfigError


@dataclasses.dataclass(kw_only=True)
class AugmentConfig:
    """Random affine distortion of training images; defaults follow Koch et al. (2015)."""

    enabled: bool = False  # distort training images (val/test images are never distorted)
    probability: float = bounded(0.5, ge=0, le=1)  # chance that each component (rotate, shift, scale, shear) is applied
    degrees: float = bounded(10.0, ge=0, le=180)  # max rotation, degrees (Koch: +-10)
    translate: float = bounded(0.02, ge=0, le=1)  # max shift as a share of width/height (Koch: +-2 px of 105)
    scale: list[float] = bounded(default_factory=lambda: [0.8, 1.2], gt=0, le=10)  # zoom range (Koch: 0.8-1.2)
    shear: float = bounded(16.7, ge=0, lt=90)  # max shear per axis, degrees (Koch: coefficient 0.3 = atan(0.3))
    hflip: bool = False  # also flip left-right with probability 0.5 (faces yes, characters no)
    fill: int | None = bounded(None, ge=0, le=255)  # uncovered pixels' value; None: the top-left pixel (background)

    def check(self) -> None:
        """Raise ConfigError for out-of-range values."""
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"augment.probability: expected a number in [0, 1], got {self.probability}")
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            raise ConfigError(f"augment.scale: expected [low, high] with 0 < low <= high, got {self.scale}")


class Augmenter:
    """Callable ``(image, generator) -> image`` applying the configured distortions.

    Args:
        config: The augmentation config.
    """

    def __init__(self, config: AugmentConfig) -> None:
        config.check()
        self.config = config

    def __call__(self, image: Image.Image, gen: np.random.Generator) -> Image.Image:
        import torchvision.transforms.functional as TF

        c = self.config
        on = gen.random(5) < c.probability  # which components apply
        angle = float(gen.uniform(-c.degrees, c.degrees)) if on[0] else 0.0
        w, h = image.size
        dx, dy = gen.uniform(-c.translate, c.translate, size=2) if on[1] else (0.0, 0.0)
        scale = float(gen.uniform(c.scale[0], c.scale[1])) if on[2] else 1.0
        shear = [float(s) for s in gen.uniform(-c.shear, c.shear, size=2)] if on[3] else [0.0, 0.0]
        flip = c.hflip and bool(gen.random() < 0.5)
        fill = c.fill if c.fill is not None else image.getpixel((0, 0))
        if isinstance(fill, tuple):
            fill = list(fill)
        out = TF.affine(
            image, angle=angle, translate=[round(dx * w), round(dy * h)], scale=scale, shear=shear, fill=fill
        )
        return TF.hflip(out) if flip else out
