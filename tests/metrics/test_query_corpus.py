"""Query-corpus ranking metrics (Recall@K, MRR@10, nDCG@10, MAP@R) against sentence-transformers'
InformationRetrievalEvaluator on the same rankings, and by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pairsim.errors import DataError
from pairsim.metrics.retrieval import query_corpus_metrics


def _peer(scores: np.ndarray, relevant: list[list[int]], map_at: int) -> dict[str, dict[int, float]]:
    """sentence-transformers' metrics of the same score matrix (every corpus item returned as a hit)."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    cid = lambda j: f"d{j:05d}"  # noqa: E731  (zero-padded: its tie-break by id is ours by index)
    queries = {f"q{i}": f"query {i}" for i in range(len(relevant))}
    corpus = {cid(j): f"doc {j}" for j in range(scores.shape[1])}
    rel = {f"q{i}": {cid(j) for j in r} for i, r in enumerate(relevant) if r}
    evaluator = InformationRetrievalEvaluator(queries, corpus, rel, mrr_at_k=[10], ndcg_at_k=[10],
                                              precision_recall_at_k=[1, 5, 10], map_at_k=[map_at], write_csv=False)  # fmt: skip
    kept = [int(q[1:]) for q in evaluator.queries_ids]
    results = [[{"corpus_id": cid(j), "score": float(s)} for j, s in enumerate(scores[q])] for q in kept]
    return evaluator.compute_metrics(results)


@pytest.mark.parametrize("seed", [0, 1])
def test_equal_to_sentence_transformers(seed: int) -> None:
    pytest.importorskip("sentence_transformers")
    gen = np.random.default_rng(seed)
    scores = gen.normal(size=(40, 60))  # continuous scores: no ties
    relevant = [sorted(gen.choice(60, size=gen.integers(0, 6), replace=False).tolist()) for _ in range(40)]
    ours = query_corpus_metrics(scores, relevant, higher_is_similar=True)
    peer = _peer(scores, relevant, map_at=10)
    assert ours["n_queries"] == sum(1 for r in relevant if r)
    for k in (1, 5, 10):
        assert ours[f"recall@{k}"] == pytest.approx(peer["recall@k"][k], abs=1e-12)
    assert ours["mrr@10"] == pytest.approx(peer["mrr@k"][10], abs=1e-12)
    assert ours["ndcg@10"] == pytest.approx(peer["ndcg@k"][10], abs=1e-12)
    # MAP@R: the peer's MAP@k with k = R, per group of queries with R relevant items
    expected, total = 0.0, 0
    for r in sorted({len(x) for x in relevant if x}):
        group = [i for i, x in enumerate(relevant) if len(x) == r]
        sub = [relevant[i] if i in group else [] for i in range(len(relevant))]
        expected += _peer(scores, sub, map_at=r)["map@k"][r] * len(group)
        total += len(group)
    assert ours["map@r"] == pytest.approx(expected / total, abs=1e-12)


def test_distances_rank_the_other_way() -> None:
    scores = np.array([[0.1, 0.5, 0.9]])
    assert query_corpus_metrics(scores, [[0]], higher_is_similar=False)["mrr@10"] == 1.0
    assert query_corpus_metrics(scores, [[0]], higher_is_similar=True)["mrr@10"] == pytest.approx(1 / 3)


def test_by_hand() -> None:
    # one query, corpus ranked 3, 0, 2, 1, 4; relevant {0, 1}: hits at ranks 2 and 4
    scores = np.array([[0.8, 0.2, 0.5, 0.9, 0.1]])
    m = query_corpus_metrics(scores, [[0, 1]], higher_is_similar=True, ks=(1, 2, 5), cutoff=3)
    assert (m["recall@1"], m["recall@2"], m["recall@5"]) == (0.0, 0.5, 1.0)
    assert m["mrr@3"] == 0.5
    assert m["ndcg@3"] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert m["map@r"] == pytest.approx((1 / 2) / 2)  # R = 2: only rank 2 in the top 2, P@2 = 1/2


def test_bad_inputs() -> None:
    with pytest.raises(DataError, match="no query has a relevant corpus item"):
        query_corpus_metrics(np.zeros((2, 3)), [[], []], higher_is_similar=True)
    with pytest.raises(DataError, match=r"relevant\[0\] holds an index outside \[0, 2\]"):
        query_corpus_metrics(np.zeros((1, 3)), [[3]], higher_is_similar=True)
    with pytest.raises(DataError, match="relevant has 1 lists but sim has 2 query rows"):
        query_corpus_metrics(np.zeros((2, 3)), [[0]], higher_is_similar=True)
