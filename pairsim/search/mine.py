"""Hard-negative mining: for each (anchor, positive) row, corpus items a bi-encoder ranks high that are not positives.

For each anchor the model retrieves its top ``k`` corpus items (:func:`~pairsim.search.retrieve.retrieve`, FAISS
where installed); the first ``skip`` ranks are passed over (likely unlabelled positives); an item is never a
negative of an anchor when it is the anchor itself, any positive of that anchor (every row with the same anchor
counts) or an item under the anchor's key; an item must score at least ``margin`` below the positive
(``relative_margin``: at most ``(1 - relative_margin)`` times the positive's score), and with a cross-encoder,
at least ``cross_margin`` below the positive in its scores too. Rows that get fewer than ``num_negatives``
negatives are dropped (counted). The table has columns ``anchor, positive, negative_1 ... negative_n`` (and
``key``), the layout recipes and ``pairsim.fit`` read (sentence-transformers' ``mine_hard_negatives``
``n-tuple`` format).

Example:
    >>> # rows, stats = mine_negatives(model, anchors, positives, num_negatives=3, k=30, skip=3, margin=0.05)
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from pairsim.errors import ConfigError, DataError
from pairsim.search.retrieve import Backend, retrieve


@dataclasses.dataclass
class MineStats:
    """What mining did: rows written, rows dropped for want of negatives, candidates each filter removed."""

    rows: int = 0
    dropped_rows: int = 0
    skipped_top: int = 0
    positives: int = 0  # candidates that were the anchor, one of its positives or under its key
    margin: int = 0  # candidates too close to the positive's score (margin / relative_margin)
    cross: int = 0  # candidates the cross-encoder scored too close to the positive


def _check_count(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name}: expected an integer >= {low}, got {value!r}")


def mine_negatives(
    model: Any,
    anchors: Sequence[str],
    positives: Sequence[str],
    *,
    keys: Sequence[Any] | None = None,
    corpus: Sequence[str] | None = None,
    corpus_keys: Sequence[Any] | None = None,
    num_negatives: int = 1,
    k: int = 30,
    skip: int = 0,
    margin: float | None = None,
    relative_margin: float | None = None,
    cross_encoder: Any = None,
    cross_margin: float = 0.0,
    backend: Backend = "auto",
    batch_size: int = 64,
) -> tuple[list[dict[str, Any]], MineStats]:
    """Hard negatives for each ``(anchors[i], positives[i])`` row.

    Args:
        model: The bi-encoder that retrieves (a PairModel or :class:`~pairsim.search.retrieve.SentenceTransformerEncoder`).
        anchors: Side-a texts, one per row (repeats: one anchor with several positives).
        positives: The matching side-b texts.
        keys: A key per row (an identity, a question id): items under the anchor's key are never its negatives.
        corpus: The items negatives are drawn from; None: the distinct positives (with their rows' keys).
        corpus_keys: A key per corpus item (with ``corpus``).
        num_negatives: Negatives per row (``negative_1 ... negative_n``).
        k: Candidates retrieved per anchor.
        skip: Top-ranked candidates passed over first.
        margin: A negative's score must be at least this much below the positive's (in the head's direction).
        relative_margin: A negative's score must be at most ``(1 - relative_margin) x`` the positive's
            (a similarity head).
        cross_encoder: A pair scorer (``score``, ``head``) that must also rate each negative at least
            ``cross_margin`` below the positive.
        cross_margin: See ``cross_encoder``.
        backend: Retrieval search: ``auto``, ``exact`` or ``faiss``.
        batch_size: Inputs per encoding batch.

    Returns:
        ``(rows, stats)``: each row ``{"anchor", "positive", "negative_1", ..., ["key"]}``, in input order.

    Raises:
        ConfigError: A count or margin out of range, relative_margin with a distance head.
        DataError: Lists of different lengths.
    """
    _check_count("num_negatives", num_negatives, 1)
    _check_count("k", k, 1)
    _check_count("skip", skip, 0)
    if len(anchors) != len(positives) or (keys is not None and len(keys) != len(anchors)):
        raise DataError(f"mine: {len(anchors)} anchors, {len(positives)} positives and "
                        f"{'no' if keys is None else len(keys)} keys; expected one of each per row")  # fmt: skip
    if relative_margin is not None and not (0 <= relative_margin < 1 and model.head.higher_is_similar):
        raise ConfigError("relative_margin: expected a number in [0, 1) with a similarity head (higher = similar)")
    if corpus is None:
        first: dict[str, int] = {}
        for i, p in enumerate(positives):
            first.setdefault(p, i)
        corpus = list(first)
        corpus_keys = None if keys is None else [keys[first[p]] for p in corpus]
    elif corpus_keys is not None and len(corpus_keys) != len(corpus):
        raise DataError(f"mine: {len(corpus)} corpus items but {len(corpus_keys)} corpus keys")
    positives_of: dict[str, set[str]] = defaultdict(set)
    keys_of: dict[str, set[Any]] = defaultdict(set)
    for i, (a, p) in enumerate(zip(anchors, positives, strict=True)):
        positives_of[a].add(p)
        if keys is not None:
            keys_of[a].add(keys[i])
    unique = list(positives_of)  # each anchor retrieved once
    corpus_emb = model.encode_b(corpus, batch_size=batch_size)  # (N, D)
    anchor_emb = model.encode_a(unique, batch_size=batch_size)  # (U, D)
    scores, rows = retrieve(model, unique, corpus, k=skip + k, backend=backend, batch_size=batch_size,
                            corpus_embeddings=corpus_emb, query_embeddings=anchor_emb)  # fmt: skip
    where = {a: u for u, a in enumerate(unique)}
    pos_emb = model.encode_b(list(positives), batch_size=batch_size)  # (R, D)
    head = model.head
    with torch.inference_mode():
        pos_scores = head(anchor_emb[[where[a] for a in anchors]], pos_emb).float()  # (R,)
    stats = MineStats()
    candidates: list[list[int]] = []
    for r, a in enumerate(anchors):
        u, keep = where[a], []
        ranked = rows[u].tolist()
        stats.skipped_top += min(skip, len(ranked))
        for j, c in enumerate(ranked[skip:], start=skip):
            item = corpus[c]
            if item == a or item in positives_of[a] or (corpus_keys is not None and corpus_keys[c] in keys_of[a]):
                stats.positives += 1
                continue
            s, ps = float(scores[u, j]), float(pos_scores[r])
            if (margin is not None and head.margin(ps, s) < margin) or (
                relative_margin is not None and s > ps * (1 - relative_margin)
            ):
                stats.margin += 1
                continue
            keep.append(c)
        candidates.append(keep)
    if cross_encoder is not None:
        candidates = _cross_filter(cross_encoder, anchors, positives, corpus, candidates, cross_margin, stats,
                                   batch_size=batch_size)  # fmt: skip
    table = []
    for r, keep in enumerate(candidates):
        if len(keep) < num_negatives:
            stats.dropped_rows += 1
            continue
        row: dict[str, Any] = {"anchor": anchors[r], "positive": positives[r]}
        row.update({f"negative_{i + 1}": corpus[c] for i, c in enumerate(keep[:num_negatives])})
        if keys is not None:
            row["key"] = keys[r]
        table.append(row)
    stats.rows = len(table)
    return table, stats


def _cross_filter(
    cross: Any,
    anchors: Sequence[str],
    positives: Sequence[str],
    corpus: Sequence[str],
    candidates: list[list[int]],
    cross_margin: float,
    stats: MineStats,
    *,
    batch_size: int,
) -> list[list[int]]:
    """Keep the candidates the cross-encoder scores at least ``cross_margin`` below the row's positive."""
    pos = cross.score(list(anchors), list(positives), batch_size=batch_size)  # (R,)
    flat = [(r, c) for r, keep in enumerate(candidates) for c in keep]
    if not flat:
        return candidates
    got = cross.score([anchors[r] for r, _ in flat], [corpus[c] for _, c in flat], batch_size=batch_size)  # (F,)
    kept: list[list[int]] = [[] for _ in candidates]
    for (r, c), s in zip(flat, got.tolist(), strict=True):
        if cross.head.margin(float(pos[r]), s) >= cross_margin:
            kept[r].append(c)
        else:
            stats.cross += 1
    return kept


def write_table(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write mined rows as ``.csv`` or ``.jsonl`` (atomically: a failure leaves the old file).

    Raises:
        ConfigError: Another suffix.
    """
    import csv

    from pairsim.safe_io import atomic_open

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ConfigError(f"--out {path}: expected a .csv or .jsonl file name")
    columns = list(rows[0]) if rows else ["anchor", "positive", "negative_1"]
    with atomic_open(path, what="mined table") as handle:
        if suffix == ".jsonl":
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return path
