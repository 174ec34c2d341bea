"""The input contract of towers, checked in one place where raw items enter a tower (:meth:`Tower.check_items`,
which every encode and score goes through: ``PairModel.score``, ``encode_a``, ``encode_b``, ``encode_unique``,
the commands and the service).

* a **text** tower reads strings;
* an **image** tower reads image file paths, PIL images, ``uint8`` / ``bool`` arrays ``(H, W)`` or ``(H, W, C)``,
  float arrays with values in [0, 1], and tensors of the same (``(C, H, W)`` too); see
  :func:`pairsim.images.array_problem`.

Anything else (a text for an image tower, an image for a text tower, None, floats outside [0, 1] such as
sklearn's ``load_digits().images``, an array of the wrong dimensions, one string instead of a list) is one
:class:`DataError` (a ``ValueError``) naming the argument, the item, what it is and what was expected. Without
it a text model happily tokenises image paths (every pair of ``.png`` names scores "same") and an image model
scores 0-16 floats as if they were 0-255 pixels. :func:`check_modality` looks at types, file suffixes (plus
one ``stat`` call) and, for arrays, their shape and value range, so it is cheap enough to run on every encode.

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

# a single input where a list of inputs belongs (iterating it would read characters, rows or keys)
_NOT_A_LIST = (str, bytes, Path, dict)

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
    """Raise a one-line :class:`DataError` unless ``items`` are inputs of ``modality`` (see the module's contract).

    Text: every item must be a string, and the items must not all be paths of existing image files.
    Image: no item may be blank, a string that is neither an image file name nor an existing file is taken for a
    text, and arrays and tensors must be one image each with values a tower can read (:func:`array_problem`).

    Args:
        modality: ``"text"`` or ``"image"`` (the tower's).
        items: The raw inputs about to be encoded: a list (or tuple, or an array / tensor of N images).
        where: What the items are, for the message (the argument's name, a file name, "side-a inputs").
        lines: Name items as "line N" (items read one per line from a file) instead of "item N".

    Raises:
        DataError: ``items`` is one input instead of a list, or the first offending item, named by position,
            what it is, and what the tower reads.
    """
    check_list(modality, items, where=where)
    unit = "line" if lines else "item"
    if modality == "text":
        for i, item in enumerate(items):
            if not isinstance(item, str):
                kind = (
                    "an image"
                    if _image_like(item)
                    else "a file path"
                    if isinstance(item, Path)
                    else "None"
                    if item is None
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
            _check_image_object(item, where=f"{where}: {unit} {i + 1}")
            continue
        text = str(item)
        if not text.strip():
            raise DataError(f"{where}: {unit} {i + 1} is blank; expected an image file path")
        if not looks_like_image_path(text) and not Path(text).is_file():
            raise DataError(
                f"{where}: {unit} {i + 1} is {text[:60]!r}, not an image file; this model's tower reads images "
                "(a model for text inputs is needed, or fix the path)"
            )


def check_list(modality: str, items: Any, *, where: str) -> None:
    """Refuse one input (a string, a path, one image) or None where a list of inputs belongs (part of
    :func:`check_modality`).

    Raises:
        DataError: ``items`` is not a list, tuple, or array / tensor of N inputs.
    """
    from PIL import Image

    from pairsim.images import LazyImage

    if items is None or isinstance(items, (*_NOT_A_LIST, Image.Image, LazyImage)):
        seen = "None" if items is None else "a string" if isinstance(items, str) else f"a {type(items).__name__}"
        raise DataError(f"{where}: expected a list of inputs (one per item), got {seen}; wrap one input in a list")
    shape = getattr(items, "shape", None)
    if shape is not None and modality == "image" and len(shape) < 3:
        raise DataError(
            f"{where}: expected a list of images, got one {type(items).__name__} of shape {tuple(shape)}; "
            "wrap one image in a list, or pass an array (N, H, W) / (N, H, W, C)"
        )
    if not hasattr(items, "__len__") or not hasattr(items, "__getitem__"):
        raise DataError(f"{where}: expected a list of inputs, got a {type(items).__name__}; pass list(...) of it")


def _check_image_object(item: Any, *, where: str) -> None:
    """Refuse an in-memory image a tower cannot read (wrong dimensions, type or range) or a non-image."""
    from PIL import Image

    from pairsim.images import IMAGE_INPUTS, LazyImage, array_problem

    if isinstance(item, (Image.Image, LazyImage)):
        return  # load_image names an unreadable one (pixel limit, mode)
    if _image_like(item):  # an array or tensor
        problem = array_problem(item)
        if problem is not None:
            raise DataError(f"{where} is {problem}; an image tower reads {IMAGE_INPUTS}")
        return
    seen = "None" if item is None else f"a {type(item).__name__}"
    raise DataError(f"{where} is {seen}, not an image; this model's tower reads {IMAGE_INPUTS}")
