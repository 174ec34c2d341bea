"""Exact brute-force search: the head scores every probe against every gallery row, chunk by chunk."""

from __future__ import annotations

import torch

from pairsim.heads import Head


class ExactSearch:
    """Brute force over ``embeddings`` with ``head.matrix``; memory grows with ``chunk``, not the gallery.

    Args:
        head: The model's head (owns the score and its direction).
        chunk: Gallery rows scored at once.

    Example:
        >>> from pairsim.heads import HEADS
        >>> search = ExactSearch(HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine")))
        >>> scores, rows = search.search(torch.eye(2), torch.eye(2), k=1)
        >>> rows.tolist()
        [[0], [1]]
    """

    name = "exact"
    exact = True  # results equal brute force

    def __init__(self, head: Head, *, chunk: int = 65536) -> None:
        self.head = head
        self.chunk = chunk

    def add(self, embeddings: torch.Tensor) -> None:
        """Nothing to maintain: the gallery's rows are read at search time."""

    def remove(self, rows: torch.Tensor) -> None:
        """Nothing to maintain."""

    @torch.inference_mode()
    def search(self, probes: torch.Tensor, embeddings: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best gallery rows of each probe, best first.

        Args:
            probes: ``(P, D)`` probe embeddings.
            embeddings: ``(N, D)`` gallery embeddings.
            k: Rows per probe (at most ``N``).

        Returns:
            ``(scores (P, k), rows (P, k))`` in the head's score units.
        """
        best = self.head.higher_is_similar
        k = min(k, embeddings.shape[0])
        scores, rows = [], []
        for start in range(0, embeddings.shape[0], self.chunk):
            s = self.head.matrix(probes, embeddings[start : start + self.chunk])  # (P, c)
            v, i = s.topk(min(k, s.shape[1]), dim=1, largest=best)  # (P, <=k)
            scores.append(v)
            rows.append(i + start)
        v, pick = torch.cat(scores, dim=1).topk(k, dim=1, largest=best)  # (P, k)
        return v, torch.cat(rows, dim=1).gather(1, pick)  # (P, k), (P, k)
