"""Distillation data: a teacher (usually a cross-encoder) labels pairs, and a bi-encoder trains on its scores.

Augmented SBERT (Thakur et al. 2021): besides the labelled training pairs, pairs are sampled from the training
texts themselves, each text with its nearest neighbours by BM25 (:func:`bm25_pairs`) or by a bi-encoder's kNN
(:func:`knn_pairs`), and the teacher labels them all (:func:`teacher_scores`). :func:`build_silver` writes the
result as ``pair_table`` files (``train.csv``: the teacher's scores; ``val.csv`` / ``test.csv``: the gold
scores, untouched), which ``recipes/stsb_distilled.yaml`` trains on with the ``mse`` loss; :func:`teacher_margins`
gives the targets of ``margin_mse`` on (query, positive, negative) rows, and :func:`write_margins` writes a mined
table (``pairsim mine``) with them, which a recipe reads as ``negatives_table`` with ``margin: margin``.

Example:
    >>> # build_silver("runs/stsb_cross_encoder/model", {"name": "stsb"}, "runs/stsb_silver", augment="bm25")
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from pairsim.errors import ConfigError

_WORD = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def bm25_scores(queries: Sequence[str], docs: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> Any:
    """Okapi BM25 of every query against every document, as a sparse-times-sparse product.

    ``score(q, d) = sum over words w of q: idf(w) * tf(w, d) * (k1 + 1) / (tf(w, d) + k1 * (1 - b + b |d| / avgdl))``
    with ``idf(w) = ln(1 + (N - df + 0.5) / (df + 0.5))`` (each distinct query word once).

    Returns:
        A ``scipy.sparse`` ``(Q, N)`` matrix.
    """
    from scipy import sparse

    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    lengths = np.zeros(len(docs))
    for i, doc in enumerate(docs):
        words = _tokens(doc)
        lengths[i] = len(words)
        counts: dict[int, int] = {}
        for w in words:
            j = vocab.setdefault(w, len(vocab))
            counts[j] = counts.get(j, 0) + 1
        rows += [i] * len(counts)
        cols += list(counts)
        vals += list(counts.values())
    tf = sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(vocab)), dtype=np.float64)  # (N, V)
    df = np.bincount(tf.indices, minlength=len(vocab))  # (V,)
    idf = np.log1p((len(docs) - df + 0.5) / (df + 0.5))  # (V,)
    norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1e-9))  # (N,)
    weighted = tf.copy()
    weighted.data = weighted.data * (k1 + 1) / (weighted.data + np.repeat(norm, np.diff(tf.indptr)))
    weighted = weighted @ sparse.diags(idf)  # (N, V)
    q_rows, q_cols = [], []
    for i, query in enumerate(queries):
        ids = {vocab[w] for w in _tokens(query) if w in vocab}
        q_rows += [i] * len(ids)
        q_cols += list(ids)
    q = sparse.csr_matrix((np.ones(len(q_rows)), (q_rows, q_cols)), shape=(len(queries), len(vocab)))  # (Q, V)
    return (q @ weighted.T).tocsr()  # (Q, N)


def bm25_pairs(texts: Sequence[str], *, per_text: int, chunk: int = 1024) -> list[tuple[str, str]]:
    """Each distinct text paired with its ``per_text`` best other texts by BM25 (never itself), each pair once."""
    unique = list(dict.fromkeys(texts))
    pairs: dict[tuple[str, str], None] = {}
    for start in range(0, len(unique), chunk):
        block = bm25_scores(unique[start : start + chunk], unique).toarray()  # (c, U)
        for r in range(block.shape[0]):
            block[r, start + r] = -math.inf  # never the text itself
        top = np.argsort(-block, axis=1, kind="stable")[:, :per_text]  # (c, per_text)
        for r, row in enumerate(top):
            for j in row:
                if block[r, j] > 0:
                    a, b = unique[start + r], unique[int(j)]
                    if (b, a) not in pairs:
                        pairs[(a, b)] = None
    return list(pairs)


def knn_pairs(model: Any, texts: Sequence[str], *, per_text: int, batch_size: int = 64) -> list[tuple[str, str]]:
    """Each distinct text paired with its ``per_text`` nearest other texts by a bi-encoder, each pair once."""
    from pairsim.search.retrieve import retrieve

    unique = list(dict.fromkeys(texts))
    _, rows = retrieve(model, unique, unique, k=per_text + 1, batch_size=batch_size)  # (U, k + 1)
    pairs: dict[tuple[str, str], None] = {}
    for i, row in enumerate(rows.tolist()):
        for j in [j for j in row if j != i][:per_text]:
            a, b = unique[i], unique[j]
            if (b, a) not in pairs:
                pairs[(a, b)] = None
    return list(pairs)


def teacher_scores(teacher: Any, a: Sequence[Any], b: Sequence[Any], *, batch_size: int = 64) -> torch.Tensor:
    """The teacher's score of each pair ``(a[i], b[i])`` ``(N,)``."""
    return teacher.score(list(a), list(b), batch_size=batch_size).float()


