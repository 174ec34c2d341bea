"""Hard-negative mining and retrieve-then-rerank (pairsim/search/mine.py, rerank.py, retrieve.py)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim import HEADS
from pairsim.errors import ConfigError
from pairsim.search.mine import mine_negatives, write_table
from pairsim.search.rerank import rerank
from pairsim.search.retrieve import retrieve


class TableModel:
    """A bi-encoder whose embeddings are given by hand (text -> vector), with a cosine head."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
        self.device = torch.device("cpu")

    def encode_a(self, items: list[str], *, batch_size: int = 64) -> torch.Tensor:
        return torch.tensor([self.vectors[t] for t in items])

    encode_b = encode_a


def _unit(angle_deg: float) -> list[float]:
    rad = torch.tensor(angle_deg) * torch.pi / 180
    return [float(torch.cos(rad)), float(torch.sin(rad))]


# anchors q1, q2 and items at known angles from them: cosine falls as the angle grows
VECTORS = {
    "q1": _unit(0), "p1": _unit(10), "p1b": _unit(2), "near1": _unit(5), "same-key1": _unit(1), "far1": _unit(40),
    "mid1": _unit(20), "q2": _unit(180), "p2": _unit(185), "near2": _unit(182), "far2": _unit(220),
}  # fmt: skip


def test_negatives_are_never_a_positive_the_anchor_or_a_same_key_item() -> None:
    model = TableModel(VECTORS)
    anchors, positives, keys = ["q1", "q1", "q2"], ["p1", "p1b", "p2"], ["k1", "k1", "k2"]
    corpus = [t for t in VECTORS]
    corpus_keys = ["k1" if t == "same-key1" else f"other-{t}" for t in corpus]
    rows, stats = mine_negatives(model, anchors, positives, keys=keys, corpus=corpus, corpus_keys=corpus_keys,
                                 num_negatives=3, k=len(corpus), backend="exact")  # fmt: skip
    assert [r["anchor"] for r in rows] == ["q1", "q1", "q2"]
    for row in rows:
        negatives = [row[f"negative_{i}"] for i in (1, 2, 3)]
        forbidden = {"q1", "p1", "p1b", "same-key1"} if row["anchor"] == "q1" else {"q2", "p2"}
        assert not forbidden & set(negatives)
    # the hardest allowed items first: for q1, near1 (5 deg) then mid1 (20) then far1 (40)
    assert [rows[0][f"negative_{i}"] for i in (1, 2, 3)] == ["near1", "mid1", "far1"]
    assert rows[0]["key"] == "k1" and stats.rows == 3 and stats.positives > 0


def test_skip_and_margins_drop_candidates_too_close_to_the_positive() -> None:
    model = TableModel(VECTORS)
    corpus = ["near1", "mid1", "far1", "p1"]
    rows, _ = mine_negatives(model, ["q1"], ["p1"], corpus=corpus, num_negatives=1, k=4, skip=1, backend="exact")
    assert rows[0]["negative_1"] == "mid1"  # near1 (rank 1) skipped; p1 never a negative
    # cos(q1, p1) = cos 10 deg = 0.985; near1 (0.996) and mid1 (0.940) are within 0.1 of it, far1 (0.766) is not
    rows, stats = mine_negatives(model, ["q1"], ["p1"], corpus=corpus, num_negatives=1, k=4, margin=0.1)
    assert rows[0]["negative_1"] == "far1" and stats.margin == 2
    rows, _ = mine_negatives(model, ["q1"], ["p1"], corpus=corpus, num_negatives=1, k=4, relative_margin=0.05)
    assert rows[0]["negative_1"] == "far1"  # 0.940 > 0.95 * 0.985 = 0.936: mid1 too close as well
    rows, stats = mine_negatives(model, ["q1"], ["p1"], corpus=corpus, num_negatives=2, k=4, margin=0.1)
    assert rows == [] and stats.dropped_rows == 1  # only one negative left: the row is dropped


