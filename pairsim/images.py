"""Reading images from whatever a user hands over: a path, a PIL image, a numpy array, a tensor, or an image made on
demand (any object with a ``to_image()`` method returning a PIL image, e.g. a synthetic distortion of a file).

Two rules hold for every image, whoever decodes it (a tower, the service, a plot):

* **pixel limit**: an image with more than :data:`MAX_PIXELS` pixels (40 megapixels; the environment variable
  ``PAIRSIM_MAX_IMAGE_PIXELS`` or a ``max_pixels`` argument changes it) is refused from its header, before any
  pixel is decoded: a 48 KB PNG of 20000 x 20000 pixels would otherwise take 400 MB or more;
* **one converter**: :func:`to_mode` turns every PIL mode into the tower's channels by scaling values, never
  by clipping (16-bit, 32-bit and float images; transparency laid over white), see :func:`to_uint8`;
* **upright**: a file or upload is turned as its EXIF orientation says (:func:`upright`), so it is encoded as a
  viewer shows it; of an animated GIF or a multi-page TIFF only the first frame is read.

Example:
    >>> import numpy as np
    >>> load_image(np.zeros((8, 8), dtype=bool)).size
    (8, 8)
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from pairsim.errors import DataError

_ORIENTATION = 0x0112  # the EXIF tag of how the stored pixels are turned


class TooManyPixelsError(DataError):
    """An image with more pixels than the limit (see :func:`check_pixels`); the service answers it with 413."""


@runtime_checkable
class LazyImage(Protocol):
    """An image made when it is loaded (a distorted version of a file, a rendered page): ``to_image()`` gives it."""

    def to_image(self) -> Image.Image: ...


ImageLike = str | Path | Image.Image | np.ndarray | torch.Tensor | LazyImage


MAX_PIXELS = 40_000_000  # default largest image (width x height) decoded: 40 megapixels, about 160 MB as RGBA
MAX_PIXELS_ENV = "PAIRSIM_MAX_IMAGE_PIXELS"  # environment variable overriding MAX_PIXELS
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})


def pixel_limit() -> int:
    """The pixel limit in force: ``$PAIRSIM_MAX_IMAGE_PIXELS`` when set, else :data:`MAX_PIXELS`.

    Raises:
        DataError: The environment variable is not a positive integer.
    """
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return MAX_PIXELS
    if not raw.isdigit() or int(raw) < 1:
        raise DataError(f"{MAX_PIXELS_ENV}={raw[:40]!r}: expected a positive number of pixels, e.g. {MAX_PIXELS}")
    return int(raw)


def load_image(item: Any, *, mode: str | None = None, max_pixels: int | None = None) -> Image.Image:
    """Return ``item`` as a PIL image, converted to ``mode`` ("L" grayscale, "RGB") when given.

    Conversion to ``mode`` goes through :func:`to_mode`: high bit depths are scaled, never clipped, and
    transparent pixels are laid over white.

    Args:
        item: A file path; a PIL image; a numpy array (H, W) or (H, W, C) of uint8, bool, uint16 or floats in
            [0, 1] (see :func:`array_problem`); a tensor (H, W) or (C, H, W) (the same); or a :class:`LazyImage`.
        mode: ``"L"`` or ``"RGB"`` to convert to, or None to keep the image's own mode.
        max_pixels: Largest width x height accepted, checked from the header before decoding; None: the
            limit in force (:func:`pixel_limit`: 40 megapixels unless ``$PAIRSIM_MAX_IMAGE_PIXELS`` says otherwise).

    Returns:
        The PIL image.

    Raises:
        DataError: The path is blank, a directory, missing, unreadable, or the image has more pixels than
            the limit (a possible decompression bomb); the array has an unusable shape, type or range
            (:func:`array_problem`).
            The message names the file (or the shape) and the limit.
    """
    limit = pixel_limit() if max_pixels is None else max_pixels
    name = "image"
    if isinstance(item, (str, Path)):
        if not str(item).strip():
            raise DataError("blank image path: expected an image file")
        path = Path(item)
        if path.is_dir():
            raise DataError(f"{path} is a directory, expected an image file")
        if not path.is_file():
            raise DataError(f"image file not found: {path}")
        image, name = open_image(path, max_pixels=limit), str(path)
    elif isinstance(item, Image.Image):
        image = item
        check_pixels(image, name, limit)
    elif isinstance(item, (np.ndarray, torch.Tensor)):
        image = _from_array(item)
    elif isinstance(item, LazyImage):
        image = item.to_image()
        check_pixels(image, name, limit)
    else:
        raise DataError(f"cannot use {type(item).__name__} as an image; expected {IMAGE_INPUTS}")
    if mode is not None and image.mode != mode:
        image = to_mode(image, mode, name=name)
    return image


def resolve_path(item: Any, folder: Path) -> str:
    """An image path from a table or an input file, resolved against that file's folder unless absolute.

    Training (``pair_table``) and ``pairsim score`` both resolve this way, so one table works in both.

    Example:
        >>> resolve_path("faces/s1/1.pgm", Path("/data"))
        '/data/faces/s1/1.pgm'
    """
    p = Path(str(item)).expanduser()
    return str(p if p.is_absolute() else folder / p)


def check_pixels(image: Image.Image, name: str, limit: int | None = None) -> None:
    """Refuse an image with more than ``limit`` pixels (``width x height``, read from the header: nothing decoded).

    Raises:
        TooManyPixelsError: One line naming ``name``, its size and the limit.
    """
    limit = pixel_limit() if limit is None else limit
    width, height = image.size
    if width * height > limit:
        raise TooManyPixelsError(
            f"image {name} is {width}x{height} = {width * height} pixels, more than the limit of {limit} "
            f"(a possible decompression bomb; ${MAX_PIXELS_ENV} sets the limit)"
        )


def open_image(source: str | Path | BinaryIO, *, name: str | None = None, max_pixels: int | None = None) -> Image.Image:
    """Decode an image file or stream, refusing one over the pixel limit before decoding.

    ``Image.open`` reads only the header, so the size is known before any pixel is decoded; PIL's own
    decompression-bomb error or warning becomes the same one-line error.

    Args:
        source: A path or a binary stream (e.g. ``io.BytesIO`` of an upload).
        name: What to call it in messages (default: the path).
        max_pixels: Pixel limit; None: :func:`pixel_limit`.

    Returns:
        The decoded image (any PIL mode; see :func:`to_mode`), turned as its EXIF orientation says
        (:func:`upright`); of an animated or multi-page file (GIF, TIFF, WebP), the first frame only.

    Raises:
        DataError: Unreadable or not an image; :class:`TooManyPixelsError` (a DataError) for more pixels than
            the limit.
    """
    name = name or str(source)
    limit = pixel_limit() if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # over PIL's limit: refuse, not warn
            with Image.open(source) as img:
                check_pixels(img, name, limit)
                img.load()
                return upright(img)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixelsError(
            f"image {name} has more pixels than the limit of {min(limit, Image.MAX_IMAGE_PIXELS or limit)} "
            f"(a possible decompression bomb; ${MAX_PIXELS_ENV} sets the limit)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DataError(f"cannot read image {name}: {' '.join(str(err).split())}") from None


def upright(image: Image.Image) -> Image.Image:
    """``image`` turned as its EXIF orientation tag says (a phone's portrait JPEG is stored sideways with
    orientation 6), so it is encoded as a viewer shows it; an image without the tag (or with orientation 1,
    or an unreadable EXIF block) is returned as it is. Files (:func:`open_image`) and uploads go through it.

    Args:
        image: A decoded PIL image.

    Returns:
        The image upright (a new image when it was turned; the orientation tag is then removed).
    """
    try:
        orientation = image.getexif().get(_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):  # a malformed EXIF block: nothing to turn by
        return image
    if orientation == 1:
        return image
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        return image


def to_mode(image: Image.Image, mode: str, *, name: str = "image") -> Image.Image:
    """``image`` in ``mode`` ("L" or "RGB"), whatever PIL mode it has, scaling values and never clipping them.

    * 16-bit (``I;16``, ``I;16B``, ...), 32-bit (``I``) and float (``F``) images become 8-bit by :func:`to_uint8`
      (PIL's own conversion clips them: a 16-bit PNG turned all white);
    * transparent pixels (``RGBA``, ``LA``, ``PA``, ``RGBa``, ``La``, ``P`` / ``L`` / ``RGB`` with a transparent
      colour) are laid over **white**: drawn strokes and signatures on a transparent background stay visible,
      as on paper; an opaque pixel keeps its colour;
    * ``1``, ``P``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV`` and the rest go through PIL's own conversion (through
      ``RGB`` where PIL has no direct one, e.g. ``LAB`` to ``L``); a mode it cannot convert is one DataError.

    Args:
        image: A PIL image in any mode.
        mode: ``"L"`` or ``"RGB"`` (other modes: PIL's conversion after the steps above).
        name: The image, for messages.

    Returns:
        The converted image.

    Raises:
        DataError: A float image with NaN or infinite values; a mode PIL cannot convert to ``mode`` (``LAB``
            to ``RGB``): one line naming the image and both modes.

    Example:
        >>> to_mode(Image.new("I;16", (2, 2), 65535), "L").getextrema()
        (255, 255)
        >>> to_mode(Image.new("I;16", (2, 2), 32896), "L").getextrema()  # scaled (PIL's convert clips to 255)
        (128, 128)
    """
    if image.mode.startswith("I") or image.mode == "F":
        image = Image.fromarray(to_uint8(np.asarray(image), name=name))  # (H, W) uint8 -> "L"
    if image.mode in _ALPHA_MODES or (image.mode in ("P", "L", "RGB") and "transparency" in image.info):
        gray = image.mode in _GRAY_MODES
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA")).convert("L" if gray else "RGB")
    if image.mode == mode:
        return image
    try:
        return image.convert(mode)
    except (ValueError, OSError):  # no direct conversion (PIL has LAB -> RGB but not LAB -> L): through RGB
        pass
    try:
        return image.convert("RGB").convert(mode)
    except (ValueError, OSError) as err:  # a mode PIL cannot convert at all
        raise DataError(
            f"image {name} is in PIL mode {image.mode}, which cannot be converted to {mode} "
            f"({' '.join(str(err).split())}); save it as RGB or grayscale"
        ) from None


def to_uint8(array: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Pixel values of any type as 0..255 ``uint8``, by scaling their range, never by clipping.

    * bool: True -> 255;
    * ``uint16`` (16-bit images): ``/ 257`` (65535 -> 255; a dark 16-bit image stays dark);
    * other non-negative integers: by the smallest bit depth holding the largest value: up to 255 as they
      are, up to 65535 as 16-bit, larger ones by the image's own maximum (-> 255);
    * floats: in [0, 1] times 255; otherwise, in [0, 255] as they are; otherwise min-max scaled to 0..255;
    * integers with negative values: min-max scaled; a constant image that min-max would scale becomes 0.

    Args:
        array: ``(H, W)`` or ``(H, W, C)`` values.
        name: The image, for messages.

    Returns:
        ``uint8`` array of the same shape.

    Raises:
        DataError: NaN or infinite values.

    Example:
        >>> to_uint8(np.array([[0, 257, 65535]], dtype=np.uint16)).tolist()
        [[0, 1, 255]]
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if array.size == 0:
        return array.astype(np.uint8)
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise DataError(f"{name} has NaN or infinite pixel values; expected finite numbers")
    low, high = float(values.min()), float(values.max())
    scale: float | None
    if np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if low >= 0 and high <= 1 else 1.0 if low >= 0 and high <= 255 else None
    elif low < 0:
        scale = None
    elif (array.dtype.itemsize == 2 and array.dtype.kind == "u") or 255 < high <= 65535:
        scale = 255 / 65535
    else:
        scale = 1.0 if high <= 255 else 255 / high
    if scale is None:  # min-max
        values, scale = values - low, (255 / (high - low) if high > low else 0.0)
    return np.clip(np.round(values * scale), 0, 255).astype(np.uint8)  # clip: rounding only, values are in range


# what an image tower reads, for messages (the contract of PairModel.score / encode_a / encode_b and load_image)
IMAGE_INPUTS = (
    "an image file path, a PIL image, a uint8 or bool array (H, W) or (H, W, C), a float array with values in "
    "[0, 1], or a tensor (H, W) or (C, H, W) of such values"
)


def array_problem(array: np.ndarray | torch.Tensor) -> str | None:
    """What is wrong with an array or tensor handed over as one image (None: nothing), as the phrase ``it is ...``.

    An image array is ``(H, W)`` or ``(H, W, C)`` (a tensor also ``(C, H, W)``) with 1, 3 or 4 channels, of
    ``uint8`` (0-255), ``bool``, ``uint16`` (a 16-bit image, scaled by 1/257), or floats in [0, 1]. Floats outside
    [0, 1] (sklearn's ``load_digits().images`` are 0-16) and other integer types are refused, not guessed at:
    their scale is the caller's to say.

    Example:
        >>> array_problem(np.zeros((8, 8), dtype=np.uint8)) is None
        True
        >>> array_problem(np.full((8, 8), 16.0))
        'a float64 array with values 16 to 16 (expected floats in [0, 1]: divide by the largest possible value, e.g. images / 16 for load_digits, or use uint8 0-255)'
    """
    kind = "tensor" if isinstance(array, torch.Tensor) else "array"
    shape = tuple(array.shape)
    channels_first = kind == "tensor" and len(shape) == 3 and shape[0] in (1, 3, 4)
    if len(shape) not in (2, 3) or (len(shape) == 3 and not channels_first and shape[2] not in (1, 3, 4)):
        layout = "(H, W), (H, W, C) or (C, H, W)" if kind == "tensor" else "(H, W) or (H, W, C)"
        return f"{'an' if kind == 'array' else 'a'} {kind} of shape {shape} (expected one image: {layout} with C 1, 3 or 4)"
    if 0 in shape:
        return f"an empty {kind} of shape {shape}"
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        array = (array.float() if array.dtype == torch.bfloat16 else array).numpy()
    dtype = array.dtype
    if dtype in (np.uint8, np.uint16, np.bool_):
        return None
    if np.issubdtype(dtype, np.floating):
        if not np.isfinite(array).all():
            return f"a {dtype} {kind} with NaN or infinite values (expected finite floats in [0, 1])"
        low, high = float(array.min()) + 0.0, float(array.max()) + 0.0  # + 0.0: no "-0" in the message
        if low >= 0 and high <= 1:
            return None
        return (
            f"a {dtype} {kind} with values {low:g} to {high:g} (expected floats in [0, 1]: divide by the largest "
            "possible value, e.g. images / 16 for load_digits, or use uint8 0-255)"
        )
    article = "an" if str(dtype)[0] in "aeio" else "a"
    return f"{article} {dtype} {kind} (expected uint8 0-255, bool, uint16, or floats in [0, 1])"


def _from_array(array: np.ndarray | torch.Tensor) -> Image.Image:
    problem = array_problem(array)
    if problem is not None:
        raise DataError(f"cannot use {problem} as an image")
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        if array.ndim == 3 and array.shape[0] in (1, 3, 4):
            array = array.permute(1, 2, 0)  # (C, H, W) -> (H, W, C)
        array = (array.float() if array.dtype == torch.bfloat16 else array).numpy()
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(np.ascontiguousarray(to_uint8(array, name=f"array of shape {tuple(array.shape)}")))


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
