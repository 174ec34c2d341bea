"""Tests of pairsim.data.batching: P x K batches, caption batches, rank awareness and resume."""

from __future__ import annotations

import pytest

from pairsim.data.batching import CaptionBatchSampler, IndexBatchSampler, PKBatchSampler
from pairsim.data.types import CaptionImages, LabelledItems, Splits
from pairsim.errors import DataError


def test_pk_batches_hold_p_classes_of_k(omniglot_slice: Splits[LabelledItems]) -> None:
    labels = omniglot_slice.train.labels
    sampler = PKBatchSampler(labels, classes_per_batch=6, samples_per_class=4, seed=0)
    batches = list(sampler)
    assert len(batches) == len(labels) // 24
    for batch in batches:
        classes = [labels[i] for i in batch]
        assert len(batch) == 24 and len(set(classes)) == 6
        assert all(classes.count(c) == 4 for c in set(classes))
        assert len(set(batch)) == 24  # classes have 20 drawings >= K: no repeats
    seen = {labels[i] for b in batches for i in b}
    assert len(seen) == len(set(labels))  # an epoch visits every class


def test_pk_sampler_needs_enough_classes() -> None:
    with pytest.raises(DataError, match="need 4 classes with at least 2 items, found 2"):
        PKBatchSampler([0, 0, 1, 1, 2], classes_per_batch=4, samples_per_class=2)


def test_pk_batches_split_across_ranks_and_resume(faces: Splits[LabelledItems]) -> None:
    labels = faces.train.labels
    whole = PKBatchSampler(labels, classes_per_batch=4, samples_per_class=3, seed=1, num_batches=10)
    ranks = [
        PKBatchSampler(labels, classes_per_batch=4, samples_per_class=3, seed=1, num_batches=10, rank=r, world_size=2)
        for r in range(2)
    ]
    everything = whole.global_batches(0)
    assert list(ranks[0]) == everything[0::2] and list(ranks[1]) == everything[1::2]
    whole.set_epoch(1)
    epoch1 = list(whole)
    assert epoch1 != everything
    whole.set_epoch(1, start_batch=4)
    assert list(whole) == epoch1[4:] and len(whole) == 6


def test_index_batches_shuffle_per_epoch_and_keep_everything() -> None:
    sampler = IndexBatchSampler(10, 4, shuffle=True, seed=0)
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(10)) and [len(b) for b in first] == [4, 4, 2]
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert list(IndexBatchSampler(10, 4, shuffle=False, drop_last=True)) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_caption_batches_never_repeat_an_image(flickr_slice: Splits[CaptionImages]) -> None:
    data = flickr_slice.train
    assert len(data.images) >= 40 and len(data.captions) == 5 * len(data.images)
    for epoch in range(3):
        sampler = CaptionBatchSampler(data.caption_image, 16, drop_last=False, seed=0)
        sampler.set_epoch(epoch)
        batches = list(sampler)
        for batch in batches:
            images = [data.caption_image[c] for c in batch]
            assert len(images) == len(set(images)), "two captions of one image in a batch"
        assert sorted(c for b in batches for c in b) == list(range(len(data.captions)))  # each caption once
        assert sum(len(b) == 16 for b in batches) >= len(batches) - 2


def test_caption_batches_worst_case_few_images() -> None:
    caption_image = [0] * 5 + [1] * 5 + [2]  # image 2 has one caption: the tail can only pair 0 with 1
    batches = list(CaptionBatchSampler(caption_image, 3, drop_last=False, seed=4))
    for batch in batches:
        assert len({caption_image[c] for c in batch}) == len(batch)
    assert sorted(c for b in batches for c in b) == list(range(11))


def test_caption_batches_rank_aware(flickr_slice: Splits[CaptionImages]) -> None:
    data = flickr_slice.train
    shards = [list(CaptionBatchSampler(data.caption_image, 8, seed=2, rank=r, world_size=3)) for r in range(3)]
    assert len(shards[0]) == len(shards[1]) == len(shards[2]) > 0
    flat = [c for shard in shards for b in shard for c in b]
    assert len(flat) == len(set(flat))  # no caption on two ranks
    assert all(len(b) == 8 for shard in shards for b in shard)  # drop_last: full batches only


def test_caption_batch_larger_than_images_is_an_error() -> None:
    with pytest.raises(DataError, match=r"batch_size 4 must lie in 1\.\.3"):
        CaptionBatchSampler([0, 0, 1, 2], 4)


def test_rank_must_be_below_world_size() -> None:
    with pytest.raises(DataError, match=r"rank 2 is outside 0\.\.1"):
        IndexBatchSampler(10, 2, rank=2, world_size=2)
