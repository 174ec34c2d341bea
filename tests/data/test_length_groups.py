"""Tests of length-grouped training batches (pairsim.data.length_groups and the samplers' ``group_by_length``):
batches pad far less than random ones, each row once per epoch, the same batches for a seed and epoch (so a
resumed run sees the same ones), keys kept apart for in-batch negatives, refusals for what cannot be grouped."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from pairsim.config import from_dict
from pairsim.data.hard_negatives import HardNegativesConfig
from pairsim.data.length_groups import grouped_batches, row_lengths
from pairsim.data.pipeline import Batches
from pairsim.data.samplers import (
    AlignedConfig,
    Consumes,
    PairsConfig,
    SamplerConfig,
    TripletsConfig,
)
from pairsim.data.split import rng
from pairsim.data.types import LabelledItems, PairTable
from pairsim.errors import ConfigError
from pairsim.towers.lstm import LSTMConfig, LSTMTower

PAIRS = Consumes(("a", "b"), "binary")
ALIGNED = Consumes(("a", "b"), sampler="aligned")
WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "ran",
    "on",
    "under",
    "mat",
    "table",
    "red",
    "blue",
    "big",
    "small",
    "one",
    "two",
]


def padded(batches: list[np.ndarray], lengths: np.ndarray) -> int:
    """Tokens a batch padded to its longest row costs, summed over batches."""
    return int(sum(lengths[b].max() * len(b) for b in batches))


def random_batches(n: int, size: int, gen: np.random.Generator) -> list[np.ndarray]:
    order = gen.permutation(n)
    return [order[i : i + size] for i in range(0, n - size + 1, size)]


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct sentences of 2 to 40 words."""
    gen = np.random.default_rng(seed)
    return [f"s{i} " + " ".join(gen.choice(WORDS, size=int(gen.integers(1, 40)))) for i in range(n)]


@pytest.fixture
def lstm() -> LSTMTower:
    tower = LSTMTower(LSTMConfig(name="lstm", embed_dim=4, hidden_dim=4, max_length=64))
    tower.adapt([*WORDS, *(f"s{i}" for i in range(400))])
    return tower


# -- the grouping itself ------------------------------------------------------------------------------------
def test_grouped_batches_pad_less_than_random_ones_and_keep_every_row_once() -> None:
    lengths = np.random.default_rng(1).integers(3, 70, size=1000)  # (N,)
    grouped = grouped_batches(lengths, batch_size=32, megabatch=10, gen=np.random.default_rng(0))
    baseline = random_batches(1000, 32, np.random.default_rng(0))
    assert len(grouped) == len(baseline) == 1000 // 32 and all(len(b) == 32 for b in grouped)
    rows = np.concatenate(grouped)
    assert len(np.unique(rows)) == len(rows)  # each row at most once; 1000 - 31 * 32 = 8 rows dropped
    assert padded(grouped, lengths) < 0.65 * padded(baseline, lengths)
    spread = np.mean([np.ptp(lengths[b]) for b in grouped])  # within-batch length range: a few tokens
    assert spread < 0.2 * np.mean([np.ptp(lengths[b]) for b in baseline])
    assert lengths[grouped[0]].max() == lengths.max()  # the longest batch first (fails early if too large)


def test_grouped_batches_are_a_pure_function_of_the_generator() -> None:
    lengths = np.random.default_rng(1).integers(3, 70, size=300)

    def batches(seed: int, epoch: int) -> list[list[int]]:
        return [b.tolist() for b in grouped_batches(lengths, batch_size=16, megabatch=5, gen=rng(seed, epoch))]

    assert batches(0, 1) == batches(0, 1)
    assert batches(0, 1) != batches(0, 2) and batches(0, 1) != batches(1, 1)
    assert sorted(map(sorted, batches(0, 1))) != sorted(map(sorted, batches(0, 2)))  # new groups, not a new order


def test_row_length_is_the_longest_slot() -> None:
    table = {"a": np.array([3, 9, 4]), "b": np.array([5, 1, 2, 8])}
    index = np.array([[0, 3], [1, 1], [2, 0]])  # (N, 2)
    assert row_lengths(index, ("a", "b"), lambda side, ix: table[side][ix]).tolist() == [8, 9, 5]


# -- through the samplers and Batches -----------------------------------------------------------------------
def test_grouped_pairs_pad_less_and_resume_at_any_batch(lstm: LSTMTower) -> None:
    a = sentences(256)
    b = [f"{t} red" for t in a]  # a paraphrase of about the same length
    table = PairTable(a=a, b=b, labels=[float(i % 2) for i in range(256)])

    def feed(group: bool) -> Batches:
        config = PairsConfig(group_by_length=group, megabatch=4)
        return Batches(table, PAIRS, (lstm, lstm), config, batch_size=16, seed=3)

    grouped, plain = list(feed(True).epoch(1)), list(feed(False).epoch(1))
    width = [sum(int(x["input_ids"].shape[1]) for x in batch[:2]) for batch in grouped]
    assert sum(width) < 0.7 * sum(sum(int(x["input_ids"].shape[1]) for x in batch[:2]) for batch in plain)
    codes = sorted(int(i) for batch in grouped for i in batch[0]["input_ids"][:, 0])  # each row's "s<i>" token
    assert codes == sorted(int(i) for batch in plain for i in batch[0]["input_ids"][:, 0])  # the same rows
    resumed = list(feed(True).epoch(1, start=5))  # a restarted process, resumed after 5 batches
    assert len(resumed) == len(grouped) - 5
    for got, want in zip(resumed, grouped[5:], strict=True):
        assert all(torch.equal(g[k], w[k]) for g, w in zip(got[:2], want[:2], strict=True) for k in g)
        assert torch.equal(got[2], want[2])


