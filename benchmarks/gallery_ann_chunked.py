"""``gallery_ann.py --chunked``: galleries larger than memory (10M x 384 float32 = 14.3 GiB).

The rows are generated chunk by chunk (each chunk seeded by its number: its own identities, ``PER_IDENTITY``
examples each) into a float32 ``.npy`` file that is memory-mapped, as an ``on_disk`` gallery's rows are; an
existing file of the same rows is reused. Exact search cannot hold the rows in memory either: the ground truth
is a brute-force scan of the file in 1M-row blocks, and the exact search's speed is measured on those blocks
(each probe alone, one thread, summed over the blocks: a flat in-memory scan, disk reads not counted, so the
exact figure is its best case). The IVF-PQ index can be written to pairsim's index file and reopened
memory-mapped (:func:`pairsim.search.index_file.read_index` with ``on_disk``); ``hnsw_sq8`` (FAISS
``HNSW32,SQ8``, which pairsim does not build: its ``hnsw`` keeps float rows in memory) is tried under a build
time budget, and searched through pairsim's re-scoring only if it finished.

Example:
    >>> rows = chunked_rows(Path("runs/rows.npy"), real, 10_000_000, 0.75, 0.5)  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from pairsim.search import GalleryIndex
from pairsim.search.ann import AnnConfig, AnnSearch

CHUNK = 250_000  # rows generated (and seeded) together; a multiple of PER_IDENTITY
BLOCK = 1_000_000  # rows read into memory at a time by the exact scan


def around(centres: np.ndarray, which: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``normalise(centres[which] + noise)``: Gaussian noise of norm about ``noise`` (float32 draws)."""
    d = centres.shape[1]
    x = centres[which] + rng.standard_normal((len(which), d), dtype=np.float32) * np.float32(noise / np.sqrt(d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def chunk_identities(real: np.ndarray, chunk: int, topic_noise: float, per_identity: int) -> np.ndarray:
    """``(CHUNK / per_identity, D)`` identities of row chunk ``chunk``, around real embeddings (seed ``[0, chunk]``)."""
    rng = np.random.default_rng([0, chunk])
    return around(real, rng.integers(0, len(real), CHUNK // per_identity), topic_noise, rng)


def chunked_rows(
    path: Path, real: np.ndarray, n: int, topic_noise: float, noise: float, per_identity: int
) -> np.ndarray:
    """``(n, D)`` memory-mapped rows: chunk ``c`` holds ``per_identity`` examples of each of its identities
    (noise seed ``[1, c]``). Written to ``path`` once (through a ``.partial`` name), reused when present."""
    if not path.is_file():
        tmp = path.with_name(path.name + ".partial")
        rows = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, real.shape[1]))
        for c, start in enumerate(range(0, n, CHUNK)):
            ids = chunk_identities(real, c, topic_noise, per_identity)
            m = min(CHUNK, n - start)
            rows[start : start + m] = around(ids, np.arange(m) // per_identity, noise, np.random.default_rng([1, c]))
        rows.flush()
        del rows
        tmp.rename(path)
    return np.load(path, mmap_mode="c")  # copy-on-write: torch gets a writable view, nothing goes back


def chunked_probes(
    real: np.ndarray, n: int, count: int, topic_noise: float, noise: float, per_identity: int
) -> np.ndarray:
    """``(count, D)`` fresh examples (noise seed 3) of enrolled identities picked with seed 2."""
    people = np.random.default_rng(2).integers(0, n // per_identity, count)
    per_chunk = CHUNK // per_identity
    cache: dict[int, np.ndarray] = {}
    centres = []
    for p in people.tolist():
        if p // per_chunk not in cache:
            cache[p // per_chunk] = chunk_identities(real, p // per_chunk, topic_noise, per_identity)
        centres.append(cache[p // per_chunk][p % per_chunk])
    return around(np.stack(centres), np.arange(count), noise, np.random.default_rng(3))


def exact_chunked(
    rows: np.ndarray, probes: np.ndarray, k: int, timed: int, threads: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """The ``(Q, k)`` exact top rows by inner product, and the exact search's timing.

    Each 1M-row block is read into memory, searched for all probes at once (FAISS ``knn``, ``threads``
    threads: the ground truth), then for each of the first ``timed`` probes alone on one thread. A probe's
    exact time is the sum over the blocks: a flat in-memory scan of every row (disk reads excluded).
    """
    import faiss

    best_s = np.full((len(probes), 0), -np.inf, np.float32)
    best_i = np.zeros((len(probes), 0), np.int64)
    single = np.zeros(timed)
    read_s = batch_s = 0.0
    for start in range(0, len(rows), BLOCK):
        t0 = time.perf_counter()
        block = np.array(rows[start : start + BLOCK], dtype=np.float32, copy=True)  # (<= BLOCK, D) read into memory
        t1 = time.perf_counter()
        faiss.omp_set_num_threads(threads)
        s, i = faiss.knn(probes, block, k, metric=faiss.METRIC_INNER_PRODUCT)
        t2 = time.perf_counter()
        read_s, batch_s = read_s + t1 - t0, batch_s + t2 - t1
        faiss.omp_set_num_threads(1)
        for j in range(timed):
            t3 = time.perf_counter()
            faiss.knn(probes[j : j + 1], block, k, metric=faiss.METRIC_INNER_PRODUCT)
            single[j] += time.perf_counter() - t3
        best_s, best_i = np.hstack([best_s, s]), np.hstack([best_i, i + start])
        order = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)
        del block
    faiss.omp_set_num_threads(threads)
    return best_i, {"read_s": read_s, "batch_s": batch_s, "single_ms": (single * 1000).tolist()}


class PeakAnon:
    """The process's peak anonymous RSS (MiB) since :meth:`reset`, sampled every 0.2 s by a daemon thread
    (memory-mapped rows and index files are page cache, not counted)."""

    def __init__(self) -> None:
        self.peak = 0.0
        threading.Thread(target=self._run, daemon=True).start()

    @staticmethod
    def now() -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.now())
            time.sleep(0.2)

    def reset(self) -> None:
        self.peak = self.now()


def reopen_on_disk(gallery: GalleryIndex, path: Path) -> tuple[float, int]:
    """Write ``gallery``'s ivfpq index to pairsim's index file ``path``, free the in-memory one and attach it
    read back memory-mapped (``on_disk``: inverted lists paged in by the searches).

    Returns:
        ``(seconds to write and reopen, file bytes)``.
    """
    from pairsim.search.index_file import read_index, write_index

    t0 = time.perf_counter()
    search = gallery.searcher()
    meta = write_index(search, path)
    ids, config = search.ids_of_rows(), search.config
    gallery._search = search = None  # the in-memory index is freed before the file is mapped
    gc.collect()
    reopened = read_index(path, meta, head=gallery.head, dim=gallery.embeddings.shape[1], ids=ids, on_disk=True)
    if reopened is None or not reopened.read_only:
        raise RuntimeError(f"{path} did not reopen memory-mapped")
    reopened.config = config
    gallery.attach(reopened)
    return time.perf_counter() - t0, os.path.getsize(path)


def hnsw_sq8(
    rows: np.ndarray, names: list[str], head: Any, budget_s: float, ef_search: int
) -> tuple[GalleryIndex | None, dict[str, Any]]:
    """FAISS ``HNSW32,SQ8`` (efConstruction 80, as pairsim's hnsw) added in 100k-row chunks until ``budget_s``.

    Returns:
        The gallery searching it through pairsim's re-scoring (None when the budget ran out first), and the
        build's figures (rows added, seconds, rows per second).
    """
    import faiss

    n, d = rows.shape
    index = faiss.index_factory(d, "HNSW32,SQ8", faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    t0 = time.perf_counter()
    pick = np.sort(np.random.default_rng(0).choice(n, min(n, 100_000), replace=False))
    index.train(np.ascontiguousarray(rows[pick]))
    added = 0
    while added < n and time.perf_counter() - t0 < budget_s:
        index.add(np.ascontiguousarray(rows[added : added + 100_000]))
        added = int(index.ntotal)
    build_s = time.perf_counter() - t0
    hnsw = index.hnsw
    size = added * d + hnsw.neighbors.size() * 4 + hnsw.offsets.size() * 8 + hnsw.levels.size() * 4  # codes + graph
    info = {"rows_added": added, "build_s": round(build_s, 1), "rows_per_s": round(added / build_s),
            "complete": added == n, "index_mib": round(size / 2**20, 1)}  # fmt: skip
    if added < n:
        return None, info
    search = AnnSearch(head, d, AnnConfig(kind="hnsw", ef_search=ef_search), index=index, row_of_id=np.arange(n))
    import torch

    gallery = GalleryIndex(names, torch.from_numpy(rows), head=head, backend="hnsw")
    gallery.attach(search)
    return gallery, info
