"""The ``retrieval`` metric group on query-corpus data: a pair table (with explicit negatives) and caption-image
data get MRR@10, nDCG@10 and MAP@R from the same scores a direct computation gives."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from pairsim.data.types import CaptionImages, PairTable
from pairsim.evaluate import evaluate_split, query_corpus
from pairsim.metrics.retrieval import query_corpus_metrics


def test_pair_table_as_queries_and_corpus(make_model: Callable[..., Any], texts: list[str]) -> None:
    a, b = texts[:4], texts[::-1]  # 4 queries, 4 corpus items
    table = PairTable(a=[a[0], a[0], a[1], a[2], a[3]], b=[b[0], b[1], b[1], b[2], b[3]], labels=[1, 1, 1, 0, 1],
                      negatives=None)  # fmt: skip
    queries, corpus, relevant = query_corpus(table)
    assert queries == a and corpus == b and relevant == [[0, 1], [1], [], [3]]
    model = make_model("lstm", head="cosine")
    config = SimpleNamespace(metrics=["retrieval"], batch_size=8)
    metrics, _ = evaluate_split(model, table, config, split="test", calibrate=False)
    sim = model.head.matrix(model.encode_a(queries), model.encode_b(corpus)).numpy()
    expected = query_corpus_metrics(sim, relevant, higher_is_similar=True)
    assert metrics == pytest.approx(expected)
    assert metrics["n_queries"] == 3 and {"mrr@10", "ndcg@10", "map@r", "recall@10"} <= set(metrics)


def test_negatives_join_the_corpus() -> None:
    table = PairTable(a=["q1", "q2"], b=["p1", "p2"], labels=[1.0, 1.0], negatives=[["p2", "n1"], ["n2", "n1"]])
    _, corpus, relevant = query_corpus(table)
    assert corpus == ["p1", "p2", "n1", "n2"] and relevant == [[0], [1]]


def test_caption_images_get_both_directions(make_model: Callable[..., Any], texts: list[str]) -> None:
    data = CaptionImages(
        images=texts[:3],
        image_ids=["i0", "i1", "i2"],
        captions=[texts[3], texts[2], texts[1], texts[0], texts[2]],
        caption_image=[0, 0, 1, 2, 2],
    )  # fmt: skip  (text "images": an LSTM reads both sides)
    model = make_model("lstm", head="cosine")
    metrics, _ = evaluate_split(model, data, SimpleNamespace(metrics=["retrieval"], batch_size=8), split="test",
                                calibrate=False)  # fmt: skip
    sim = model.head.matrix(model.encode_a(data.captions), model.encode_b(data.images)).numpy()
    t2i = query_corpus_metrics(sim, [[i] for i in data.caption_image], higher_is_similar=True)
    i2t = query_corpus_metrics(sim.T, data.image_captions(), higher_is_similar=True)
    assert metrics["t2i_map@r"] == pytest.approx(t2i["map@r"]) and metrics["i2t_ndcg@10"] == pytest.approx(
        i2t["ndcg@10"]
    )
    assert metrics["t2i_mrr@10"] == pytest.approx(t2i["mrr@10"]) and "t2i_recall@1" in metrics