def test_grouped_triplets_of_labelled_items(lstm: LSTMTower) -> None:
    items = sentences(120)
    data = LabelledItems(items=items, labels=[i % 6 for i in range(120)], modality="text")
    consumes = Consumes(("a", "b", "b"), sampler="triplets")
    feed = Batches(data, consumes, (lstm, lstm), TripletsConfig(group_by_length=True, megabatch=8), batch_size=8)
    for anchor, positive, negative in feed.epoch(0):
        lengths = torch.stack([anchor["lengths"], positive["lengths"], negative["lengths"]]).amax(0)  # (B,)
        assert int(lengths.max() - lengths.min()) <= 20  # grouped: random triplets spread 2..40 words


def test_grouped_aligned_batches_never_repeat_a_key(lstm: LSTMTower) -> None:
    """In-batch negatives: grouping by length must not put one sentence twice in a batch, although repeated
    sentences have equal lengths and sort next to each other."""
    base = sentences(60)
    a = [base[i % 20] for i in range(60)]  # each side-a sentence three times
    b = sentences(60, seed=5)
    table = PairTable(a=a, b=b, labels=[1.0] * 60)
    config = AlignedConfig(drop_last=False, group_by_length=True, megabatch=3)
    for epoch in range(3):
        batches = list(Batches(table, ALIGNED, (lstm, lstm), config, batch_size=5, seed=epoch).epoch(epoch))
        seen = []
        for ba, bb in batches:
            first = ba["input_ids"][:, 0].tolist()  # the "s<i>" token names the sentence
            assert len(set(first)) == len(first)
            seen += [tuple(r) for r in bb["input_ids"].tolist()]
        assert len(seen) == 60 and len(set(seen)) == 60  # every pair once


def test_grouped_hard_negatives_keep_their_keys(lstm: LSTMTower) -> None:
    a, b = sentences(40), sentences(40, seed=2)
    negatives = [[b[(i + 1) % 40]] for i in range(40)]
    table = PairTable(a=a, b=b, labels=[1.0] * 40, negatives=negatives)
    consumes = Consumes(("a", "b", "b"), "keys", sampler="hard_negatives")
    config = HardNegativesConfig(group_by_length=True, megabatch=4)
    feed = Batches(table, consumes, (lstm, lstm), config, batch_size=8)
    for rows in feed.rows(0):
        r = rows.index[:, 0]  # (B,) table rows
        assert len(set(r.tolist())) == len(r)
        assert (rows.index[:, 2] == 40 + r).all()  # each row's own negative follows it
        assert (rows.target[:, 0, 0] == rows.target[:, 1, 0]).all()  # anchor and positive share the row's key
        assert (rows.target[:, :, 1] == rows.index).all()  # and the target names each slot's item
    lengths = [max(len(a[r].split()), len(b[r].split())) for rows in feed.rows(0) for r in rows.index[:, 0]]
    spread = [np.ptp(lengths[i : i + 8]) for i in range(0, len(lengths), 8)]
    assert np.mean(spread) < 15  # grouped by anchor / positive length (2..40 words at random)


def test_what_cannot_be_grouped_is_refused_in_one_line(lstm: LSTMTower) -> None:
    table = PairTable(a=sentences(40), b=sentences(40, seed=1), labels=[1.0] * 40)
    with pytest.raises(ConfigError, match=r"in-batch negatives.*sampler 'pairs'.*use sampler 'aligned'"):
        Batches(table, ALIGNED, (lstm, lstm), PairsConfig(group_by_length=True), batch_size=8)

    class Pixels:
        modality = "text"  # passes the modality check, but has no token lengths

        def featurize(self, items: Any, train: bool = False, rng: Any = None) -> list[Any]:
            return list(items)

        def collate(self, features: Any) -> Any:
            return features

    with pytest.raises(ConfigError, match="group_by_length: needs text towers"):
        Batches(table, PAIRS, (lstm, Pixels()), PairsConfig(group_by_length=True), batch_size=8)
    with pytest.raises(ConfigError, match="group_by_length"):  # no such option for P x K batches
        from_dict(SamplerConfig, {"name": "pk", "group_by_length": True}, where="sampler")
    assert from_dict(SamplerConfig, {"name": "pairs", "group_by_length": True}, where="sampler").group_by_length
