"""A gallery file's search record: which index it uses, and its approximate index file, read and written.

A gallery (:mod:`pairsim.gallery`) records ``search = {"index": BACKEND, "on_disk": bool, "ann": {...}}``
and ``search_ids`` (the FAISS id of each row). :func:`open_index` turns a read gallery into a
:class:`~pairsim.search.GalleryIndex`, attaching the approximate index from beside the file when its hash
matches (:mod:`pairsim.search.index_file`); :func:`search_record` is what a writer saves with the gallery
(building the approximate index ``auto`` gives its size, writing its file when it changed). A gallery
without a record is searched as before (``auto``); nothing is recorded for one that stays exact in memory,
so such files are written exactly as before.

Example:
    >>> index = open_index(read_gallery(path), path, head=model.head, threshold=0.5)  # doctest: +SKIP
    >>> record, ids = search_record(index, path)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pairsim.errors import ConfigError
from pairsim.heads import Head
from pairsim.search.ann import AnnConfig
from pairsim.search.index import BACKENDS, GalleryIndex
from pairsim.search.index_file import index_path, read_index, write_index


def open_index(
    gallery: Any,
    path: str | Path,
    *,
    head: Head,
    threshold: float | None,
    backend: str | None = None,
) -> GalleryIndex:
    """The searchable index of ``gallery`` (read from ``path``), as its record says unless ``backend`` is given.

    Args:
        gallery: A :class:`pairsim.gallery.Gallery` (names, embeddings, search, search_ids).
        path: Its file (the approximate index lies beside it).
        head: The model's head.
        threshold: The model's threshold.
        backend: Override the recorded index (``exact``, ``hnsw``...); None: as recorded (``auto`` if none).

    Raises:
        ConfigError: The record or ``backend`` names no known index.
    """
    record = gallery.search or {}
    chosen = backend or record.get("index", "auto")
    if chosen not in BACKENDS:
        raise ConfigError(f"gallery {path}: search index {chosen!r}: expected one of {', '.join(BACKENDS)}")
    ann_meta = record.get("ann")
    ann = AnnConfig.from_dict(dict(ann_meta["config"])) if isinstance(ann_meta, dict) and "config" in ann_meta else None
    if ann is not None and chosen not in ("auto", ann.kind):
        ann = None  # another kind asked for: built with its defaults when searched
    index = GalleryIndex(gallery.names, gallery.embeddings, head=head, threshold=threshold, backend=chosen, ann=ann)  # type: ignore[arg-type]
    if ann is not None and gallery.search_ids is not None:
        search = read_index(
            index_path(path),
            ann_meta,
            head=head,
            dim=gallery.embeddings.shape[1],
            ids=gallery.search_ids.numpy(),
            on_disk=bool(record.get("on_disk")),
        )
        if search is not None:
            search.file_record = dict(ann_meta)
            index.attach(search)
    return index


def search_record(
    index: GalleryIndex, path: str | Path, *, on_disk: bool = False
) -> tuple[dict[str, Any] | None, torch.Tensor | None]:
    """What a writer saves with ``index``'s gallery at ``path``: ``(search record, search_ids)``.

    Builds the approximate index the gallery's choice gives its size (:meth:`GalleryIndex.prepare`), rebuilds
    it once deletes outnumber the rows, and writes its file beside ``path`` unless the file already holds it.

    Returns:
        ``(None, None)`` for a gallery searched exactly in memory (its file is written as before).
    """
    search = index.prepare()
    record: dict[str, Any] = {"index": index.backend, "on_disk": on_disk}
    if search is None:
        return (None if record == {"index": "auto", "on_disk": False} else record), None
    search.compact(index.embeddings)
    if search.file_record is None:
        search.file_record = write_index(search, index_path(path))
    record["ann"] = search.file_record
    return record, torch.from_numpy(search.ids_of_rows())
