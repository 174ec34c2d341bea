"""The approximate index's file beside its gallery (``G.safetensors.faiss``), written and read under a hash.

The gallery's metadata records the file's sha256 (and the FAISS id of each row, ``search_ids``); a file is
read only after its bytes hash to that value, through the one open descriptor that was hashed (no link is
followed, nothing but a regular file is opened), so a swapped, truncated or stale file is never parsed: it
is ignored with a warning and the index is rebuilt from the gallery's rows, which stay the truth. FAISS
files are not pickles, but they are parsed by C++; the hash keeps that parser to files pairsim wrote.

``on_disk`` opens an ``ivfpq`` file memory-mapped (``IO_FLAG_MMAP``): its inverted lists stay on disk and
are paged in by the searches that visit them; the index is copied into memory only when the gallery changes.

Example:
    >>> meta = write_index(search, Path("g.safetensors.faiss"))  # doctest: +SKIP
    >>> search = read_index(Path("g.safetensors.faiss"), meta, head=head, dim=384, ids=ids)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from pairsim.heads import Head
from pairsim.manifest import sha256_file
from pairsim.safe_io import atomic_write
from pairsim.search.ann import AnnConfig, AnnSearch, faiss_module

log = logging.getLogger("pairsim.search")
SUFFIX = ".faiss"


def index_path(gallery: str | Path) -> Path:
    """Where the index of the gallery file ``gallery`` lives: ``<gallery>.faiss`` beside it."""
    gallery = Path(gallery)
    return gallery.with_name(gallery.name + SUFFIX)


def write_index(search: AnnSearch, path: Path) -> dict[str, Any]:
    """Write ``search``'s FAISS index to ``path`` atomically.

    Returns:
        What the gallery's metadata records: ``{"file", "sha256", "ntotal", "config"}``.
    """
    faiss = search.faiss
    digest: dict[str, str] = {}

    def write(tmp: Path) -> None:
        if search.config.kind == "binary":
            faiss.write_index_binary(search.index, str(tmp))
        else:
            faiss.write_index(search.index, str(tmp))
        digest["sha256"] = sha256_file(tmp)

    atomic_write(path, write, what="gallery index")
    return {"file": path.name, "sha256": digest["sha256"], "ntotal": int(search.index.ntotal),
            "config": search.config.to_dict()}  # fmt: skip


def read_index(
    path: Path, meta: dict[str, Any], *, head: Head, dim: int, ids: np.ndarray, on_disk: bool = False
) -> AnnSearch | None:
    """The index at ``path`` if its bytes hash to ``meta["sha256"]`` and it fits the gallery, else None (warned).

    Args:
        path: The index file (:func:`index_path`).
        meta: What :func:`write_index` returned, as the gallery stores it.
        head: The model's head.
        dim: Embedding size.
        ids: ``(N,)`` FAISS id of each gallery row.
        on_disk: Memory-map an ``ivfpq`` file instead of reading it into memory.

    Raises:
        ConfigError: ``meta`` holds an invalid index configuration.
    """
    config = AnnConfig.from_dict(dict(meta.get("config") or {}))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        log.warning("gallery index %s cannot be opened (%s): rebuilding it from the gallery's rows", path, err.strerror)
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            log.warning("gallery index %s is not a regular file: rebuilding it from the gallery's rows", path)
            return None
        h = hashlib.sha256()
        for block in iter(lambda: os.read(fd, 1 << 22), b""):
            h.update(block)
        if h.hexdigest() != meta.get("sha256"):
            log.warning("gallery index %s does not match the gallery's record of it: rebuilding it", path)
            return None
        index = _parse(fd, config.kind, on_disk and config.kind == "ivfpq")
    finally:
        os.close(fd)
    total = int(index.ntotal)
    width = 8 * -(-dim // 8) if config.kind == "binary" else dim
    if total != meta.get("ntotal") or index.d != width or not _ids_fit(ids, total):
        log.warning("gallery index %s does not fit the gallery's rows: rebuilding it", path)
        return None
    row_of_id = np.full(total, -1, dtype=np.int64)
    row_of_id[ids] = np.arange(len(ids))
    search = AnnSearch(head, dim, config, index=index, row_of_id=row_of_id)
    search.read_only = on_disk and config.kind == "ivfpq"
    return search


def _ids_fit(ids: np.ndarray, total: int) -> bool:
    return (
        ids.ndim == 1 and (ids.size == 0 or (ids.min() >= 0 and ids.max() < total)) and np.unique(ids).size == ids.size
    )


def _parse(fd: int, kind: str, mmap: bool) -> Any:
    """Parse the hashed file through its open descriptor (the same inode that was hashed)."""
    faiss = faiss_module()
    proc = f"/proc/self/fd/{fd}"
    if os.path.exists(proc):
        if kind == "binary":
            return faiss.read_index_binary(proc)
        return faiss.read_index(proc, faiss.IO_FLAG_MMAP if mmap else 0)
    os.lseek(fd, 0, os.SEEK_SET)  # no /proc: read the bytes (never memory-mapped)
    data = np.frombuffer(b"".join(iter(lambda: os.read(fd, 1 << 22), b"")), dtype=np.uint8)
    return faiss.deserialize_index_binary(data) if kind == "binary" else faiss.deserialize_index(data)
