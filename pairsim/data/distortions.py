"""Synthetic image distortions at graded levels (RankIQA, Liu et al. 2017), made on demand and deterministic.

Three kinds, each with one parameter per level (level 0 = the original, level ``k`` uses parameter ``k - 1``):

* ``blur``: Gaussian blur of standard deviation ``sigma`` pixels;
* ``noise``: additive Gaussian noise of standard deviation ``std`` (fraction of the 0..255 range), drawn from a
  generator seeded by the image's name and the level, so a version is the same in every run and process;
* ``jpeg``: JPEG compression at ``quality`` (lower = stronger).

A :class:`DistortedImage` is one version of one image: a small record that makes its pixels when an image
tower loads it (:func:`pairsim.images.load_image` calls ``to_image()``), so thousands of versions cost no
memory beyond the decoded originals, which an :class:`Originals` cache keeps once per image.

Example:
    >>> import numpy as np
    >>> image = np.full((32, 32, 3), 128, dtype=np.uint8)
    >>> noisy = distort(image, "noise", 0.1, seed=3)  # (32, 32, 3) uint8
    >>> bool((noisy != image).any()), np.array_equal(noisy, distort(image, "noise", 0.1, seed=3))
    (True, True)
"""

from __future__ import annotations

import dataclasses
import io
import zlib
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter

from pairsim.errors import DataError
from pairsim.images import load_image, to_mode

Kind = Literal["blur", "noise", "jpeg"]
KINDS: tuple[Kind, ...] = ("blur", "noise", "jpeg")


def distort(image: np.ndarray, kind: str, param: float, *, seed: int = 0) -> np.ndarray:
    """One distorted copy of an RGB image.

    Args:
        image: ``(H, W, 3)`` uint8.
        kind: "blur" (``param`` = sigma in pixels), "noise" (``param`` = std as a fraction of 255) or "jpeg"
            (``param`` = quality 1..100).
        param: The strength.
        seed: Seed of the noise (the other kinds are deterministic without one).

    Returns:
        ``(H, W, 3)`` uint8, a new array.

    Raises:
        DataError: Unknown kind.

    Example:
        >>> distort(np.zeros((8, 8, 3), dtype=np.uint8), "jpeg", 50).shape
        (8, 8, 3)
    """
    if kind == "blur":
        blurred = Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius=float(param)))
        return np.asarray(blurred, dtype=np.uint8).copy()
    if kind == "noise":
        gen = np.random.default_rng(seed)
        noise = gen.normal(0.0, float(param) * 255.0, size=image.shape)  # (H, W, 3)
        return np.clip(image.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)
    if kind == "jpeg":
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(param))
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return np.asarray(decoded.convert("RGB"), dtype=np.uint8).copy()
    raise DataError(f"unknown distortion {kind!r}; expected one of {', '.join(KINDS)}")


def square_crop(image: Image.Image, side: int) -> np.ndarray:
    """Resize so the short side is ``side`` pixels, then cut the centre ``side x side`` square.

    Args:
        image: Any PIL image (converted to RGB by :func:`pairsim.images.to_mode`: scaled, over white).
        side: Output side in pixels.

    Returns:
        ``(side, side, 3)`` uint8.

    Example:
        >>> square_crop(Image.new("RGB", (40, 20)), 10).shape
        (10, 10, 3)
    """
    image = to_mode(image, "RGB")
    w, h = image.size
    scale = side / min(w, h)
    new_w, new_h = max(side, round(w * scale)), max(side, round(h * scale))
    image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - side) // 2, (new_h - side) // 2
    return np.asarray(image.crop((left, top, left + side, top + side)), dtype=np.uint8)


class Originals:
    """Decoded originals, square-cropped to ``side``, kept once per path (decoded on first use).

    Args:
        side: Side of the square every original is cropped to.

    Example:
        >>> Originals(64).side
        64
    """

    def __init__(self, side: int) -> None:
        self.side = side
        self._images: dict[str, np.ndarray] = {}

    def get(self, path: str) -> np.ndarray:
        """The ``(side, side, 3)`` uint8 original of the image file ``path``."""
        if path not in self._images:
            self._images[path] = square_crop(load_image(Path(path)), self.side)
        return self._images[path]


@dataclasses.dataclass(frozen=True, eq=False)
class DistortedImage:
    """One version of one image: an image tower loads it through :meth:`to_image`.

    Args:
        path: The original image file.
        kind: "blur", "noise" or "jpeg".
        level: 0 = the original, higher = more distorted.
        param: The strength of this level (ignored at level 0).
        originals: The shared cache of decoded originals.
    """

    path: str
    kind: str
    level: int
    param: float
    originals: Originals = dataclasses.field(repr=False)

    @property
    def seed(self) -> int:
        """The noise seed: fixed by the image's file name and the level (the same in every process)."""
        return zlib.crc32(f"{Path(self.path).name}/{self.kind}/{self.level}".encode())

    def array(self) -> np.ndarray:
        """The distorted pixels, ``(side, side, 3)`` uint8."""
        original = self.originals.get(self.path)
        if self.level == 0:
            return original
        return distort(original, self.kind, self.param, seed=self.seed)

    def to_image(self) -> Image.Image:
        """The distorted version as a PIL RGB image (what :func:`pairsim.images.load_image` reads)."""
        return Image.fromarray(self.array())


def laplacian_variance(image: np.ndarray | Image.Image | DistortedImage) -> float:
    """Variance of the Laplacian of the grey image: a classic no-training sharpness score (higher = sharper).

    It falls with blur and, mostly, with JPEG compression (which removes fine detail), but it *rises* with
    noise, which adds high frequencies: as a quality score it ranks noisy versions the wrong way round.

    Args:
        image: ``(H, W, 3)`` or ``(H, W)`` uint8 array, a PIL image or a :class:`DistortedImage`.

    Returns:
        The variance (grey levels 0..255).

    Example:
        >>> flat = np.full((16, 16), 100, dtype=np.uint8)
        >>> laplacian_variance(flat)
        0.0
    """
    if isinstance(image, DistortedImage):
        image = image.array()
    if isinstance(image, Image.Image):
        image = np.asarray(to_mode(image, "RGB"))
    grey = image.astype(np.float64)
    if grey.ndim == 3:
        grey = grey @ np.array([0.299, 0.587, 0.114])  # (H, W)
    from scipy import ndimage  # here: scipy costs a second to import, and only this measure needs it

    return float(ndimage.laplace(grey, mode="reflect").var())
