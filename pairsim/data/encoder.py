"""Turning one raw item into a tower's features: decode, augment (training images only), featurize.

Texts are tokenised once up front (:func:`pairsim.data.tokenize.tokenize_texts`) and looked up; images are
decoded with :func:`pairsim.images.load_image` (a missing or unreadable file is a DataError naming it) and
distorted with a generator seeded by ``(seed, epoch, index, side)``, so the result does not depend on the
worker process that loads it.

Example:
    >>> class Lengths:
    ...     config = "len"
    ...     def featurize(self, texts): return [{"x": len(t)} for t in texts]
    >>> ItemEncoder(Lengths(), "text", texts=["abc"])("abc", (0, 0, 0))
    {'x': 3}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pairsim.data.augment import AugmentConfig, Augmenter
from pairsim.data.split import rng
from pairsim.data.tokenize import tokenize_texts
from pairsim.data.types import Modality
from pairsim.images import load_image

Features = dict[str, Any]


class ItemEncoder:
    """Turns one raw item into the tower's features: decode, augment (training images), featurize.

    Args:
        tower: The tower of this side (``featurize``/``collate``).
        modality: "image" or "text".
        texts: Texts this side will see, tokenised once up front (text modality).
        augment: Augmentation for training images, or None.
        seed: Augmentation seed.
        cache_dir: Arrow cache folder for tokenised texts.
    """

    def __init__(
        self,
        tower: Any,
        modality: Modality,
        *,
        texts: Sequence[str] = (),
        augment: AugmentConfig | None = None,
        seed: int = 0,
        cache_dir: str | None = None,
    ) -> None:
        self.tower, self.modality, self.seed = tower, modality, seed
        self.augmenter = Augmenter(augment) if augment is not None and augment.enabled else None
        self.tokens: dict[str, Features] = {}
        if modality == "text":
            self.tokens = tokenize_texts(tower, [str(t) for t in texts], cache_dir=cache_dir)

    def __call__(self, item: Any, stream: tuple[int, ...]) -> Features:
        """Features of ``item``; ``stream`` (epoch, index, side) seeds its augmentation."""
        if self.modality == "text":
            cached = self.tokens.get(item)
            return cached if cached is not None else self.tower.featurize([item])[0]
        image = load_image(item)  # DataError naming the file if missing or unreadable
        if self.augmenter is not None:
            image = self.augmenter(image, rng(self.seed, *stream))
        return self.tower.featurize([image])[0]
