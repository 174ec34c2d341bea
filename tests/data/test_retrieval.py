"""Tests of pairsim.data.retrieval: each image once with all its captions."""

from __future__ import annotations

import pytest

from pairsim.data.retrieval import retrieval_set
from pairsim.data.types import CaptionImages, Splits
from pairsim.errors import DataError


def test_retrieval_set_of_flickr_test(flickr_slice: Splits[CaptionImages]) -> None:
    data = flickr_slice.test
    rs = retrieval_set(data)
    assert len(rs.images) == len(set(rs.image_ids)) == 6 and len(rs.captions) == 30
    for i, caps in enumerate(rs.image_captions):
        assert len(caps) == 5 and all(rs.caption_image[c] == i for c in caps)
    small = retrieval_set(data, max_images=2)
    assert small.image_ids == data.image_ids[:2] and len(small.captions) == 10


def test_image_without_caption_is_an_error() -> None:
    data = CaptionImages(images=["a.jpg", "b.jpg"], image_ids=["a", "b"], captions=["x"], caption_image=[0])
    with pytest.raises(DataError, match="image 'b' has no caption"):
        retrieval_set(data)