def teacher_margins(
    teacher: Any, queries: Sequence[Any], positives: Sequence[Any], negatives: Sequence[Any], *, batch_size: int = 64
) -> torch.Tensor:
    """MarginMSE targets ``(N,)``: ``t(q, p) - t(q, n)`` in the teacher's direction (:meth:`Head.margin`)."""
    pos = teacher_scores(teacher, queries, positives, batch_size=batch_size)  # (N,)
    neg = teacher_scores(teacher, queries, negatives, batch_size=batch_size)  # (N,)
    return torch.as_tensor(teacher.head.margin(pos, neg))


def write_margins(
    teacher: Any,
    table: str | Path | dict[str, Any],
    out: str | Path,
    *,
    batch_size: int = 64,
    threads: int | None = None,
) -> dict[str, Any]:
    """Write ``out`` (CSV): one row per (anchor, positive, negative) of a mined table, with the teacher's margin.

    Columns ``anchor, positive, negative_1, margin`` (and ``key`` when the table has one): each negative of a row
    becomes a row of its own, ``margin = t(anchor, positive) - t(anchor, negative)`` in the teacher's direction.
    Train on it with ``data: {name: negatives_table, path: OUT, margin: margin}`` and ``loss: {name: margin_mse}``.

    Args:
        teacher: A saved model directory or a loaded model with ``score`` (a cross-encoder).
        table: A mined table (``anchor, positive, negative_1 .. negative_n[, key]``: what ``pairsim mine``
            writes), or a ``negatives_table`` config for other column names.
        out: The CSV file to write (replaced whole, or left as it was on an error).
        batch_size: Pairs per teacher batch.
        threads: Torch CPU threads while scoring (None: as set).

    Returns:
        Counts, the seconds scoring took, and the file.

    Example:
        >>> # write_margins("runs/ce/model", "runs/mined.csv", "runs/margins.csv")
    """
    from pairsim.data.sources.negatives_table import NegativesTableSource
    from pairsim.safe_io import atomic_open

    if threads:
        torch.set_num_threads(threads)
    if isinstance(teacher, (str, Path)):
        from pairsim.model import PairModel

        teacher = PairModel.from_pretrained(teacher)
    config = {"path": str(table)} if isinstance(table, (str, Path)) else dict(table)
    source = NegativesTableSource(NegativesTableSource.Config(**{**config, "name": "negatives_table"}))
    rows = source.read(source.config.path)
    n = len(rows.negatives[0])
    anchors = [a for a in rows.anchors for _ in range(n)]
    positives = [p for p in rows.positives for _ in range(n)]
    negatives = [x for row in rows.negatives for x in row]
    start = time.perf_counter()
    margins = teacher_margins(teacher, anchors, positives, negatives, batch_size=batch_size).tolist()
    seconds = time.perf_counter() - start
    keys = None if rows.keys is None else [k for k in rows.keys for _ in range(n)]
    path = Path(out)
    with atomic_open(path, what="margin table") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["anchor", "positive", "negative_1", "margin"] + (["key"] if keys else []))
        for i, m in enumerate(margins):
            writer.writerow([anchors[i], positives[i], negatives[i], f"{m:.6f}"] + ([keys[i]] if keys else []))
    return {"rows": len(rows.anchors), "negatives_per_row": n, "triplets": len(margins),
            "label_seconds": round(seconds, 1), "file": str(path)}  # fmt: skip


