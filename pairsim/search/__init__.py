"""Gallery search: which enrolled identity a probe embedding is closest to, in the head's own score.

Exact brute force (:mod:`pairsim.search.exact`) by default; with ``faiss-cpu`` installed and a gallery
past :data:`~pairsim.search.index.FAISS_MIN_ROWS` rows, a flat FAISS index matching the head's direction
(:mod:`pairsim.search.faiss_index`), whose candidates are re-scored by the head, so results equal brute
force. Past :data:`~pairsim.search.index.ANN_MIN_ROWS` rows a saved gallery gets an approximate index
(:mod:`pairsim.search.ann`: HNSW, IVF-PQ, int8 or binary shortlists, re-scored exactly by the head; deletes are
tombstones), written beside the gallery under a hash (:mod:`pairsim.search.index_file`,
:mod:`pairsim.search.stored`). :class:`~pairsim.search.index.GalleryIndex` adds and removes identities without
re-encoding anything; every match says whether its search was exact.
"""

from pairsim.search.index import FAISS_MIN_ROWS, GalleryIndex, Match

__all__ = ["FAISS_MIN_ROWS", "GalleryIndex", "Match"]