def test_the_default_corpus_is_the_positives_and_keys_follow_their_rows() -> None:
    model = TableModel(VECTORS)
    rows, _ = mine_negatives(model, ["q1", "q2", "p1"], ["p1", "p2", "same-key1"], keys=[1, 2, 1],
                             num_negatives=1, k=3)  # fmt: skip
    assert rows[0]["negative_1"] == "p2"  # same-key1 is under q1's key; p1 is its positive
    assert rows[1]["negative_1"] not in {"p2", "q2"}


class ScoreModel:
    """A pair scorer by hand: score = a lookup of the pair (a cross-encoder stand-in)."""

    def __init__(self, scores: dict[tuple[str, str], float]) -> None:
        self.scores = scores
        self.head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
        self.config = type("C", (), {"threshold": 0.5})()

    def score(self, a: list[str], b: list[str], *, batch_size: int = 64) -> torch.Tensor:
        return torch.tensor([self.scores.get((x, y), 0.0) for x, y in zip(a, b, strict=True)])


def test_a_cross_encoder_filter_drops_what_it_scores_near_the_positive() -> None:
    model = TableModel(VECTORS)
    cross = ScoreModel({("q1", "p1"): 0.9, ("q1", "near1"): 0.95, ("q1", "mid1"): 0.3})
    rows, stats = mine_negatives(model, ["q1"], ["p1"], corpus=["near1", "mid1", "p1"], num_negatives=1, k=3,
                                 cross_encoder=cross, cross_margin=0.1)  # fmt: skip
    assert rows[0]["negative_1"] == "mid1" and stats.cross == 1


def test_the_mined_table_has_the_columns_recipes_read(tmp_path: Path) -> None:
    rows, _ = mine_negatives(TableModel(VECTORS), ["q1"], ["p1"], corpus=["near1", "mid1"], num_negatives=2, k=2)
    write_table(rows, tmp_path / "mined.csv")
    with open(tmp_path / "mined.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["anchor", "positive", "negative_1", "negative_2"]
    assert table == [{"anchor": "q1", "positive": "p1", "negative_1": "near1", "negative_2": "mid1"}]


def test_rerank_orders_by_the_cross_encoder() -> None:
    bi = TableModel(VECTORS)
    corpus = ["near1", "mid1", "far1", "near2"]
    cross = ScoreModel({("q1", "near1"): 0.2, ("q1", "mid1"): 0.9, ("q1", "far1"): 0.6})
    table = rerank(bi, cross, ["q1"], corpus, k=3, backend="exact")
    assert [r["item"] for r in table] == ["mid1", "far1", "near1"]  # the cross-encoder's order
    assert [r["retrieval_rank"] for r in table] == [2, 3, 1]  # the bi-encoder's top 3, near2 not retrieved
    assert [r["same"] for r in table] == [True, True, False]
    assert [r["item"] for r in rerank(bi, cross, ["q1"], corpus, k=3, top=1)] == ["mid1"]


def test_rerank_with_a_real_cross_encoder(tiny_bert_dir: Path, make_model: Any) -> None:
    from pairsim.model import PairModel

    bi = make_model("lstm").eval()
    torch.manual_seed(0)
    cross = PairModel.from_config({
        "tower": {"name": "pair_tokens", "model": str(tiny_bert_dir)},
        "head": {"name": "cross_encoder", "model": str(tiny_bert_dir)},
    }).eval()  # fmt: skip
    queries, corpus = ["how old are you"], ["what is your age", "the cat sat on the mat", "a dog runs in the park"]
    table = rerank(bi, cross, queries, corpus, k=3, backend="exact")
    expected = cross.score(queries * 3, corpus)
    assert [r["item"] for r in table] == [corpus[i] for i in expected.argsort(descending=True).tolist()]
    torch.testing.assert_close(torch.tensor([r["score"] for r in table]), expected.sort(descending=True).values)
    with pytest.raises(ConfigError, match="needs a bi-encoder"):
        retrieve(cross, queries, corpus, k=2)
