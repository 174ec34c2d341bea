"""Tests of pairsim.data.episodes and the official Omniglot one-shot runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pairsim.data.episodes import Episode, EpisodeSampler
from pairsim.data.sources import one_shot_runs
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError


def index_items(data: LabelledItems) -> LabelledItems:
    """The same labels and groups with items replaced by their index (to check what an episode holds)."""
    return LabelledItems(items=list(range(len(data))), labels=data.labels, groups=data.groups)


@pytest.mark.parametrize(("n_way", "k_shot", "n_query"), [(20, 1, 1), (5, 2, 3)])
def test_every_query_has_exactly_one_correct_class(
    omniglot_slice: Splits[LabelledItems], n_way: int, k_shot: int, n_query: int
) -> None:
    data = index_items(omniglot_slice.test)  # evaluation alphabet Angelic (20 characters)
    sampler = EpisodeSampler(data, n_way=n_way, k_shot=k_shot, n_query=n_query, num_episodes=15, seed=0)
    for ep in sampler.episodes():
        assert len(ep.support) == n_way * k_shot and len(ep.query) == n_way * n_query
        assert ep.n_way == n_way and ep.k_shot == k_shot
        support_class = [data.labels[i] for i in ep.support]
        for q, target in zip(ep.query, ep.targets, strict=True):
            ways = {ep.support_labels[j] for j, c in enumerate(support_class) if c == data.labels[q]}
            assert ways == {target}  # the query's class is in exactly one way, the target
            assert q not in ep.support
        assert len(set(support_class)) == n_way
        assert len({data.groups[i] for i in ep.support + ep.query}) == 1  # within one alphabet
        assert ep.group == data.groups[ep.support[0]]


def test_episodes_are_reproducible_and_change_with_the_epoch(omniglot_slice: Splits[LabelledItems]) -> None:
    data = index_items(omniglot_slice.train)
    sampler = EpisodeSampler(data, n_way=5, num_episodes=4, seed=3)
    first = [ep.support for ep in sampler.episodes()]
    assert first == [ep.support for ep in EpisodeSampler(data, n_way=5, num_episodes=4, seed=3).episodes()]
    sampler.set_epoch(1)
    assert first != [ep.support for ep in sampler.episodes()]
    groups = {ep.group for ep in EpisodeSampler(data, n_way=5, num_episodes=30, seed=0).episodes()}
    assert groups == {"Arcadian", "Armenian"}


def test_too_few_classes_for_an_episode() -> None:
    data = LabelledItems(items=list(range(7)), labels=[0, 0, 1, 1, 2, 2, 2], groups=list("aaaabbb"))
    with pytest.raises(DataError, match=r"one group needs 3 classes with 2 items each .* largest has 2 such"):
        EpisodeSampler(data, n_way=3)
    assert EpisodeSampler(data, n_way=2)[0].group == "a"
    assert EpisodeSampler(data, n_way=3, within_group=False)[0].n_way == 3
    with pytest.raises(DataError, match="within_group needs items with groups"):
        EpisodeSampler(LabelledItems(items=[1, 2], labels=[0, 1]), n_way=2)


def test_groups_that_are_the_classes_need_within_group_off(faces: Splits[LabelledItems]) -> None:
    with pytest.raises(DataError, match=r"every group holds a single class .*use within_group: false"):
        EpisodeSampler(faces.train, n_way=5)
    episode = EpisodeSampler(faces.train, n_way=5, within_group=False, seed=0)[0]
    assert episode.n_way == 5 and episode.group is None


def test_episode_checks_its_targets() -> None:
    with pytest.raises(DataError, match="query target 3 is not a support label"):
        Episode(support=["a", "b"], support_labels=[0, 1], query=["c"], targets=[3])


def test_official_one_shot_runs(data_dir: Path) -> None:
    runs = one_shot_runs(data_dir / "omniglot" / "all_runs.zip")
    assert len(runs) == 20
    for ep in runs:
        assert len(ep.support) == 20 and len(ep.query) == 20 and ep.n_way == 20
        assert sorted(ep.targets) == list(range(20))  # each training class is the answer of one test item
        assert ep.support[0].shape == (105, 105) and ep.support[0].dtype == bool
        assert ep.query[0].mean() > 0.8  # True = white background, as in the npz files
    # run01/class_labels.txt: item01 -> class08, item02 -> class09, item03 -> class02
    assert runs[0].targets[:3] == [7, 8, 1] and runs[0].group == "run01"
    assert not np.array_equal(runs[0].support[0], runs[1].support[0])


def test_missing_runs_zip_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"one-shot runs not found: .*all_runs.zip"):
        one_shot_runs(tmp_path / "all_runs.zip")
