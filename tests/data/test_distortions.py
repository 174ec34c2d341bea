"""The synthetic distortions: each level is stronger than the last, versions are deterministic, towers load them."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pairsim.data.distortions import DistortedImage, Originals, distort, laplacian_variance, square_crop
from pairsim.errors import DataError
from pairsim.images import load_image

BLUR = [0.5, 1.0, 1.5, 2.5, 4.0]
NOISE = [0.02, 0.04, 0.07, 0.12, 0.2]
JPEG = [60, 35, 20, 10, 5]


def textured(side: int = 64) -> np.ndarray:
    """A smooth gradient with random texture: fine detail for blur and JPEG to remove. (side, side, 3) uint8."""
    gen = np.random.default_rng(7)
    ramp = np.linspace(40, 200, side)[None, :, None] * np.ones((side, 1, 3))  # (side, side, 3)
    return np.clip(ramp + gen.normal(0, 25, (side, side, 3)), 0, 255).astype(np.uint8)


def error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.repeat(textured(80), 2, axis=1)).save(path)  # 160 x 80
    return path


def test_blur_lowers_laplacian_variance_with_every_level() -> None:
    image = textured()
    values = [laplacian_variance(image)] + [laplacian_variance(distort(image, "blur", s)) for s in BLUR]
    assert all(b < a for a, b in itertools.pairwise(values)), values


def test_noise_and_jpeg_move_further_from_the_original_with_every_level() -> None:
    image = textured()
    for kind, params in (("noise", NOISE), ("jpeg", JPEG)):
        errors = [error(image, distort(image, kind, p, seed=1)) for p in params]
        assert errors[0] > 0 and all(b > a for a, b in itertools.pairwise(errors)), (kind, errors)


def test_laplacian_variance_rises_with_noise_the_wrong_way_for_quality() -> None:
    flat = np.full((32, 32, 3), 120, dtype=np.uint8)
    assert laplacian_variance(flat) == 0.0
    assert laplacian_variance(distort(flat, "noise", 0.2, seed=0)) > laplacian_variance(distort(flat, "noise", 0.05))


def test_unknown_distortion_is_a_data_error() -> None:
    with pytest.raises(DataError, match="unknown distortion 'fog'"):
        distort(textured(), "fog", 1.0)


def test_square_crop_keeps_the_centre() -> None:
    image = Image.fromarray(np.concatenate([np.zeros((10, 10, 3)), np.full((10, 10, 3), 255)], axis=1).astype(np.uint8))
    out = square_crop(image, 10)  # (10, 10, 3): the middle of a 20 x 10 image, half dark, half light
    assert out.shape == (10, 10, 3)
    assert out[:, :3].mean() < 30 and out[:, -3:].mean() > 225


def test_versions_are_deterministic_and_differ_by_image_and_level(photo: Path, tmp_path: Path) -> None:
    first = DistortedImage(str(photo), "noise", 3, NOISE[2], Originals(48)).array()
    again = DistortedImage(str(photo), "noise", 3, NOISE[2], Originals(48)).array()  # a fresh cache, same pixels
    assert first.shape == (48, 48, 3) and np.array_equal(first, again)
    other = tmp_path / "other.png"
    Image.open(photo).save(other)  # the same pixels under another name: other noise
    assert not np.array_equal(first, DistortedImage(str(other), "noise", 3, NOISE[2], Originals(48)).array())
    original = DistortedImage(str(photo), "noise", 0, 0.0, Originals(48)).array()
    assert np.array_equal(original, square_crop(Image.open(photo), 48))


def test_image_towers_load_a_distorted_version(photo: Path) -> None:
    version = DistortedImage(str(photo), "jpeg", 5, 5, Originals(32))
    image = load_image(version, mode="RGB")
    assert image.size == (32, 32)
    assert np.array_equal(np.asarray(image), version.array())
    assert laplacian_variance(version) == laplacian_variance(version.array())
