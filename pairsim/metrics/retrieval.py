"""Cross-modal retrieval (image-caption matching, as on Flickr30k / COCO): Recall@K and median rank; and
query-corpus ranking metrics (:func:`query_corpus_metrics`: Recall@K, MRR@10, nDCG@10, MAP@R).

The input is a ``(n_captions, n_images)`` score matrix where caption ``i`` describes image
``caption_image[i]``; an image usually has several captions (5 on Flickr30k and COCO).

* text -> image: each caption ranks all images; the rank of its image gives Recall@K (the fraction of
  captions whose image is in the top K) and the median rank.
* image -> text: each image ranks all captions; it is a hit at K when any of its captions is in the top
  K, and its rank is that of its best-ranked caption: 1 + the number of *other* images' captions scoring at
  least as well (its own captions never count against it, so two captions tied at the top are both hits).

Ranks start at 1. Ties with a wrong item are counted against the query (the correct item is ranked below
every wrong item that scores the same), so a model that gives equal scores cannot look good. Recalls are fractions in [0, 1],
not percentages.

Example:
    >>> sim = [[0.9, 0.1], [0.4, 0.6], [0.2, 0.7]]
    >>> m = retrieval_metrics(sim, [0, 0, 1], higher_is_similar=True, ks=(1,))
    >>> round(m["t2i_recall@1"], 4), m["i2t_recall@1"]
    (0.6667, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pairsim.errors import DataError
from pairsim.metrics._inputs import as_score_matrix, to_numpy

_CHUNK = 1024  # rows compared at a time, so a COCO-sized matrix needs no (n, n) temporaries


def _ranks_of(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Return, per row of ``scores``, the rank of column ``targets[row]`` (1 = best, ties counted against)."""
    ranks = np.empty(scores.shape[0], dtype=np.int64)
    for start in range(0, scores.shape[0], _CHUNK):
        block = scores[start : start + _CHUNK]
        own = block[np.arange(block.shape[0]), targets[start : start + _CHUNK]]
        ranks[start : start + _CHUNK] = (block >= own[:, None]).sum(axis=1)
    return ranks


def _image_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Image -> text rank of each image with a caption: 1 + the other images' captions scoring at least its best own.

    The image's own captions never count against it (two captions sharing the top score are both hits), while a
    tie with another image's caption does.
    """
    n_captions, n_images = scores.shape
    best_own = np.full(n_images, -np.inf)
    np.maximum.at(best_own, targets, scores[np.arange(n_captions), targets])  # (n_images,)
    images = np.unique(targets)
    ranks = np.empty(images.size, dtype=np.int64)
    for start in range(0, images.size, _CHUNK):
        chunk = images[start : start + _CHUNK]
        beats = scores[:, chunk] >= best_own[chunk][None, :]  # (n_captions, chunk)
        beats &= targets[:, None] != chunk[None, :]  # an image's own captions are not competitors
        ranks[start : start + _CHUNK] = 1 + beats.sum(axis=0)
    return ranks


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    values = tuple(ks)
    if not values or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1 for k in values):
        raise DataError(f"ks must be one or more positive integers, got {ks!r}")
    return tuple(int(k) for k in values)


def retrieval_metrics(
    sim: Any, caption_image: Any, *, higher_is_similar: bool, ks: Sequence[int] = (1, 5, 10)
) -> dict[str, float | int]:
    """Return text->image and image->text Recall@K and median ranks of a caption-image score matrix.

    Images without any caption still compete in text->image ranking (as distractors) but are not
    queries for image->text.

    Args:
        sim: ``(n_captions, n_images)`` scores, caption by image.
        caption_image: For each caption, the index of its image (``n_captions`` ints).
        higher_is_similar: True for similarity scores, False for distances.
        ks: The K of each Recall@K.

    Returns:
        A dict with, for each ``k`` in ``ks``, ``t2i_recall@k`` and ``i2t_recall@k`` (fractions in [0, 1]);
        ``t2i_median_rank`` and ``i2t_median_rank`` (1 = best; may end in .5); ``n_captions``,
        ``n_images`` and ``n_query_images`` (images with at least one caption).

    Raises:
        DataError: ``sim`` is not a non-empty 2-D matrix of finite numbers, ``caption_image`` does not
            give one image index in range per caption, or ``ks`` is not positive integers.

    Example:
        >>> m = retrieval_metrics([[0.1, 0.9], [0.8, 0.3]], [1, 0], higher_is_similar=False, ks=(1,))
        >>> m["t2i_recall@1"], m["t2i_median_rank"]
        (0.0, 2.0)
    """
    scores = as_score_matrix(sim, higher_is_similar, "n_captions, n_images")
    n_captions, n_images = scores.shape
    targets = to_numpy(caption_image)
    if targets.shape != (n_captions,):
        raise DataError(
            f"caption_image has shape {tuple(targets.shape)} but sim has {n_captions} caption rows; "
            "need one image index per caption"
        )
    if not np.issubdtype(targets.dtype, np.integer):
        raise DataError(f"caption_image must be integer image indices, got dtype {targets.dtype}")
    if targets.min() < 0 or targets.max() >= n_images:
        raise DataError(f"caption_image must be in [0, {n_images - 1}] for a matrix with {n_images} image columns")
    ks = _check_ks(ks)

    t2i = _ranks_of(scores, targets)
    i2t = _image_ranks(scores, targets)

    metrics: dict[str, float | int] = {}
    for k in ks:
        metrics[f"t2i_recall@{k}"] = float(np.mean(t2i <= k))
    metrics["t2i_median_rank"] = float(np.median(t2i))
    for k in ks:
        metrics[f"i2t_recall@{k}"] = float(np.mean(i2t <= k))
    metrics["i2t_median_rank"] = float(np.median(i2t))
    metrics.update(n_captions=n_captions, n_images=n_images, n_query_images=int(i2t.size))
    return metrics


def _sorted_hits(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Per query (row), the relevance of the corpus items in ranked order: by score, ties by ascending index."""
    order = np.argsort(-scores, axis=1, kind="stable")  # (q, N)
    return np.take_along_axis(relevant, order, axis=1)  # (q, N) bool


