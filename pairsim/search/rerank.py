"""Retrieve-then-rerank: a bi-encoder retrieves each query's top-k corpus items, a cross-encoder rescores them.

Example:
    >>> # table = rerank(bi, cross, ["how do I reset a password"], corpus, k=20)
    >>> # table[0]  # {"query": ..., "rank": 1, "item": ..., "score": cross score, "retrieval_score": ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from pairsim.errors import ConfigError
from pairsim.search.retrieve import Backend, retrieve


def rerank(
    bi_encoder: Any,
    cross_encoder: Any,
    queries: Sequence[str],
    corpus: Sequence[str],
    *,
    k: int = 20,
    top: int | None = None,
    backend: Backend = "auto",
    batch_size: int = 64,
) -> list[dict[str, Any]]:
    """Each query's top ``k`` corpus items by the bi-encoder, reordered by the cross-encoder's scores.

    Args:
        bi_encoder: A bi-encoder (see :func:`~pairsim.search.retrieve.retrieve`).
        cross_encoder: A model scoring pairs (``score(items_a, items_b)`` and ``head.higher_is_similar``),
            usually a cross-encoder; any pairsim model works.
        queries: The queries (side a of both models).
        corpus: The items to search (side b).
        k: Candidates retrieved per query.
        top: Rows kept per query after reranking (None: all ``k``).
        backend: The retrieval search (``auto``, ``exact``, ``faiss``).
        batch_size: Inputs per encoding batch.

    Returns:
        One row per (query, kept item), queries in order, items best first by the cross-encoder:
        ``{"query", "rank", "item", "score", "retrieval_rank", "retrieval_score", "same"}`` (``same``: the
        cross-encoder's decision at its calibrated threshold, None without one).

    Raises:
        ConfigError: ``top`` < 1, or a bi-encoder that is a cross-encoder.
    """
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ConfigError(f"top: expected a positive integer, got {top!r}")
    first_scores, rows = retrieve(bi_encoder, queries, corpus, k=k, backend=backend, batch_size=batch_size)
    q_index = [q for q in range(len(queries)) for _ in range(rows.shape[1])]
    pairs_a = [queries[q] for q in q_index]
    pairs_b = [corpus[int(r)] for r in rows.reshape(-1)]
    scores = cross_encoder.score(pairs_a, pairs_b, batch_size=batch_size).reshape(rows.shape)  # (Q, k)
    higher = cross_encoder.head.higher_is_similar
    threshold = getattr(cross_encoder.config, "threshold", None)
    table = []
    for q in range(len(queries)):
        order = torch.argsort(scores[q], descending=higher, stable=True)  # ties keep the retrieval order
        for rank, j in enumerate(order[: top or len(order)].tolist(), start=1):
            s = scores[q, j]
            same = None if threshold is None else bool(cross_encoder.head.is_similar(s, threshold))
            table.append({"query": queries[q], "rank": rank, "item": corpus[int(rows[q, j])], "score": float(s),
                          "retrieval_rank": j + 1, "retrieval_score": float(first_scores[q, j]), "same": same})  # fmt: skip
    return table
