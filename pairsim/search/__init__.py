"""Gallery search: which enrolled identity a probe embedding is closest to, in the head's own score.

Exact brute force (:mod:`pairsim.search.exact`) by default; with ``faiss-cpu`` installed and a gallery
past :data:`~pairsim.search.index.FAISS_MIN_ROWS` rows, a flat FAISS index matching the head's direction
(:mod:`pairsim.search.faiss_index`), whose candidates are re-scored by the head, so results equal brute
force. :class:`~pairsim.search.index.GalleryIndex` adds and removes identities without re-encoding anything.
"""

from pairsim.search.index import FAISS_MIN_ROWS, GalleryIndex, Match

__all__ = ["FAISS_MIN_ROWS", "GalleryIndex", "Match"]
