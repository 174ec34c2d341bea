"""A gallery of enrolled identities: rows of embeddings (in memory, or memory-mapped from the gallery file),
each labelled with its identity.

Identification is a nearest-row search: a probe's best identity is the identity of its best-scoring row
(each identity's best example), ``unknown`` when that score is on the wrong side of the threshold.

Search backends (``backend``): ``exact`` (brute force), ``faiss`` (a flat FAISS index, re-scored: equal to
brute force), and the approximate kinds of :mod:`pairsim.search.ann` (``hnsw``, ``ivfpq``, ``int8``,
``binary``: a shortlist re-scored exactly by the head). ``auto`` picks by size (:func:`auto_kind`): exact
below :data:`FAISS_MIN_ROWS` rows, flat FAISS above, and, when a writer (``pairsim enroll`` / ``unenroll``,
the service's enroll / delete) saves a gallery of :data:`ANN_MIN_ROWS` rows or more, an approximate index
(``ivfpq``: at 1M rows it built 7x faster than ``hnsw``, in 1/28 of its memory, with recall@10 as high;
``benchmarks/RESULTS.md``) written beside the gallery and used from then on. ``hnsw`` (fastest searches)
is chosen explicitly.
Every :class:`Match` says whether its search was exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import torch

from pairsim.errors import ConfigError, DataError
from pairsim.heads import Head
from pairsim.names import check_identity, check_new_identity, find_identity
from pairsim.search.ann import ANN_KINDS, AnnConfig, AnnSearch
from pairsim.search.exact import ExactSearch

FAISS_MIN_ROWS = 20_000  # from this many rows on, "auto" uses FAISS (where installed and the head has a metric)
ANN_MIN_ROWS = 200_000  # from this many rows on, a saved "auto" gallery gets an approximate index (ivfpq)
Backend = Literal["auto", "exact", "faiss", "hnsw", "ivfpq", "int8", "binary"]
BACKENDS = ("auto", "exact", "faiss", *ANN_KINDS)


def auto_kind(rows: int) -> str:
    """The search ``auto`` gives a saved gallery of ``rows`` rows (where FAISS and the head allow).

    Example:
        >>> [auto_kind(n) for n in (1_000, 50_000, 1_000_000)]
        ['exact', 'faiss', 'ivfpq']
    """
    if rows < FAISS_MIN_ROWS:
        return "exact"
    if rows < ANN_MIN_ROWS:
        return "faiss"
    return "ivfpq"  # ~D/8 + 8 bytes a row in memory; the float rows re-score its shortlists


@dataclasses.dataclass(frozen=True)
class Match:
    """A probe's best gallery match."""

    identity: str | None  # None: unknown (the best score is past the threshold)
    nearest: str  # the best identity, whatever the threshold says
    score: float  # in the head's units
    exact: bool = True  # False: the row came from an approximate shortlist (its score is still the head's)


class GalleryIndex:
    """Identities and their ``(N, D)`` embeddings, searchable with the model's head.

    Args:
        names: Identity of each row.
        embeddings: ``(N, D)`` rows (side-b embeddings).
        head: The model's head.
        threshold: The model's decision threshold (None: every best match is accepted).
        backend: One of :data:`BACKENDS` (``auto``: see the module's text).
        faiss_min_rows: The ``auto`` switch-over size to FAISS.
        ann: Parameters of an approximate backend (default: :class:`~pairsim.search.ann.AnnConfig` of its kind).

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
        ann: AnnConfig | None = None,
    ) -> None:
        if len(names) != embeddings.shape[0]:
            raise DataError(f"gallery: {len(names)} identities for {embeddings.shape[0]} embedding rows")
        self.names = list(names)
        if backend not in BACKENDS:
            raise ConfigError(f"gallery search {backend!r}: expected one of {', '.join(BACKENDS)}")
        self.embeddings = embeddings.detach().float().cpu().contiguous()  # (N, D); a memory map stays one
        self.head = head.cpu().eval()
        self.threshold = threshold
        self.backend = backend
        self.faiss_min_rows = faiss_min_rows
        self.ann = ann if ann is not None or backend not in ANN_KINDS else AnnConfig(kind=backend)
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
        if len(self) < self.faiss_min_rows or not faiss_index.supports(self.head):
            return "exact"
        return self._search.name if isinstance(self._search, AnnSearch) else "faiss"  # approximate once saved so

    def searcher(self) -> Any:
        """The search backend for the gallery's current size (rebuilt only when the choice changes)."""
        wanted = self._wanted()
        if self._search is None or self._search.name != wanted:
            if wanted == "faiss":
                from pairsim.search.faiss_index import FaissSearch

                self._search = FaissSearch(self.head, self.embeddings.shape[1])
                self._search.add(self.embeddings)
            elif wanted in ANN_KINDS:
                self._search = AnnSearch(self.head, self.embeddings.shape[1], self.ann or AnnConfig(kind=wanted))
                self._search.add(self.embeddings)  # trained on a sample of all rows, added in chunks
            else:
                self._search = ExactSearch(self.head)
        return self._search

    @property
    def exact(self) -> bool:
        """Whether searches of the gallery as it is now are exact (False: an approximate shortlist)."""
        return bool(self.searcher().exact)

    def prepare(self) -> AnnSearch | None:
        """Build the approximate index a writer saves with the gallery: the chosen kind, or under ``auto`` the
        kind :func:`auto_kind` gives this size (where FAISS and the head allow); None when search stays exact."""
        from pairsim.search.ann import faiss_module, supports_ann

        kind = auto_kind(len(self)) if self.backend == "auto" else self.backend
        if self.backend == "auto" and kind in ANN_KINDS and supports_ann(self.head):
            try:
                faiss_module()
            except ConfigError:
                return None
            if not (isinstance(self._search, AnnSearch) and self._search.name == kind):
                self.ann = self.ann if self.ann is not None and self.ann.kind == kind else AnnConfig(kind=kind)
                search = AnnSearch(self.head, self.embeddings.shape[1], self.ann)
                search.add(self.embeddings)
                self._search = search
        search = self.searcher() if self._wanted() in ANN_KINDS else None
        return search if isinstance(search, AnnSearch) else None

    def attach(self, search: AnnSearch) -> None:
        """Use ``search`` (an index read from the gallery's file, :func:`pairsim.search.index_file.read_index`)."""
        self.ann = search.config
        self._search = search

    def copy(self) -> GalleryIndex:
        """A copy to change (the service's writes): rows are shared until replaced, an approximate index is
        copied on write."""
        other = GalleryIndex(list(self.names), self.embeddings, head=self.head, threshold=self.threshold,
                             backend=self.backend, faiss_min_rows=self.faiss_min_rows, ann=self.ann)  # fmt: skip
        if isinstance(self._search, AnnSearch):
            other._search = self._search.copy()
        return other

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
            if isinstance(self._search, AnnSearch):
                self._search.compact(self.embeddings)  # once the deleted outnumber the live rows
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
        exact = self.exact
        matches = []
        for score, row in zip(scores[:, 0].tolist(), rows[:, 0].tolist(), strict=True):
            known = self.threshold is None or bool(self.head.is_similar(torch.tensor(score), self.threshold))
            matches.append(Match(self.names[row] if known else None, self.names[row], score, exact))
        return matches
