"""An in-memory gallery of enrolled identities: rows of embeddings, each labelled with its identity.

Identification is a nearest-row search: a probe's best identity is the identity of its best-scoring row
(each identity's best example), ``unknown`` when that score is on the wrong side of the threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import torch

from pairsim.errors import DataError
from pairsim.heads import Head
from pairsim.names import check_identity, check_new_identity, find_identity
from pairsim.search.exact import ExactSearch

FAISS_MIN_ROWS = 20_000  # from this many rows on, "auto" uses FAISS (where installed and the head has a metric)
Backend = Literal["auto", "exact", "faiss"]


@dataclasses.dataclass(frozen=True)
class Match:
    """A probe's best gallery match."""

    identity: str | None  # None: unknown (the best score is past the threshold)
    nearest: str  # the best identity, whatever the threshold says
    score: float  # in the head's units


class GalleryIndex:
    """Identities and their ``(N, D)`` embeddings, searchable with the model's head.

    Args:
        names: Identity of each row.
        embeddings: ``(N, D)`` rows (side-b embeddings).
        head: The model's head.
        threshold: The model's decision threshold (None: every best match is accepted).
        backend: ``exact``, ``faiss`` or ``auto`` (FAISS from ``faiss_min_rows`` rows on, where possible).
        faiss_min_rows: The ``auto`` switch-over size.

    Example:
        >>> from pairsim.heads import HEADS
        >>> head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
        >>> g = GalleryIndex(["ann", "bob"], torch.eye(2), head=head, threshold=0.5)
        >>> g.identify(torch.tensor([[0.9, 0.1], [0.5, 0.5]]))[0].identity
        'ann'
    """

    def __init__(
        self,
        names: Sequence[str],
        embeddings: torch.Tensor,
        *,
        head: Head,
        threshold: float | None = None,
        backend: Backend = "auto",
        faiss_min_rows: int = FAISS_MIN_ROWS,
    ) -> None:
        if len(names) != embeddings.shape[0]:
            raise DataError(f"gallery: {len(names)} identities for {embeddings.shape[0]} embedding rows")
        self.names = list(names)
        self.embeddings = embeddings.detach().float().cpu().contiguous()  # (N, D)
        self.head = head.cpu().eval()
        self.threshold = threshold
        self.backend = backend
        self.faiss_min_rows = faiss_min_rows
        self._search: Any = None

    def __len__(self) -> int:
        return len(self.names)

    @property
    def identities(self) -> list[str]:
        return sorted(set(self.names))

    # -- search backend ------------------------------------------------------------------------------------------
    def _wanted(self) -> str:
        if self.backend != "auto":
            return self.backend
        from pairsim.search import faiss_index

        try:
            faiss_index.faiss_module()
        except Exception:
            return "exact"
        return "faiss" if len(self) >= self.faiss_min_rows and faiss_index.supports(self.head) else "exact"

    def searcher(self) -> Any:
        """The search backend for the gallery's current size (rebuilt only when the choice changes)."""
        wanted = self._wanted()
        if self._search is None or self._search.name != wanted:
            if wanted == "faiss":
                from pairsim.search.faiss_index import FaissSearch

                self._search = FaissSearch(self.head, self.embeddings.shape[1])
                self._search.add(self.embeddings)
            else:
                self._search = ExactSearch(self.head)
        return self._search

    # -- enrolment ------------------------------------------------------------------------------------------------
    def add(self, identity: str, embeddings: torch.Tensor) -> None:
        """Enrol ``identity`` (stored in NFC form) with ``(n, D)`` example embeddings, replacing its earlier examples.

        Raises:
            DataError: ``identity`` breaks the name policy (:func:`pairsim.names.check_identity`), is another
                spelling of an enrolled identity (:func:`pairsim.names.check_new_identity`), no examples, or
                embeddings of another size.
        """
        identity = check_identity(identity, where="enroll: identity")
        check_new_identity(self.names, identity)
        if embeddings.ndim != 2 or embeddings.shape[0] == 0:
            raise DataError("enroll: needs an identity name and at least one example")
        if self.embeddings.shape[0] and embeddings.shape[1] != self.embeddings.shape[1]:
            raise DataError(
                f"enroll: embeddings of size {embeddings.shape[1]}, the gallery holds {self.embeddings.shape[1]}"
            )
        if identity in self.names:
            self.remove(identity)
        if self.embeddings.shape[0] == 0:
            self.embeddings = torch.empty(0, embeddings.shape[1])
        new = embeddings.detach().float().cpu()
        self.embeddings = torch.cat([self.embeddings, new]).contiguous()
        self.names += [identity] * new.shape[0]
        if self._search is not None:
            self._search.add(new)

    def find(self, identity: str) -> str | None:
        """The enrolled spelling ``identity`` means (exact, else equal up to case, accents' encoding or
        compatibility forms: :func:`pairsim.names.find_identity`), or None when not enrolled."""
        return find_identity(self.names, identity)

    def remove(self, identity: str) -> int:
        """Remove every row of ``identity`` (the stored spelling it means, :meth:`find`); returns how many.

        Raises:
            DataError: ``identity`` is not enrolled, or could mean several stored spellings.
        """
        stored = self.find(identity)
        if stored is None:
            raise DataError(f"identity {identity!r} is not enrolled")
        rows = [i for i, n in enumerate(self.names) if n == stored]
        keep = torch.ones(len(self.names), dtype=torch.bool)
        keep[rows] = False
        self.embeddings = self.embeddings[keep].contiguous()
        self.names = [n for n, k in zip(self.names, keep.tolist(), strict=True) if k]
        if self._search is not None:
            self._search.remove(torch.tensor(rows))
        return len(rows)

    # -- identification ---------------------------------------------------------------------------------------------
    def search(self, probes: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores (P, k), rows (P, k))``: each probe's ``k`` best rows, best first."""
        if len(self) == 0:
            raise DataError("the gallery is empty: enroll identities first")
        return self.searcher().search(probes.detach().float().cpu(), self.embeddings, k)

    def identify(self, probes: torch.Tensor) -> list[Match]:
        """Each ``(P, D)`` probe's best identity (or unknown) and score."""
        scores, rows = self.search(probes, k=1)  # (P, 1), (P, 1)
        matches = []
        for score, row in zip(scores[:, 0].tolist(), rows[:, 0].tolist(), strict=True):
            known = self.threshold is None or bool(self.head.is_similar(torch.tensor(score), self.threshold))
            matches.append(Match(self.names[row] if known else None, self.names[row], score))
        return matches
