"""Caption-image retrieval evaluation sets: every image once, with all of its captions.

Metrics embed ``images`` and ``captions`` once each and rank: for image->text retrieval a hit is any of
``image_captions[i]``; for text->image retrieval the one correct image of caption ``c`` is
``caption_image[c]``.

Example:
    >>> from pairsim.data.types import CaptionImages
    >>> data = CaptionImages(images=["a.jpg", "b.jpg"], image_ids=["a", "b"], captions=["x", "y", "z"],
    ...                      caption_image=[0, 1, 0])
    >>> retrieval_set(data).image_captions
    [[0, 2], [1]]
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pairsim.data.types import CaptionImages
from pairsim.errors import DataError


@dataclasses.dataclass
class RetrievalSet:
    """Images and captions for retrieval metrics.

    Args:
        images: Each image once (paths or arrays).
        image_ids: Id of each image.
        captions: Every caption.
        caption_image: For each caption, the index of its one correct image.
        image_captions: For each image, the indices of all its captions (the correct texts).
    """

    images: list[Any]
    image_ids: list[str]
    captions: list[str]
    caption_image: list[int]
    image_captions: list[list[int]]


def retrieval_set(data: CaptionImages, *, max_images: int | None = None) -> RetrievalSet:
    """The retrieval set of a caption-image split.

    Args:
        data: A split (e.g. ``splits.test``).
        max_images: Keep only the first this many images (and their captions), e.g. the usual 1k test.

    Raises:
        DataError: The split is empty or an image has no caption.
    """
    if max_images is not None:
        data = data.subset_images(list(range(min(max_images, len(data.images)))))
    if not data.images:
        raise DataError("retrieval set: the split has no images")
    per_image = data.image_captions()
    lonely = [data.image_ids[i] for i, caps in enumerate(per_image) if not caps]
    if lonely:
        raise DataError(f"retrieval set: image {lonely[0]!r} has no caption")
    return RetrievalSet(
        images=list(data.images),
        image_ids=list(data.image_ids),
        captions=list(data.captions),
        caption_image=list(data.caption_image),
        image_captions=per_image,
    )
