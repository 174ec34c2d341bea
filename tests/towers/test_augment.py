"""Tests of pairsim.towers.augment: Koch-style affine distortions, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pairsim.data.split import rng
from pairsim.errors import ConfigError
from pairsim.images import load_image
from pairsim.towers.augment import AugmentConfig, Augmenter


def glyph() -> Image.Image:
    array = np.ones((105, 105), dtype=bool)  # Omniglot-like: white background, black stroke
    array[30:75, 50:55] = False
    return load_image(array)


def test_same_stream_same_distortion() -> None:
    aug = Augmenter(AugmentConfig(enabled=True, probability=1.0))
    one = np.asarray(aug(glyph(), rng(0, 1, 2)))
    assert np.array_equal(one, np.asarray(aug(glyph(), rng(0, 1, 2))))
    assert not np.array_equal(one, np.asarray(aug(glyph(), rng(0, 1, 3))))
    assert not np.array_equal(one, np.asarray(glyph()))
    assert one[0, 0] == 255 and one[-1, -1] == 255  # uncovered corners filled with the white background


def test_probability_zero_changes_nothing() -> None:
    aug = Augmenter(AugmentConfig(enabled=True, probability=0.0))
    assert np.array_equal(np.asarray(aug(glyph(), rng(5))), np.asarray(glyph()))


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match=r"augment.scale: expected \[low, high\]"):
        Augmenter(AugmentConfig(scale=[1.2, 0.8]))
    with pytest.raises(ConfigError, match=r"augment\.probability: expected a number in \[0, 1\], got 2\.0"):
        Augmenter(AugmentConfig(probability=2.0))


@pytest.mark.parametrize("name", ["cnn", "torchvision", "timm"])
def test_image_towers_carry_an_augment_config(name: str) -> None:
    from pairsim.config import from_dict
    from pairsim.towers import TowerConfig

    config = from_dict(TowerConfig, {"name": name, "augment": {"enabled": True, "degrees": 5}})
    assert config.augment.enabled is True and config.augment.degrees == 5.0
    with pytest.raises(ConfigError, match=r"augment\.probability: expected a number in \[0, 1\], got 3\.0"):
        from_dict(TowerConfig, {"name": name, "augment": {"probability": 3}})
