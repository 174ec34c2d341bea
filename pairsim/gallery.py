"""The gallery file of ``pairsim enroll`` / ``identify``: enrolled embeddings, who each row is, and which model made them.

A gallery is a safetensors file: the ``embeddings`` tensor ``(N, D)`` (side b of the model), and in its
metadata the identity of each row and the fingerprint of the model's towers. Embeddings of one model mean
nothing to another, so a gallery is only read together with the model that must match it.

Every name that is saved or read follows the one name policy of :mod:`pairsim.names` (length, no control,
invisible or bidirectional characters, not ``unknown`` nor a look-alike of it): :func:`save_gallery` stores
each name in its NFC form and refuses a bad name or two spellings of one identity (equal after NFKC and
case-folding), and :func:`read_gallery` reads the names of a file written before names were normalised in
their NFC form, and names the bad name (or the two spellings of one identity) of a file written before the
policy (remove it with ``pairsim unenroll``, which reads such a file and matches the exact spelling first).
The file is written under the output-path policy of :mod:`pairsim.safe_io` (a regular file or a new name; a
symbolic link is followed to its regular file).

A gallery may also record how it is searched (``search`` in its metadata: the chosen index, whether its rows
are read memory-mapped, and the sha256 of an approximate index file beside it) and the FAISS id of each row
(the ``search_ids`` tensor); :mod:`pairsim.search.stored` reads and writes them. Files without them are
searched as before. ``on_disk`` galleries memory-map their embeddings from this file instead of reading them.

Example:
    >>> import tempfile, pathlib, torch
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.safetensors"
    >>> save_gallery(path, Gallery(names=["ann"], embeddings=torch.ones(1, 4), fingerprint="f00d"))
    >>> read_gallery(path).names
    ['ann']
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from pairsim.errors import DataError, ModelFileError
from pairsim.jsonio import loads_bounded
from pairsim.names import MAX_GALLERY_METADATA_BYTES, check_identity, colliding, identity_problem
from pairsim.safe_io import atomic_write, check_file_target, kind_of

if TYPE_CHECKING:
    from pairsim.model import PairModel

FORMAT = "pairsim-gallery"
VERSION = 1
_THREAD_LOCK = threading.Lock()


@dataclasses.dataclass
class Gallery:
    """Enrolled examples: ``names[i]`` is the identity of ``embeddings[i]`` ``(N, D)``."""

    names: list[str]
    embeddings: torch.Tensor
    fingerprint: str
    search: dict[str, Any] | None = None  # how it is searched (pairsim.search.stored); None: as before
    search_ids: torch.Tensor | None = None  # (N,) int64 FAISS id of each row, with an approximate index

    @property
    def identities(self) -> list[str]:
        """The distinct identities, sorted."""
        return sorted(set(self.names))


def empty_gallery(model: PairModel) -> Gallery:
    """A gallery with no one in it yet, for ``model``."""
    return Gallery(names=[], embeddings=torch.empty(0, model.embedding_dim), fingerprint=model.fingerprint())


def save_gallery(path: str | Path, gallery: Gallery) -> None:
    """Write ``gallery`` to ``path`` atomically (the previous file stays whole if writing fails).

    Raises:
        DataError: A name breaks the name policy (:func:`pairsim.names.check_identity`), two names are
            spellings of one identity (:func:`pairsim.names.identity_key`), the names would
            make the file's header too large, or ``path`` is not a regular file or a new name (see
            :func:`pairsim.safe_io.check_file_target`) or its folder does not exist.
    """
    if len(gallery.names) != gallery.embeddings.shape[0]:
        raise ValueError(f"{len(gallery.names)} names for {gallery.embeddings.shape[0]} embeddings")  # a bug
    normal = {name: check_identity(name) for name in dict.fromkeys(gallery.names)}  # each distinct name once
    twins = colliding(gallery.names)  # as given: "José" and "Jose" + U+0301 must not merge into one
    if twins is not None:
        raise DataError(
            f"gallery {path}: identities {twins[0]!a} and {twins[1]!a} are spellings of one name (equal up to "
            "case, accents' encoding or compatibility forms); keep one"
        )
    identities = json.dumps([normal[name] for name in gallery.names])  # stored in NFC form
    if len(identities) > MAX_GALLERY_METADATA_BYTES:
        raise DataError(
            f"gallery {path}: {len(gallery.names)} rows of names take {len(identities) / 1e6:.0f} MB, more than "
            f"the {MAX_GALLERY_METADATA_BYTES / 1e6:.0f} MB a gallery holds; split it into several galleries"
        )
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "identities": identities,
        "model_fingerprint": gallery.fingerprint,
    }
    tensors = {"embeddings": gallery.embeddings.detach().to("cpu", torch.float32).contiguous()}
    if gallery.search is not None:
        metadata["search"] = json.dumps(gallery.search)
    if gallery.search_ids is not None:
        tensors["search_ids"] = gallery.search_ids.detach().to("cpu", torch.int64).contiguous()
    atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=metadata), what="gallery")


@contextlib.contextmanager
def writer_lock(path: str | Path) -> Iterator[None]:
    """Exclusive write access to the gallery at ``path``: threads of this process, then other processes
    (``flock`` on ``.<name>.lock``). Hold it around read-modify-:func:`save_gallery` so no update is lost."""
    path = Path(path)
    with _THREAD_LOCK, _open_lock(path.with_name(f".{path.name}.lock")) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _open_lock(lock: Path) -> IO[bytes]:
    """The lock file, opened without following a link and without waiting (a FIFO would block the open);
    anything but a regular file there is one DataError naming it (it is left as it is)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(lock, flags, 0o644)
    except OSError as err:
        kind = kind_of(lock)
        what = kind if kind not in (None, "a regular file") else f"not usable ({err.strerror})"
        raise DataError(
            f"gallery lock {lock} is {what}; expected a regular file (pairsim creates it): remove it"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DataError(
            f"gallery lock {lock} is {kind_of(lock)}; expected a regular file (pairsim creates it): remove it"
        )
    return os.fdopen(fd, "wb")


def _fail(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(f"cannot read gallery {path}: {problem}")


def read_gallery(
    path: str | Path, *, allow_empty: bool = False, check_names: bool = True, mmap: bool | None = None
) -> Gallery:
    """Read and check a gallery file on its own (see :func:`load_gallery` to check it against a model).

    Args:
        path: The gallery file.
        allow_empty: Accept a gallery with no one in it (a server or ``unenroll`` may leave one); identifying
            against it is refused.
        check_names: Refuse names that break the name policy, and two spellings of one identity; names come
            back in NFC form (a gallery written before names were normalised may hold another form).
            ``unenroll`` reads without, to remove such names by their exact spelling.
        mmap: Memory-map the embeddings from the file (copy-on-write; pages are read as searches touch them)
            instead of reading them; None: as the gallery's ``search`` record says (``on_disk``).

    Raises:
        ModelFileError: Missing, unreadable, empty or inconsistent gallery, or one holding a name the policy
            refuses or two spellings of one identity (one line naming the file and the names).
    """
    path = Path(path)
    if path.is_dir():
        raise _fail(path, "it is a directory (expected a .safetensors file written by pairsim enroll)")
    if not path.is_file():
        raise _fail(path, "no such file (create it with pairsim enroll)")
    try:
        with safe_open(path, framework="pt") as f:
            meta: dict[str, Any] = dict(f.metadata() or {})
            keys = list(f.keys())
            search = _search_record(path, meta)
            if mmap is None:
                mmap = bool(search and search.get("on_disk"))
            embeddings = None
            if "embeddings" in keys:
                embeddings = _mapped(path, "embeddings") if mmap else None
                embeddings = f.get_tensor("embeddings") if embeddings is None else embeddings
            search_ids = f.get_tensor("search_ids") if "search_ids" in keys else None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise _fail(path, f"not a safetensors file ({' '.join(str(err).split())})") from None
    if embeddings is None:
        raise _fail(path, f"no 'embeddings' tensor (it holds {keys}); expected a gallery written by pairsim enroll")
    if "identities" not in meta:
        raise _fail(path, "no identities in its metadata; expected a gallery written by pairsim enroll")
    try:
        names = loads_bounded(meta["identities"], what=f"{path} identities")  # a DataError is a ValueError
    except ValueError:
        names = None
    if not (isinstance(names, list) and all(isinstance(n, str) and n for n in names)):
        raise _fail(path, "its identities are not a list of names")
    for name in dict.fromkeys(names) if check_names else ():
        problem = identity_problem(name)
        if problem is not None:
            shown = repr(name if len(name) <= 40 else name[:40] + "...")
            raise _fail(path, f"identity {shown} {problem} (remove it with pairsim unenroll, then enroll it again "
                              "under a valid name)")  # fmt: skip
    if check_names:
        normal = {name: check_identity(name) for name in dict.fromkeys(names)}  # NFC: older files may hold NFD
        twins = colliding(names)  # as stored: "José" and "Jose" + U+0301 must not merge into one
        if twins is not None:
            raise _fail(path, f"identities {twins[0]!a} and {twins[1]!a} are spellings of one name (equal up to "
                              "case, accents' encoding or compatibility forms); remove one with pairsim unenroll, "
                              "giving it exactly")  # fmt: skip
        names = [normal[name] for name in names]
    if embeddings.ndim != 2 or not embeddings.is_floating_point():
        raise _fail(
            path, f"embeddings of shape {tuple(embeddings.shape)} and type {embeddings.dtype}; expected (N, D) floats"
        )
    if len(names) != embeddings.shape[0]:
        raise _fail(path, f"{len(names)} identities for {embeddings.shape[0]} embeddings")
    if not names and not allow_empty:
        raise _fail(path, "it is empty (enroll someone first)")
    if not all(torch.isfinite(embeddings[i : i + 65536]).all() for i in range(0, len(names), 65536)):
        raise _fail(path, "its embeddings hold NaN or infinite values")
    if search_ids is not None and (search_ids.dtype != torch.int64 or tuple(search_ids.shape) != (len(names),)):
        raise _fail(path, f"search_ids of shape {tuple(search_ids.shape)} and type {search_ids.dtype}; expected "
                          f"({len(names)},) int64")  # fmt: skip
    fingerprint = meta.get("model_fingerprint")
    if not fingerprint:
        raise _fail(path, "no model fingerprint (written by an older pairsim?); enroll the people again")
    return Gallery(names=names, embeddings=embeddings.float(), fingerprint=fingerprint, search=search,
                   search_ids=search_ids)  # fmt: skip


def _search_record(path: Path, meta: dict[str, Any]) -> dict[str, Any] | None:
    if "search" not in meta:
        return None
    try:
        record = loads_bounded(meta["search"], what=f"{path} search")
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise _fail(path, "its search record is not a JSON object")
    return record


def _mapped(path: Path, key: str) -> torch.Tensor | None:
    """Tensor ``key`` of a safetensors file, memory-mapped (None: not float32, read it the usual way)."""
    import numpy as np

    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = loads_bounded(f.read(size), what=f"{path} header", max_bytes=100 * 1024 * 1024)
    entry = header.get(key) if isinstance(header, dict) else None
    if not isinstance(entry, dict) or entry.get("dtype") != "F32" or len(entry.get("shape", ())) != 2:
        return None
    begin, end = entry["data_offsets"]
    rows, dim = entry["shape"]
    if end - begin != rows * dim * 4 or rows == 0:
        return None
    array = np.memmap(path, dtype=np.float32, mode="c", offset=8 + size + begin, shape=(rows, dim))
    return torch.from_numpy(array)  # (N, D) on disk: copy-on-write, never written back


def load_gallery(path: str | Path, model: PairModel, *, allow_empty: bool = False) -> Gallery:
    """Read a gallery and check that ``model`` made it (same towers, same weights, same embedding size).

    Raises:
        ModelFileError: The gallery is unreadable (see :func:`read_gallery`) or was made by another model.
    """
    path = Path(path)
    gallery = read_gallery(path, allow_empty=allow_empty)
    size = model.embedding_dim
    if gallery.embeddings.shape[1] != size:
        raise _fail(path, f"embeddings of size {gallery.embeddings.shape[1]}, but the model gives size {size}")
    if gallery.fingerprint != model.fingerprint():
        raise ModelFileError(
            f"gallery {path} was enrolled with another model (its fingerprint differs); use the model it was "
            "enrolled with, or enroll the people again with this one"
        )
    return gallery


def check_gallery_target(path: Path) -> None:
    """Raise a one-line DataError if a gallery cannot be written at ``path`` (the output-path policy of
    :func:`pairsim.safe_io.check_file_target`: a regular file, a link to one, or a new name)."""
    if kind_of(path) == "a directory":
        raise DataError(f"--gallery {path} is a directory; expected a .safetensors file name")
    if not path.parent.is_dir():
        raise DataError(f"enroll: --gallery {path}: folder {path.parent} does not exist")
    check_file_target(path, what="--gallery")
