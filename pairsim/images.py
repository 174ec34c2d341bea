"""Reading images from whatever a user hands over: a path, a PIL image, a numpy array, a tensor, or an image made on
demand (any object with a ``to_image()`` method returning a PIL image, e.g. a synthetic distortion of a file).

Example:
    >>> import numpy as np
    >>> load_image(np.zeros((8, 8), dtype=bool)).size
    (8, 8)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from pairsim.errors import DataError


@runtime_checkable
class LazyImage(Protocol):
    """An image made when it is loaded (a distorted version of a file, a rendered page): ``to_image()`` gives it."""

    def to_image(self) -> Image.Image: ...


ImageLike = str | Path | Image.Image | np.ndarray | torch.Tensor | LazyImage


def load_image(item: Any, *, mode: str | None = None) -> Image.Image:
    """Return ``item`` as a PIL image, converted to ``mode`` ("L" grayscale, "RGB") when given.

    Args:
        item: A file path; a PIL image; a numpy array (H, W) or (H, W, C) of bool, uint8 or float in
            [0, 1]; a tensor (H, W) or (C, H, W) with values in [0, 1]; or a :class:`LazyImage`.
        mode: PIL mode to convert to, or None to keep the image's own.

    Returns:
        The PIL image.

    Raises:
        DataError: The path is blank, a directory, missing, unreadable or a decompression bomb (more pixels
            than ``PIL.Image.MAX_IMAGE_PIXELS``), or the array has an unusable shape; the message names the file
            or the shape.
    """
    if isinstance(item, (str, Path)):
        if not str(item).strip():
            raise DataError("blank image path: expected an image file")
        path = Path(item)
        if path.is_dir():
            raise DataError(f"{path} is a directory, expected an image file")
        if not path.is_file():
            raise DataError(f"image file not found: {path}")
        image = _open(path)
    elif isinstance(item, Image.Image):
        image = item
    elif isinstance(item, (np.ndarray, torch.Tensor)):
        image = _from_array(item)
    elif isinstance(item, LazyImage):
        image = item.to_image()
    else:
        raise DataError(
            f"cannot use {type(item).__name__} as an image; expected a path, PIL image, numpy array or tensor"
        )
    if mode is not None and image.mode != mode:
        image = image.convert(mode)
    return image


def _open(path: Path) -> Image.Image:
    """Decode an image file; a decompression bomb (more pixels than PIL's limit) is refused before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit: refuse, not warn
            with Image.open(path) as img:
                img.load()
                return img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = Image.MAX_IMAGE_PIXELS
        raise DataError(
            f"image {path} is too large to decode safely (over {limit} pixels, a possible decompression bomb)"
        ) from None
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"cannot read image {path}: {err}") from None


def _from_array(array: np.ndarray | torch.Tensor) -> Image.Image:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        if array.ndim == 3 and array.shape[0] in (1, 3, 4):
            array = array.permute(1, 2, 0)  # (C, H, W) -> (H, W, C)
        array = array.numpy()
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise DataError(f"cannot use an array of shape {tuple(array.shape)} as an image; expected (H, W) or (H, W, C)")
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


def crop_to_content(image: Image.Image, margin: float, *, tolerance: int = 32) -> Image.Image:
    """The smallest square holding every non-background pixel, widened by ``margin`` of its side on each
    side and padded with the background where it leaves the image; the image itself when it is all background.

    The background is the top-left pixel's grey level; a pixel is content when its grey level (PIL's ``L``)
    differs from it by more than ``tolerance`` (of 255). Size-normalising drawn characters or signatures this
    way gives the net their strokes at the full input resolution wherever they sit in the canvas.

    Args:
        image: A decoded image (any mode PIL can convert to ``L``).
        margin: Extra room around the content, as a share of its square's side (0.1: 10% on each side).
        tolerance: Largest difference from the background that still counts as background.

    Returns:
        A square image in ``image``'s mode; ``image`` itself when no pixel is content.

    Example:
        >>> canvas = Image.new("L", (100, 60), 255)
        >>> canvas.paste(0, (10, 20, 30, 30))  # a 20 x 10 black bar
        >>> crop_to_content(canvas, 0.0).size
        (20, 20)
    """
    gray = np.asarray(image.convert("L"), dtype=np.int16)  # (H, W)
    ys, xs = np.nonzero(np.abs(gray - gray[0, 0]) > tolerance)
    if xs.size == 0:
        return image
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    side = max(1, round(max(x1 - x0, y1 - y0) * (1 + 2 * margin)))
    left, top = round((x0 + x1 - side) / 2), round((y0 + y1 - side) / 2)
    canvas = Image.new(image.mode, (side, side), image.getpixel((0, 0)))
    canvas.paste(image, (-left, -top))  # PIL clips what falls outside the canvas
    return canvas
