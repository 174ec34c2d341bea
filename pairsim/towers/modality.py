"""One check that raw inputs are of a tower's modality (text or image), called where items enter a tower.

Without it a text model happily tokenises image paths (every pair of ``.png`` names scores "same") and an
image tower reports a sentence as a missing file. :func:`check_modality` looks only at the items' types and
file suffixes (plus one ``stat`` call), so it is cheap enough to run on every encode.

Example:
    >>> check_modality("text", ["a cat", "a dog"], where="side a")
    >>> check_modality("text", [b"bytes"], where="side a")
    Traceback (most recent call last):
    ...
    pairsim.errors.DataError: side a: item 1 is bytes, but this tower reads text (a model for image inputs is needed)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pairsim.errors import DataError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".gif", ".tif", ".tiff", ".webp"})


def looks_like_image_path(item: Any) -> bool:
    """Whether ``item`` is a string or path ending in an image file suffix."""
    return isinstance(item, (str, Path)) and Path(str(item).strip()).suffix.lower() in IMAGE_SUFFIXES


def _image_like(item: Any) -> bool:
    from PIL import Image

    from pairsim.images import LazyImage

    if isinstance(item, (Image.Image, LazyImage)):
        return True
    try:
        import numpy as np
        import torch
    except ImportError:  # pragma: no cover - both are dependencies
        return False
    return isinstance(item, (np.ndarray, torch.Tensor))


def check_modality(modality: str, items: Sequence[Any], *, where: str, lines: bool = False) -> None:
    """Raise a one-line :class:`DataError` unless ``items`` are inputs of ``modality``.

    Text: every item must be a string, and the items must not all be paths of existing image files.
    Image: no item may be blank, and a string that is neither an image file name nor an existing file
    is taken for a text.

    Args:
        modality: ``"text"`` or ``"image"`` (the tower's).
        items: The raw inputs about to be encoded.
        where: What the items are, for the message (a file name, "side a").
        lines: Name items as "line N" (items read one per line from a file) instead of "item N".

    Raises:
        DataError: The first offending item, named by position, and what the tower reads.
    """
    unit = "line" if lines else "item"
    if modality == "text":
        for i, item in enumerate(items):
            if not isinstance(item, str):
                kind = (
                    "an image"
                    if _image_like(item)
                    else "a file path"
                    if isinstance(item, Path)
                    else type(item).__name__
                )
                raise DataError(
                    f"{where}: {unit} {i + 1} is {kind}, but this tower reads text (a model for image inputs is needed)"
                )
        filled = [item for item in items if item.strip()]
        if filled and all(map(looks_like_image_path, filled)) and Path(filled[0].strip()).is_file():
            raise DataError(
                f"{where}: the inputs are image files ({filled[0].strip()}, ...), but this model's tower reads "
                "text; use a model with an image tower"
            )
        return
    for i, item in enumerate(items):
        if not isinstance(item, (str, Path)):
            continue  # PIL images, arrays, tensors, lazy images: load_image names a bad one
        text = str(item)
        if not text.strip():
            raise DataError(f"{where}: {unit} {i + 1} is blank; expected an image file path")
        if not looks_like_image_path(text) and not Path(text).is_file():
            raise DataError(
                f"{where}: {unit} {i + 1} is {text[:60]!r}, not an image file; this model's tower reads images "
                "(a model for text inputs is needed, or fix the path)"
            )
