"""Approximate gallery search: a FAISS index proposes a shortlist, the model's head re-scores it exactly.

Kinds (:data:`ANN_KINDS`): ``hnsw`` (a graph over the float rows: fast, about 1.1x the rows' memory),
``ivfpq`` (inverted lists of product-quantised codes: ``pq_bytes`` per row, trained on a sample; the index file
can be memory-mapped), ``int8`` (a flat scan of 8-bit scalar-quantised rows: 1/4 of the memory) and ``binary``
(a Hamming scan of the rows' sign bits: 1/32). Whatever proposes the shortlist, the reported scores and
their order come from ``head(probe, row)`` on the float rows (which may be memory-mapped from the gallery
file), so a result is exact whenever the true best rows are in the shortlist; only recall is approximate.

Deletes are tombstones: a removed row's FAISS id maps to no row and is dropped before re-scoring, and the
shortlist is widened until ``k`` live rows remain (refill). Once the dead outnumber the live, the index is
rebuilt from the live rows (IVF keeps its training). FAISS ids are insertion order; ``row_of_id`` maps them
to gallery rows and is what a saved gallery stores (``search_ids``: the id of each row).

Example:
    >>> from pairsim.heads import HEADS
    >>> head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
    >>> rows = torch.randn(500, 16)
    >>> ann = AnnSearch(head, 16, AnnConfig(kind="hnsw"))
    >>> ann.add(rows)
    >>> ann.search(rows[:2], rows, k=1)[1].tolist()
    [[0], [1]]
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from pairsim.errors import ConfigError
from pairsim.heads import Head

ANN_KINDS = ("hnsw", "ivfpq", "int8", "binary")
ANN_METRICS = ("METRIC_INNER_PRODUCT", "METRIC_L2")  # what every ANN kind supports (L1 heads stay flat)
ADD_CHUNK = 65_536  # rows prepared and added to FAISS at a time (bounded memory for memory-mapped galleries)


@dataclasses.dataclass(kw_only=True)
class AnnConfig:
    """How an approximate index is built and searched.

    Args:
        kind: One of :data:`ANN_KINDS`.
        shortlist: Candidates per probe the head re-scores (0: ``max(10 k, 100)``; ``binary``: ``max(50 k, 500)``).
        hnsw_m: HNSW graph degree.
        ef_construction: HNSW build breadth.
        ef_search: HNSW search breadth (raised to the shortlist when smaller).
        nlist: IVF lists (0: about ``sqrt(N)``, at most ``N / 39``: 1,000 lists at 1M rows).
        nprobe: IVF lists visited per probe.
        pq_bytes: PQ code bytes per row (0: ``D / 8``, rounded down to a divisor of ``D``).
        train_rows: Rows sampled to train IVF / PQ / int8 (seeded).
    """

    kind: str = "hnsw"
    shortlist: int = 0
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    nlist: int = 0
    nprobe: int = 32
    pq_bytes: int = 0
    train_rows: int = 100_000

    def __post_init__(self) -> None:
        if self.kind not in ANN_KINDS:
            raise ConfigError(f"search index kind {self.kind!r}: expected one of {', '.join(ANN_KINDS)}")
        for name in ("shortlist", "nlist", "pq_bytes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"search index {name}: expected >= 0, got {getattr(self, name)}")
        for name in ("hnsw_m", "ef_construction", "ef_search", "nprobe", "train_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(f"search index {name}: expected >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnnConfig:
        """Checked: unknown keys and wrong types are a ConfigError naming them."""
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"search index: unknown setting {unknown[0]!r} (expected {', '.join(fields)})")
        for key, value in data.items():
            want = str if key == "kind" else int
            if not isinstance(value, want) or isinstance(value, bool):
                raise ConfigError(f"search index {key}: expected {want.__name__}, got {value!r}")
        return cls(**data)


def faiss_module() -> Any:
    try:
        import faiss
    except ImportError:
        raise ConfigError("approximate search needs faiss-cpu: pip install 'pairsim[faiss]'") from None
    return faiss


def supports_ann(head: Head) -> bool:
    """Whether the ANN kinds can shortlist for ``head``: an inner-product or L2 metric on the embeddings alone."""
    return head.faiss_metric in ANN_METRICS and head.beyond_embeddings() is None


def _pq_bytes(dim: int, wanted: int) -> int:
    m = wanted or max(1, dim // 8)
    return max(d for d in range(1, min(m, dim) + 1) if dim % d == 0)  # PQ needs D divisible by it


class AnnSearch:
    """An approximate FAISS index over the gallery rows with exact head re-scoring and tombstoned deletes.

    Args:
        head: The model's head (declares ``faiss_metric`` / ``faiss_normalize``).
        dim: Embedding size.
        config: Kind and parameters.
        index: A FAISS index already holding rows (loaded from a file), with ``row_of_id``.
        row_of_id: ``(ntotal,)`` gallery row of each FAISS id, -1 for a deleted one.

    Raises:
        ConfigError: faiss is missing, or the head has no metric the ANN kinds support.
    """

    exact = False

    def __init__(
        self,
        head: Head,
        dim: int,
        config: AnnConfig,
        *,
        index: Any = None,
        row_of_id: np.ndarray | None = None,
    ) -> None:
        self.faiss = faiss_module()
        if not supports_ann(head):
            raise ConfigError(
                f"approximate search ({config.kind}) needs a head ranking by inner product or L2 on the embeddings "
                f"alone; head {head.config.name!r} does not: use exact or faiss (flat) search"
            )
        self.head, self.dim, self.config = head, dim, config
        self.name = config.kind
        self.metric = getattr(self.faiss, str(head.faiss_metric))
        self.normalize = head.faiss_normalize
        self.index = index
        self.row_of_id = np.empty(0, np.int64) if row_of_id is None else row_of_id.astype(np.int64)
        self.read_only = False  # a memory-mapped index: thawed into memory before it changes
        self.shared = False  # copy-on-write with another gallery (set by :meth:`copy`)
        self.file_record: dict[str, Any] | None = None  # the saved file that holds this index (None: not saved)

    # -- vectors ---------------------------------------------------------------------------------------------------
    def _prepare(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
        if self.normalize:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
        if self.config.kind == "binary":
            x = np.packbits(x > 0, axis=1)  # (n, ceil(D / 8)) sign bits
        return x

    def _new_index(self, rows: torch.Tensor) -> Any:
        """An empty, trained index for rows like ``rows`` ``(N, D)``."""
        f, c, n = self.faiss, self.config, rows.shape[0]
        if c.kind == "binary":
            return f.IndexBinaryFlat(8 * math.ceil(self.dim / 8))
        if c.kind == "hnsw":
            index = f.IndexHNSWFlat(self.dim, c.hnsw_m, self.metric)
            index.hnsw.efConstruction = c.ef_construction
            return index
        sample = rows
        if n > c.train_rows:
            pick = torch.randperm(n, generator=torch.Generator().manual_seed(0))[: c.train_rows]
            sample = rows[pick.sort().values]  # (train_rows, D), read in file order (memory-mapped rows)
        train = self._prepare(sample)
        if c.kind == "int8":
            index = f.IndexScalarQuantizer(self.dim, f.ScalarQuantizer.QT_8bit, self.metric)
        else:
            nlist = c.nlist or max(1, min(int(math.sqrt(n)), n // 39))
            m = _pq_bytes(self.dim, c.pq_bytes)
            bits = 8 if train.shape[0] >= 256 * 4 else 4  # PQ centroids need training rows
            quantizer = f.IndexFlat(self.dim, self.metric)
            index = f.IndexIVFPQ(quantizer, self.dim, nlist, m, bits, self.metric)
            index.own_fields = True
            quantizer.this.disown()
            index.cp.min_points_per_centroid = 1  # small galleries: no warning spam, training still works
            index.pq.cp.min_points_per_centroid = 1
        index.train(train)
        return index

    # -- changes ---------------------------------------------------------------------------------------------------
    def _writable(self) -> None:
        """Before a change: a memory-mapped (read-only) index is copied into memory, and an index shared with
        another gallery (copy-on-write) is cloned; the original, which another gallery may be searching, is
        never changed."""
        f = self.faiss
        if self.read_only:
            self.index = self._in_memory(self.index)
        elif self.shared:
            if self.config.kind == "binary":
                self.index = f.deserialize_index_binary(f.serialize_index_binary(self.index))
            else:
                self.index = f.deserialize_index(f.serialize_index(self.index))
        self.shared = self.read_only = False

    def _in_memory(self, old: Any) -> Any:
        """An in-memory IVF-PQ index equal to the memory-mapped ``old`` (whose lists FAISS cannot clone)."""
        f = self.faiss
        quantizer = f.clone_index(old.quantizer)
        new = f.IndexIVFPQ(quantizer, old.d, old.nlist, old.pq.M, old.pq.nbits, old.metric_type)
        new.own_fields = True
        quantizer.this.disown()
        f.copy_array_to_vector(f.vector_to_array(old.pq.centroids), new.pq.centroids)
        new.by_residual, new.is_trained = old.by_residual, True
        new.precompute_table()
        lists = old.invlists
        for i in range(old.nlist):
            if lists.list_size(i):
                new.invlists.add_entries(i, lists.list_size(i), lists.get_ids(i), lists.get_codes(i))
        new.ntotal = old.ntotal
        return new

    def add(self, embeddings: torch.Tensor) -> None:
        """Append rows (the gallery appends them in the same order): new FAISS ids map to the new rows.

        A new index is first trained on a sample of all of ``embeddings`` (its size also sets IVF's ``nlist``);
        the rows then go in chunks of :data:`ADD_CHUNK`, so memory-mapped rows are read a chunk at a time.

        Args:
            embeddings: ``(n, D)`` rows (may be memory-mapped).
        """
        n = embeddings.shape[0]
        if n == 0:
            return
        if self.index is None:
            self.index = self._new_index(embeddings)
        self._writable()
        self.file_record = None
        first_row = int((self.row_of_id >= 0).sum())
        for start in range(0, n, ADD_CHUNK):
            self.index.add(self._prepare(embeddings[start : start + ADD_CHUNK]))  # (chunk, D) prepared copy
        self.row_of_id = np.concatenate([self.row_of_id, np.arange(first_row, first_row + n, dtype=np.int64)])

    def remove(self, rows: torch.Tensor) -> None:
        """Tombstone the FAISS ids of gallery rows ``rows``; later rows move up, as they do in the gallery."""
        live = self.row_of_id >= 0
        gone = np.zeros(int(live.sum()), dtype=bool)
        gone[rows.cpu().numpy().astype(np.int64)] = True
        ids = np.flatnonzero(live)  # FAISS id of each current row, in row order
        self.row_of_id = self.row_of_id.copy()
        self.row_of_id[ids[gone]] = -1
        self.row_of_id[ids[~gone]] = np.arange(int((~gone).sum()), dtype=np.int64)

    def compact(self, embeddings: torch.Tensor) -> bool:
        """Rebuild from the live rows ``embeddings`` once the dead outnumber them; returns whether it did."""
        dead = int((self.row_of_id < 0).sum())
        if self.index is None or dead <= max(len(embeddings), 16):
            return False
        self._writable()
        self.file_record = None
        self.index.reset()  # IVF / PQ / int8 keep their training
        self.row_of_id = np.empty(0, np.int64)
        self.add(embeddings)
        return True

    def copy(self) -> AnnSearch:
        """A copy sharing the FAISS index until either changes it (then the changer clones it first)."""
        other = AnnSearch(self.head, self.dim, self.config, index=self.index, row_of_id=self.row_of_id)
        other.read_only, other.file_record = self.read_only, self.file_record
        other.shared = self.shared = self.index is not None
        return other

    def ids_of_rows(self) -> np.ndarray:
        """``(N,)`` FAISS id of each gallery row (what a saved gallery stores)."""
        live = np.flatnonzero(self.row_of_id >= 0)
        return live[np.argsort(self.row_of_id[live], kind="stable")]

    # -- search ----------------------------------------------------------------------------------------------------
    def shortlist_size(self, k: int) -> int:
        if self.config.shortlist:
            return max(k, self.config.shortlist)
        return max(50 * k, 500) if self.config.kind == "binary" else max(10 * k, 100)

    def _candidates(self, probes: np.ndarray, wide: int) -> np.ndarray:
        """``(P, wide)`` FAISS ids (-1: none) for prepared probes."""
        c, index = self.config, self.index
        if c.kind == "hnsw":
            index.hnsw.efSearch = max(c.ef_search, wide)
        elif c.kind == "ivfpq":
            index.nprobe = min(c.nprobe, index.nlist)
        return index.search(probes, wide)[1]

    @torch.inference_mode()
    def search(self, probes: torch.Tensor, embeddings: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best rows of each probe among its shortlist, re-scored by the head, best first.

        Args:
            probes: ``(P, D)`` probe embeddings.
            embeddings: ``(N, D)`` gallery rows (float; may be memory-mapped).
            k: Rows per probe (at most ``N``).

        Returns:
            ``(scores (P, k), rows (P, k))`` in the head's score units.
        """
        n = embeddings.shape[0]
        k = min(k, n)
        prepared = self._prepare(probes)
        total = int(self.index.ntotal)
        wide = min(total, self.shortlist_size(k))
        scores = torch.empty(probes.shape[0], k)
        rows_out = torch.empty(probes.shape[0], k, dtype=torch.long)
        pending = np.arange(probes.shape[0])
        while pending.size:
            ids = self._candidates(prepared[pending], wide)  # (p, wide)
            rows = np.where(ids >= 0, self.row_of_id[np.maximum(ids, 0)], -1)  # tombstones and gaps: -1
            retry = ((rows >= 0).sum(axis=1) < k) & (wide < total)  # refill: widen where too many were dead
            done = pending[~retry]
            if done.size:
                s, r = self._rescore(probes[done], torch.from_numpy(rows[~retry]), embeddings, k)
                scores[done], rows_out[done] = s, r
            pending = pending[retry]
            wide = min(total, wide * 4)
        return scores, rows_out  # (P, k), (P, k)

    def _rescore(
        self, probes: torch.Tensor, rows: torch.Tensor, embeddings: torch.Tensor, k: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p, k)`` scores and rows: each probe's live shortlist rows ``(p, w)`` (-1: none) scored by the head.

        A probe with fewer than ``k`` live rows (only a gallery emptied by deletes can cause it) gets the
        worst score and row 0 in the rest."""
        p, w = rows.shape
        best = self.head.higher_is_similar
        safe = rows.clamp(min=0)  # (p, w)
        cand = embeddings[safe.reshape(-1)]  # (p * w, D)
        flat = self.head(probes[:, None].expand(p, w, probes.shape[1]).reshape(p * w, -1), cand)  # (p * w,)
        s = flat.reshape(p, w).masked_fill(rows < 0, -math.inf if best else math.inf)  # (p, w)
        v, pick = s.topk(k, dim=1, largest=best)  # (p, k)
        return v, safe.gather(1, pick)
