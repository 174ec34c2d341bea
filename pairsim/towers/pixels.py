"""PIL image -> the normalised pixel tensor an image tower reads: to a tensor, resize, scale to [0, 1], normalise.

The same steps, and the same numbers, as torchvision's ``v2.Compose([PILToTensor(), Resize(size, antialias=True),
ToDtype(float32, scale=True), Normalize(mean, std)])``, written on torch alone: importing any part of torchvision
loads all of it (its models and datasets, about 2 s), which a CNN scoring two images should not pay for.
tests/towers/test_pixels.py checks the two agree on every image mode and size the towers see.

Example:
    >>> from PIL import Image
    >>> to_pixels = PixelTransform(size=[4, 6], mean=[0.5], std=[0.5])
    >>> to_pixels(Image.new("L", (12, 8), 255)).shape
    torch.Size([1, 4, 6])
"""

from __future__ import annotations

import platform
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def _native_uint8_resize() -> bool:
    """Whether torch resizes uint8 images bilinearly without a float round trip on this CPU (torchvision's rule)."""
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") or platform.machine() in ("aarch64", "arm64")


class PixelTransform:
    """A decoded image (PIL, mode ``L`` or ``RGB``) -> ``(C, H, W)`` float32, resized and normalised.

    Args:
        size: ``[height, width]`` of the output.
        mean: Per-channel mean subtracted after scaling to [0, 1].
        std: Per-channel standard deviation divided by.
    """

    def __init__(self, *, size: Sequence[int], mean: Sequence[float], std: Sequence[float]) -> None:
        self.size = (int(size[0]), int(size[1]))
        # on the CPU whatever device a tower is built under (the ONNX runtime builds towers on the meta device)
        self.mean = torch.tensor(list(mean), dtype=torch.float32, device="cpu").view(-1, 1, 1)  # (C, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32, device="cpu").view(-1, 1, 1)  # (C, 1, 1)
        self.native = _native_uint8_resize()

    def __call__(self, image: Image.Image) -> torch.Tensor:
        array = np.array(image, dtype=np.uint8, copy=True)  # (H, W) or (H, W, C)
        pixels = torch.from_numpy(array.reshape(array.shape[0], array.shape[1], -1)).permute(2, 0, 1)  # (C, H, W)
        pixels = self.resize(pixels)  # (C, h, w) uint8
        return pixels.to(torch.float32).mul_(1.0 / 255).sub_(self.mean).div_(self.std)  # (C, h, w)

    def resize(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(C, H, W)`` uint8 -> ``(C, h, w)`` uint8, bilinear with antialiasing (unchanged when already that size)."""
        if tuple(pixels.shape[-2:]) == self.size or pixels.numel() == 0:
            return pixels
        batch = pixels.unsqueeze(0)  # (1, C, H, W)
        if self.native:
            out = F.interpolate(batch, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        else:
            out = F.interpolate(batch.float(), size=self.size, mode="bilinear", align_corners=False, antialias=True)
            out = out.round_().to(torch.uint8)
        return out[0]  # (C, h, w)
