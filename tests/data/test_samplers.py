"""Tests of pairsim.data.samplers: balanced pairs, triplets, P x K, aligned and episode batches; fresh per epoch,
reproducible, rank-aware and resumable through :class:`~pairsim.data.pipeline.Batches`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pairsim.data.pipeline import Batches
from pairsim.data.samplers import (
    SAMPLERS,
    AlignedConfig,
    Consumes,
    Draw,
    EpisodesConfig,
    PairsConfig,
    PKConfig,
    TripletsConfig,
    balanced_pairs,
    chunk,
    fixed_pairs,
)
from pairsim.data.split import rng
from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits
from pairsim.errors import ConfigError, DataError
from pairsim.images import load_image

PAIRS = Consumes(("a", "b"), "binary")
EPISODES = Consumes(("a",), "episode", sampler="episodes")


class Items:
    """A tower stand-in for index checks: items are integers, features are the integers."""

    modality = None

    def featurize(self, items: Any, train: bool = False, rng: Any = None) -> list[Any]:
        return list(items)

    def collate(self, features: Any) -> Any:
        return np.asarray(features)


def draw(name: str, split: Any, seed: int = 0, epoch: int = 0, **kwargs: Any) -> list[Any]:
    fn = SAMPLERS.get(name)
    options = kwargs.pop("options", None) or fn.Config()
    return fn(split, rng(seed, epoch, fn.stream), epoch, Draw(options=options, **{"batch_size": 8, **kwargs}))


# -- pairs and triplets ---------------------------------------------------------------------------------------
def test_pairs_are_balanced_and_correct_on_omniglot(omniglot_slice: Splits[LabelledItems]) -> None:
    data = omniglot_slice.train
    pairs, y = balanced_pairs(data, 4000, 0.5, rng(0))
    a, b = pairs[:, 0], pairs[:, 1]
    labels = np.asarray(data.labels)
    assert abs(y.mean() - 0.5) < 0.02
    assert np.array_equal(labels[a] == labels[b], y == 1.0)  # label 1 exactly when the items are one character
    assert not np.any(a == b)  # a positive never pairs an item with itself
    assert len(np.unique(labels[a])) > 0.8 * len(set(data.labels))  # pairs cover most characters


def test_positive_fraction_is_configurable(faces: Splits[LabelledItems]) -> None:
    batches = draw("pairs", faces.train, options=PairsConfig(per_epoch=1000, positive_fraction=0.25), batch_size=1000)
    assert batches[0].target.sum() == 250


def test_same_seed_same_pairs_new_epoch_new_pairs(faces: Splits[LabelledItems]) -> None:
    def rows(seed: int, epoch: int) -> np.ndarray:
        return np.concatenate(
            [r.index for r in Batches(faces.train, PAIRS, (Items(),) * 2, seed=seed, batch_size=8).rows(epoch)]
        )

    assert np.array_equal(rows(5, 0), rows(5, 0)) and np.array_equal(rows(5, 1), rows(5, 1))
    assert not np.array_equal(rows(5, 0), rows(5, 1))
    assert not np.array_equal(rows(6, 0), rows(5, 0))


def test_eval_rows_ignore_the_epoch_and_keep_every_row(faces: Splits[LabelledItems]) -> None:
    feed = Batches(faces.test, PAIRS, (Items(),) * 2, batch_size=7, train=False)
    assert all(np.array_equal(u.index, v.index) for u, v in zip(feed.rows(0), feed.rows(3), strict=True))
    assert sum(len(r.index) for r in feed.rows(0)) == len(faces.test)


def test_ranks_cut_each_global_batch_and_resume_skips_batches(faces: Splits[LabelledItems]) -> None:
    whole = Batches(faces.train, PAIRS, (Items(),) * 2, batch_size=8, seed=3)
    ranks = [Batches(faces.train, PAIRS, (Items(),) * 2, batch_size=8, seed=3, rank=r, world_size=2) for r in range(2)]
    for epoch in (0, 1):
        for step, parts in enumerate(zip(*(r.rows(epoch) for r in ranks), strict=True)):
            assert np.array_equal(np.concatenate([p.index for p in parts]), whole.rows(epoch)[step].index)
    all_a = [b[0].tolist() for b in whole.epoch(1)]
    assert [b[0].tolist() for b in whole.epoch(1, start=4)] == all_a[4:]


def test_triplets_have_a_true_positive_and_negative(omniglot_slice: Splits[LabelledItems]) -> None:
    data = omniglot_slice.val
    t = np.concatenate([r.index for r in draw("triplets", data, options=TripletsConfig(per_epoch=500), seed=2)])
    labels = np.asarray(data.labels)
    assert np.all(labels[t[:, 0]] == labels[t[:, 1]]) and np.all(t[:, 0] != t[:, 1])
    assert np.all(labels[t[:, 0]] != labels[t[:, 2]])
    again = np.concatenate(
        [r.index for r in draw("triplets", data, options=TripletsConfig(per_epoch=500), seed=2, epoch=1)]
    )
    assert not np.array_equal(t, again)


def test_fixed_pairs_table(faces: Splits[LabelledItems]) -> None:
    table = fixed_pairs(faces.test, num_pairs=200, seed=0)
    assert len(table) == 200 and sum(table.labels) == 100 and table.modality == "image"
    subject = {path: label for path, label in zip(faces.test.items, faces.test.labels, strict=True)}
    assert all((subject[a] == subject[b]) == (y == 1.0) for a, b, y in zip(table.a, table.b, table.labels, strict=True))
    assert fixed_pairs(faces.test, num_pairs=200, seed=0).a == table.a


def test_a_class_with_one_example_cannot_give_pairs() -> None:
    data = LabelledItems(items=["a", "b", "c"], labels=[0, 0, 1], modality="text")
    with pytest.raises(DataError, match="train: class 1 has 1 example"):
        draw("pairs", data, where="train")
    with pytest.raises(DataError, match="val: the split is empty"):
        draw("triplets", LabelledItems(items=[], labels=[]), where="val")


def test_chunk_shuffles_when_training_and_keeps_everything_otherwise() -> None:
    index = np.arange(10)[:, None]
    train = chunk(index, None, Draw(options=None, batch_size=4), rng(0))
    assert [len(b.index) for b in train] == [4, 4] and len({int(i) for b in train for i in b.index[:, 0]}) == 8
    kept = chunk(index, None, Draw(options=None, batch_size=4, train=False), rng(0))
    assert [b.index[:, 0].tolist() for b in kept] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


# -- P x K ---------------------------------------------------------------------------------------------------
def test_pk_batches_hold_p_classes_of_k(omniglot_slice: Splits[LabelledItems]) -> None:
    labels = omniglot_slice.train.labels
    batches = draw("pk", omniglot_slice.train, options=PKConfig(classes_per_batch=6, samples_per_class=4))
    assert len(batches) == len(labels) // 24
    for batch in batches:
        items = batch.index[:, 0].tolist()
        classes = [labels[i] for i in items]
        assert len(items) == 24 and len(set(classes)) == 6 and batch.target.tolist() == classes
        assert all(classes.count(c) == 4 for c in set(classes))
        assert len(set(items)) == 24  # classes have 20 drawings >= K: no repeats
    seen = {labels[i] for b in batches for i in b.index[:, 0]}
    assert len(seen) == len(set(labels))  # an epoch visits every class


def test_pk_sampler_needs_enough_classes() -> None:
    data = LabelledItems(items=list(range(6)), labels=[0, 0, 1, 1, 2, 2], modality="text")
    with pytest.raises(DataError, match="need 4 classes with at least 2 items, found 3"):
        draw("pk", data, options=PKConfig(classes_per_batch=4, samples_per_class=2))


# -- aligned (caption-image and similar table rows) -----------------------------------------------------------
def keyed(caption_image: list[int]) -> PairTable:
    return CaptionImages(
        images=[f"{i}.jpg" for i in range(max(caption_image) + 1)], image_ids=[str(i) for i in range(max(caption_image) + 1)],
        captions=[f"c{c}" for c in range(len(caption_image))], caption_image=caption_image,
    ).to_pairs()  # fmt: skip


def test_caption_batches_never_repeat_an_image(flickr_slice: Splits[CaptionImages]) -> None:
    data = flickr_slice.train
    assert len(data.images) >= 40 and len(data.captions) == 5 * len(data.images)
    for epoch in range(3):
        batches = draw("aligned", data.to_pairs(), epoch=epoch, options=AlignedConfig(drop_last=False), batch_size=16)
        for batch in batches:
            images = [data.caption_image[c] for c in batch.index[:, 1]]
            assert len(images) == len(set(images)), "two captions of one image in a batch"
            assert batch.index[:, 0].tolist() == batch.index[:, 1].tolist()  # row i of a matches row i of b
        assert sorted(int(c) for b in batches for c in b.index[:, 0]) == list(range(len(data.captions)))
        assert sum(len(b.index) == 16 for b in batches) >= len(batches) - 2


def test_caption_batches_worst_case_few_images() -> None:
    caption_image = [0] * 5 + [1] * 5 + [2]  # image 2 has one caption: the tail can only pair 0 with 1
    batches = draw("aligned", keyed(caption_image), seed=4, options=AlignedConfig(drop_last=False), batch_size=3)
    for batch in batches:
        assert len({caption_image[c] for c in batch.index[:, 0]}) == len(batch.index)
    assert sorted(int(c) for b in batches for c in b.index[:, 0]) == list(range(11))


@pytest.mark.parametrize("images, captions, batch", [(100, 5, 63), (30, 5, 15), (12, 3, 12)])
def test_caption_batches_rank_aware(images: int, captions: int, batch: int) -> None:
    caption_image = np.random.default_rng(0).permutation(np.repeat(np.arange(images), captions)).tolist()
    data = keyed(caption_image)
    consumes = Consumes(("a", "b"), sampler="aligned")
    single = Batches(data, consumes, (Items(),) * 2, batch_size=batch, seed=1).rows(0)
    ranks = [
        Batches(data, consumes, (Items(),) * 2, batch_size=batch, seed=1, rank=r, world_size=3).rows(0)
        for r in range(3)
    ]
    assert len(ranks[0]) == len(ranks[1]) == len(ranks[2]) == len(single) > 0
    for step, parts in enumerate(zip(*ranks, strict=True)):
        joined = np.concatenate([p.index for p in parts])
        assert np.array_equal(joined, single[step].index) and len(joined) == batch
        assert len({caption_image[c] for c in joined[:, 0]}) == batch  # no image twice in a global step


def test_caption_batch_larger_than_images_is_an_error() -> None:
    with pytest.raises(DataError, match=r"global batch size 4 must lie in 1\.\.3"):
        draw("aligned", keyed([0, 0, 1, 2]), batch_size=4)


# -- episodes ------------------------------------------------------------------------------------------------
def index_items(data: LabelledItems) -> LabelledItems:
    return LabelledItems(items=list(range(len(data))), labels=data.labels, groups=data.groups)


def episode_rows(data: LabelledItems, options: EpisodesConfig, seed: int = 0, epoch: int = 0) -> list[Any]:
    return Batches(data, EPISODES, (Items(),) * 2, options, seed=seed).rows(epoch)


@pytest.mark.parametrize("within_group", [True, False])
def test_episodes_hold_n_classes_of_k_plus_q(omniglot_slice: Splits[LabelledItems], within_group: bool) -> None:
    data = index_items(omniglot_slice.train)  # Arcadian + Armenian
    options = EpisodesConfig(n_way=5, k_shot=2, n_query=3, within_group=within_group, episodes_per_epoch=12)
    groups = set()
    for rows in episode_rows(data, options):
        items, way, query = rows.index[:, 0], rows.target[:, 0], rows.target[:, 1]
        assert len(items) == 5 * (2 + 3) and len(set(items.tolist())) == 25  # no item twice
        assert sorted(set(way.tolist())) == list(range(5))
        classes = {w: {data.labels[i] for i in items[way == w]} for w in range(5)}
        assert all(len(c) == 1 for c in classes.values()) and len({c.pop() for c in classes.values()}) == 5
        for w in range(5):
            assert (query[way == w] == 0).sum() == 2 and (query[way == w] == 1).sum() == 3
        episode_groups = {data.groups[i] for i in items}
        groups |= episode_groups
        if within_group:
            assert len(episode_groups) == 1
    assert len(groups) == 2


def test_episodes_are_reproducible_and_resumable(omniglot_slice: Splits[LabelledItems]) -> None:
    data = index_items(omniglot_slice.train)
    options = EpisodesConfig(n_way=5, episodes_per_epoch=6)
    first = [r.index for r in episode_rows(data, options, seed=3)]
    assert all(np.array_equal(u, v.index) for u, v in zip(first, episode_rows(data, options, seed=3), strict=True))
    assert not np.array_equal(first[0], episode_rows(data, options, seed=3, epoch=1)[0].index)
    feed = Batches(data, EPISODES, (Items(),) * 2, options, seed=3)
    assert [b[0].tolist() for b in feed.epoch(0, start=2)] == [f[:, 0].tolist() for f in first[2:]]


def test_rotations_add_rotated_classes(omniglot_slice: Splits[LabelledItems]) -> None:
    data = omniglot_slice.test
    options = EpisodesConfig(n_way=20, k_shot=1, n_query=1, rotations=[90, 180, 270], episodes_per_epoch=20)
    feed = Batches(data, EPISODES, (Items(),) * 2, options)
    assert len(feed.split) == 4 * len(data) and len(set(feed.split.labels)) == 4 * len(set(data.labels))
    copies = {int(i) // len(data) for r in feed.rows(0) for i in r.index[:, 0]}
    assert copies == {0, 1, 2, 3}  # episodes use rotated classes too
    j = len(data) * 2 + 5  # item 5 rotated by 180 degrees
    assert np.array_equal(np.asarray(feed.split.items[j]), np.rot90(np.asarray(load_image(feed.split.items[5])), 2))


def test_episode_options_are_checked() -> None:
    from pairsim.config import from_dict
    from pairsim.data.samplers import SamplerConfig

    with pytest.raises(ConfigError, match=r"rotations\[0\]: expected an integer in \[90, 270\], got 45"):
        from_dict(SamplerConfig, {"name": "episodes", "rotations": [45]})
    with pytest.raises(ConfigError, match="rotations: expected degrees among 90, 180, 270"):
        from_dict(SamplerConfig, {"name": "episodes", "rotations": [100]})
    with pytest.raises(ConfigError, match=r"sampler\.n_way: expected an integer in \[2, 1048576\], got 1"):
        from_dict(SamplerConfig, {"name": "episodes", "n_way": 1}, where="sampler")
    with pytest.raises(ConfigError, match=r"positive_fraction: expected a number in \[0, 1\], got 1\.5"):
        from_dict(SamplerConfig, {"name": "pairs", "positive_fraction": 1.5})
    with pytest.raises(ConfigError, match=r"samples_per_class: expected an integer in \[2, 1048576\], got 1"):
        from_dict(SamplerConfig, {"name": "pk", "samples_per_class": 1})
    with pytest.raises(
        ConfigError,
        match="unknown sampler 'quads'; valid samplers: aligned, episodes, hard_negatives, margins, pairs, pk",
    ):
        from_dict(SamplerConfig, {"name": "quads"})
    with pytest.raises(DataError, match="within_group needs items with groups"):
        episode_rows(
            LabelledItems(items=list(range(4)), labels=[0, 0, 1, 1]),
            EpisodesConfig(n_way=2, n_query=1, within_group=True),
        )


def test_each_process_gets_whole_episodes(omniglot_slice: Splits[LabelledItems]) -> None:
    data = index_items(omniglot_slice.train)
    options = EpisodesConfig(n_way=4, k_shot=1, n_query=2, episodes_per_epoch=3)
    ranks = [Batches(data, EPISODES, (Items(),) * 2, options, rank=r, world_size=2).rows(0) for r in range(2)]
    for parts in zip(*ranks, strict=True):
        for rows in parts:  # each rank: one whole 4-way episode, ways 0..3, one support and two queries each
            assert len(rows.index) == 12 and sorted(set(rows.target[:, 0].tolist())) == [0, 1, 2, 3]
            assert rows.target[:, 1].tolist() == [0] * 4 + [1] * 8
        assert not np.array_equal(parts[0].index, parts[1].index)  # two different episodes
