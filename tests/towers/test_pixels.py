"""PixelTransform gives exactly torchvision v2's numbers (the pipeline image towers used before), without torchvision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pairsim.towers.pixels import PixelTransform

v2 = pytest.importorskip("torchvision.transforms.v2")


def _torchvision(size: list[int], mean: list[float], std: list[float]):
    return v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(size, antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean, std),
        ]
    )


@pytest.mark.parametrize(
    ("mode", "source", "size"),
    [
        ("L", (8, 8), [16, 16]),  # upsampled digits
        ("L", (105, 105), [28, 28]),  # Omniglot, downsampled
        ("L", (92, 112), [112, 92]),  # a face at its own size: no resize
        ("RGB", (256, 300), [224, 224]),
        ("RGB", (31, 17), [40, 20]),
    ],
)
def test_pixels_match_torchvision(mode: str, source: tuple[int, int], size: list[int]) -> None:
    rng = np.random.default_rng(0)
    channels = 1 if mode == "L" else 3
    shape = (source[1], source[0]) if channels == 1 else (source[1], source[0], 3)
    image = Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode=mode)
    mean, std = [0.5, 0.4, 0.3][:channels], [0.2, 0.25, 0.3][:channels]
    ours = PixelTransform(size=size, mean=mean, std=std)(image)
    theirs = _torchvision(size, mean, std)(image)
    assert ours.shape == (channels, *size) and ours.dtype == torch.float32
    assert torch.equal(ours, theirs)


def test_float_resize_path_matches_the_native_one_to_a_level() -> None:
    """Where the CPU has no native uint8 resize, the float path rounds back to uint8: within one grey level."""
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(50, 70), dtype=np.uint8), mode="L")
    native = PixelTransform(size=[20, 30], mean=[0.0], std=[1.0])
    other = PixelTransform(size=[20, 30], mean=[0.0], std=[1.0])
    native.native, other.native = True, False
    assert (native(image) - other(image)).abs().max() <= 1 / 255 + 1e-6
