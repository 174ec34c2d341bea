"""The gallery a server serves, kept equal to its file: another process's enroll or unenroll shows at once.

Before every request that reads the gallery, :meth:`ServedGallery.current` compares the file's stamp (device,
inode, size, modification and change times, and a hash of the safetensors header, which holds every row's
identity) with the one it loaded, and reloads when they differ. ``pairsim enroll`` / ``unenroll`` replace
the file atomically (a new inode), so a change is never missed; a rewrite in place that keeps size and times
still changes the header hash when any name changes. A deleted file is an empty gallery; a file that cannot
be read any more is an error (503) until it is fixed, never the identities it held before.

The gallery is searched as its file records (:mod:`pairsim.search.stored`): a gallery saved with an
approximate index is served from that index (read only after its hash matches the record), and each write
(enroll, delete) saves the index with the file: deletes tombstone rows, so no deleted identity is ever
returned, and the index is rebuilt once the deleted outnumber the rows.

Example:
    >>> served = ServedGallery("staff.safetensors", model)  # doctest: +SKIP
    >>> served.current().identify(model.encode_a(["probe"]))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from pairsim.errors import DataError, PairsimError
from pairsim.gallery import Gallery, load_gallery, save_gallery, writer_lock
from pairsim.safe_io import kind_of
from pairsim.search import GalleryIndex
from pairsim.search.stored import open_index, search_record
from pairsim.serve.errors import RequestError

T = TypeVar("T")
Stamp = tuple[int, int, int, int, int, bytes]
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on a header


def file_stamp(path: Path) -> Stamp | None:
    """What identifies the gallery file's current content (None: no such file).

    Returns:
        ``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns, sha256 of the safetensors header)``, all read
        from one open file, so they describe one version of it.

    Raises:
        DataError: Something other than a regular file (or a link to one) is at ``path``: a directory, a FIFO,
            a socket, a device. It is never opened (a FIFO would block the open, and every request with it).
    """
    try:
        st = os.stat(path)  # follows a link; never opens what is there
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:  # a link loop, a folder that cannot be searched
        raise DataError(f"gallery {path} cannot be read ({err.strerror}); expected a regular file") from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_a_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO swapped in meanwhile: no wait
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _not_a_file(path)
        head = f.read(8)
        size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        digest = hashlib.sha256(head + f.read(min(size, _MAX_HEADER))).digest()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest


def _not_a_file(path: Path) -> DataError:
    kind = kind_of(path)
    if kind == "a symbolic link":
        kind = f"a symbolic link to {kind_of(path.resolve()) or 'nothing'}"
    return DataError(f"gallery {path} is {kind}; expected a regular file (a safetensors gallery)")


class ServedGallery:
    """A gallery file and the searchable index of what it held when last read.

    Args:
        path: The gallery file (created by the first enroll if missing).
        model: The serving model: galleries of other models are refused; new rows are written with its fingerprint.
    """

    def __init__(self, path: str | Path, model: Any) -> None:
        self.path = Path(path)
        self.model = model
        self.fingerprint = model.fingerprint()
        self._lock = threading.Lock()  # guards _index / _stamp between request threads
        self._stamp: Stamp | None = None
        self._on_disk = False  # as the file records
        self._index = self._empty()
        self._reload(file_stamp(self.path), strict=True)  # a bad file at start is the user's error, raised as is

    def _empty(self) -> GalleryIndex:
        dim = self.model.embedding_dim
        return self._index_of([], torch.empty(0, dim))  # (0, D)

    def _index_of(self, names: list[str], embeddings: torch.Tensor) -> GalleryIndex:
        return GalleryIndex(names, embeddings, head=self.model.head, threshold=self.model.config.threshold)

    def _reload(self, stamp: Stamp | None, *, strict: bool = False) -> None:
        """Read the file whose stamp is ``stamp`` (None: deleted, so empty); call with ``_lock`` held or at start."""
        if stamp is None:
            self._index, self._stamp = self._empty(), None
            return
        try:
            gallery = load_gallery(self.path, self.model, allow_empty=True)  # refuses another model's gallery
        except PairsimError as err:
            if strict:
                raise
            raise RequestError(503, f"the gallery file changed on disk and cannot be used: {err}") from None
        index = open_index(gallery, self.path, head=self.model.head, threshold=self.model.config.threshold)
        self._on_disk = bool((gallery.search or {}).get("on_disk"))
        self._index, self._stamp = index, stamp

    def current(self) -> GalleryIndex:
        """The gallery as its file holds it now (reloaded if the file changed since it was last read).

        Raises:
            RequestError: 503 if the changed file cannot be read (nothing is served from the old one).
        """
        try:
            stamp = file_stamp(self.path)
        except PairsimError as err:
            raise RequestError(503, f"the gallery cannot be used: {err}") from None
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
            return self._index

    def update(self, change: Callable[[GalleryIndex], T]) -> tuple[T, GalleryIndex]:
        """Apply ``change`` to a copy of the current gallery under the writer lock, write the file atomically,
        then serve the copy. If ``change`` raises, nothing is written.

        Returns:
            What ``change`` returned, and the new gallery.
        """
        with writer_lock(self.path):  # other writers (threads, pairsim enroll / unenroll) wait
            new = self.current().copy()  # an approximate index is shared until the change writes to it
            result = change(new)
            record, ids = search_record(new, self.path, on_disk=self._on_disk)
            save_gallery(self.path, Gallery(names=new.names, embeddings=new.embeddings, fingerprint=self.fingerprint,
                                            search=record, search_ids=ids))  # fmt: skip
            with self._lock:
                try:
                    self._index, self._stamp = new, file_stamp(self.path)
                except PairsimError:  # replaced by something else right after the write: read it again next time
                    self._index, self._stamp = new, None
        return result, new