def query_corpus_metrics(
    sim: Any, relevant: Sequence[Sequence[int]], *, higher_is_similar: bool, ks: Sequence[int] = (1, 5, 10),
    cutoff: int = 10,
) -> dict[str, float | int]:  # fmt: skip
    """Ranking metrics of queries against a corpus: Recall@K, MRR@cutoff, nDCG@cutoff (binary relevance) and
    MAP@R, averaged over the queries that have at least one relevant item (as sentence-transformers'
    InformationRetrievalEvaluator does; MAP@R as in Musgrave et al. 2020, "A metric learning reality check").

    Each query ranks the whole corpus by score, ties broken by ascending corpus index.

    * ``recall@k``: the share of a query's relevant items found in its top k;
    * ``mrr@c``: 1 / the rank of the first relevant item when it is within the top c, else 0;
    * ``ndcg@c``: ``sum_{i<=c} rel_i / log2(i + 1)`` over its best possible value;
    * ``map@r``: with R relevant items, ``(1 / R) * sum_{i<=R} P@i * rel_i`` (precision at each relevant item
      in the top R).

    Args:
        sim: ``(n_queries, n_corpus)`` scores.
        relevant: For each query, the corpus indices relevant to it (may be empty: the query is skipped).
        higher_is_similar: True for similarity scores, False for distances.
        ks: The K of each Recall@K.
        cutoff: The rank cut-off of MRR and nDCG (10).

    Returns:
        ``recall@k`` per k, ``mrr@c``, ``ndcg@c``, ``map@r`` (fractions in [0, 1]), ``n_queries`` (those with a
        relevant item) and ``n_corpus``.

    Raises:
        DataError: ``sim`` is not a finite 2-D matrix, ``relevant`` does not give one list per query of indices
            in range, no query has a relevant item, or bad ``ks``.

    Example:
        >>> m = query_corpus_metrics([[0.9, 0.5, 0.1], [0.2, 0.3, 0.8]], [[1], [0, 2]], higher_is_similar=True)
        >>> m["mrr@10"], m["recall@1"], round(m["map@r"], 4)  # query 0: rank 2; query 1: ranks 1 and 3
        (0.75, 0.25, 0.25)
    """
    scores = as_score_matrix(sim, higher_is_similar, "n_queries, n_corpus")
    n_queries, n_corpus = scores.shape
    if len(relevant) != n_queries:
        raise DataError(f"relevant has {len(relevant)} lists but sim has {n_queries} query rows")
    ks = _check_ks(ks)
    cutoff = _check_ks((cutoff,))[0]
    keep = [q for q in range(n_queries) if len(relevant[q])]
    if not keep:
        raise DataError("no query has a relevant corpus item")
    sums = {f"recall@{k}": 0.0 for k in ks} | {f"mrr@{cutoff}": 0.0, f"ndcg@{cutoff}": 0.0, "map@r": 0.0}
    discount = 1.0 / np.log2(np.arange(2, n_corpus + 2))  # (N,) 1 / log2(rank + 1)
    for start in range(0, len(keep), _CHUNK):
        rows = keep[start : start + _CHUNK]
        rel = np.zeros((len(rows), n_corpus), dtype=bool)  # (q, N)
        for i, q in enumerate(rows):
            ix = np.asarray(list(relevant[q]), dtype=np.int64)
            if ix.min() < 0 or ix.max() >= n_corpus:
                raise DataError(f"relevant[{q}] holds an index outside [0, {n_corpus - 1}]")
            rel[i, ix] = True
        hits = _sorted_hits(scores[rows], rel)  # (q, N)
        r = rel.sum(axis=1)  # (q,) relevant items per query
        found = np.cumsum(hits, axis=1)  # (q, N) relevant items in the top i
        for k in ks:
            sums[f"recall@{k}"] += float((found[:, min(k, n_corpus) - 1] / r).sum())
        top = hits[:, :cutoff]  # (q, c)
        first = np.where(top.any(axis=1), top.argmax(axis=1) + 1, np.inf)  # (q,) rank of the first hit
        sums[f"mrr@{cutoff}"] += float((1.0 / first).sum())
        ideal = np.cumsum(discount[:cutoff])[np.minimum(r, cutoff) - 1]  # (q,)
        sums[f"ndcg@{cutoff}"] += float(((top * discount[: top.shape[1]]).sum(axis=1) / ideal).sum())
        precision = found / np.arange(1, n_corpus + 1)  # (q, N) P@i
        within_r = np.arange(n_corpus)[None, :] < r[:, None]  # (q, N) the top R ranks
        sums["map@r"] += float(((precision * hits * within_r).sum(axis=1) / r).sum())
    metrics: dict[str, float | int] = {name: value / len(keep) for name, value in sums.items()}
    metrics.update(n_queries=len(keep), n_corpus=n_corpus)
    return metrics
