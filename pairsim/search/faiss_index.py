"""A flat (exact) FAISS index matching the head's direction, its candidates re-scored by the head.

The index only proposes candidates; the reported scores and their order come from the head itself
(``head(probe, candidate)``), so for these exact indexes the results equal brute force.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pairsim.errors import ConfigError
from pairsim.heads import Head

RERANK = 16  # candidates per probe the head re-scores (covers float near-ties between the index and the head)


def faiss_module() -> Any:
    try:
        import faiss
    except ImportError:
        raise ConfigError("FAISS search needs faiss-cpu: pip install 'pairsim[faiss]'") from None
    return faiss


def supports(head: Head) -> bool:
    """Whether a FAISS metric ranks like ``head`` (else search stays exact): the head declares one
    (:attr:`~pairsim.heads.Head.faiss_metric`) and scores with nothing but the two embeddings."""
    return head.faiss_metric is not None and head.beyond_embeddings() is None


class FaissSearch:
    """Flat FAISS index over the gallery rows, kept in step with the gallery's adds and removes.

    Args:
        head: The model's head.
        dim: Embedding size.

    Raises:
        ConfigError: faiss is not installed, or no FAISS metric ranks like this head.
    """

    name = "faiss"
    exact = True  # a flat index, re-scored: results equal brute force

    def __init__(self, head: Head, dim: int) -> None:
        faiss = faiss_module()
        if not supports(head):
            extra = head.beyond_embeddings()
            raise ConfigError(
                f"no FAISS metric ranks like head {head.config.name!r}{f' with {extra}' if extra else ''}; "
                "use exact search"
            )
        self.normalize = head.faiss_normalize
        self.head = head
        self.index = faiss.IndexFlat(dim, getattr(faiss, str(head.faiss_metric)))

    def _prepare(self, x: torch.Tensor) -> np.ndarray:
        x = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        if self.normalize:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
        return x

    def add(self, embeddings: torch.Tensor) -> None:
        """Append rows (the gallery appends them in the same order)."""
        if embeddings.shape[0]:
            self.index.add(self._prepare(embeddings))

    def remove(self, rows: torch.Tensor) -> None:
        """Drop rows by position; later rows move up, as they do in the gallery."""
        faiss = faiss_module()
        ids = np.ascontiguousarray(rows.cpu().numpy().astype(np.int64))
        self.index.remove_ids(faiss.IDSelectorBatch(ids))

    @torch.inference_mode()
    def search(self, probes: torch.Tensor, embeddings: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`ExactSearch.search`: ``(scores (P, k), rows (P, k))``, best first, in the head's units."""
        n = embeddings.shape[0]
        k = min(k, n)
        wide = min(n, max(k, RERANK))
        _, cand = self.index.search(self._prepare(probes), wide)  # (P, wide) row ids
        rows = torch.from_numpy(cand).long()  # (P, wide)
        p, d = probes.shape
        scores = self.head(probes[:, None].expand(p, wide, d).reshape(-1, d), embeddings[rows.reshape(-1)])
        scores = scores.reshape(p, wide)  # (P, wide): the head's own scores
        v, pick = scores.topk(k, dim=1, largest=self.head.higher_is_similar)  # (P, k)
        return v, rows.gather(1, pick)