def _write(path: Path, a: Sequence[str], b: Sequence[str], scores: Sequence[float]) -> None:
    from pairsim.safe_io import atomic_open

    with atomic_open(path, what="silver table") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["text_a", "text_b", "score"])
        writer.writerows(zip(a, b, (f"{s:.6f}" for s in scores), strict=True))


def build_silver(
    teacher: Any,
    data: dict[str, Any],
    out: str | Path,
    *,
    augment: Literal["none", "bm25", "knn"] = "bm25",
    per_text: int = 2,
    sampler_model: Any = None,
    gold_scale: float | None = None,
    batch_size: int = 64,
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Write ``train.csv`` (training pairs + sampled pairs, teacher-labelled), ``val.csv`` and ``test.csv`` (gold).

    Args:
        teacher: A saved model directory or a loaded model with ``score`` (a cross-encoder).
        data: The dataset (a recipe's ``data:``), text pairs with graded scores or labels.
        out: The folder (made if missing).
        augment: Pairs sampled from the training texts: ``bm25``, ``knn`` (``sampler_model``'s neighbours) or
            ``none`` (the training pairs relabelled only).
        per_text: Neighbours sampled per distinct training text.
        sampler_model: The bi-encoder (or its directory) for ``knn``.
        gold_scale: Validation / test scores are divided by it (None: 5 for a dataset scored 0-5, else 1), so
            they share the teacher's 0-1 units and one ``binarize_at`` serves all three tables.
        batch_size: Pairs per teacher batch.
        seed: Kept for the record (sampling is deterministic).
        threads: Torch CPU threads while labelling (None: as set).

    Returns:
        What was written: counts, the seconds labelling took, the files.

    Raises:
        ConfigError: An unknown ``augment``, ``per_text`` < 1, or ``knn`` without a sampler model.
    """
    from pairsim.data import load_dataset

    if augment not in ("none", "bm25", "knn"):
        raise ConfigError(f"augment: expected none, bm25 or knn, got {augment!r}")
    if isinstance(per_text, bool) or not isinstance(per_text, int) or per_text < 1:
        raise ConfigError(f"per_text: expected a positive integer, got {per_text!r}")
    if threads:
        torch.set_num_threads(threads)
    if isinstance(teacher, (str, Path)):
        from pairsim.model import PairModel

        teacher = PairModel.from_pretrained(teacher)
    splits = load_dataset(data)
    train = splits.train
    texts = [*train.a, *train.b]
    start = time.perf_counter()
    sampled: list[tuple[str, str]] = []
    if augment == "bm25":
        sampled = bm25_pairs(texts, per_text=per_text)
    elif augment == "knn":
        if sampler_model is None:
            raise ConfigError("augment knn: give sampler_model (the bi-encoder whose neighbours are paired)")
        if isinstance(sampler_model, (str, Path)):
            from pairsim.search.retrieve import load_encoder

            sampler_model = load_encoder(sampler_model)
        sampled = knn_pairs(sampler_model, texts, per_text=per_text, batch_size=batch_size)
    known = set(zip(train.a, train.b, strict=True)) | set(zip(train.b, train.a, strict=True))
    sampled = [p for p in sampled if p not in known]
    a = [*train.a, *(p[0] for p in sampled)]
    b = [*train.b, *(p[1] for p in sampled)]
    sample_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = teacher_scores(teacher, a, b, batch_size=batch_size).tolist()
    label_seconds = time.perf_counter() - start
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    _write(root / "train.csv", a, b, scores)
    for name, split in (("val", splits.val), ("test", splits.test)):
        gold = split.scores if split.scores is not None else split.labels
        scale = gold_scale or (5.0 if split.scores is not None and max(gold) > 1 else 1.0)
        _write(root / f"{name}.csv", split.a, split.b, [g / scale for g in gold])
    return {"train_pairs": len(train.a), "sampled_pairs": len(sampled), "augment": augment, "per_text": per_text,
            "sample_seconds": round(sample_seconds, 1), "label_seconds": round(label_seconds, 1), "seed": seed,
            "files": [str(root / f"{n}.csv") for n in ("train", "val", "test")]}  # fmt: skip
