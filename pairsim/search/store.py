"""Reading and writing a gallery file safely: one writer at a time, atomic replace.

The file is the format ``pairsim enroll`` writes (safetensors ``embeddings`` + the identities in its
metadata); rewriting a file keeps its other metadata (such as the fingerprint of the model that made it). Writers hold an exclusive ``flock`` on ``<gallery>.lock`` (one writer across threads and
processes) and write a temporary file that replaces the gallery with ``os.replace`` only once complete:
a crash mid-write leaves the previous gallery.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from pairsim.errors import ModelFileError

_THREAD_LOCK = threading.Lock()


@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Exclusive write access to the gallery at ``path`` (threads of this process, then other processes)."""
    with _THREAD_LOCK, open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_gallery(path: Path) -> tuple[list[str], torch.Tensor]:
    """Identity of each row and the ``(N, D)`` embeddings (the layout ``pairsim enroll`` writes).

    Raises:
        ModelFileError: The file is unreadable or its identities and embeddings do not match (one line).
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            names = json.loads((f.metadata() or {})["identities"])
            rows = f.get_tensor("embeddings")
    except (SafetensorError, OSError, KeyError, ValueError) as err:
        raise ModelFileError(f"cannot read gallery {path}: {' '.join(str(err).split())}") from None
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)) or rows.ndim != 2:
        raise ModelFileError(f"cannot read gallery {path}: expected a list of identities and (N, D) embeddings")
    if len(names) != rows.shape[0]:
        raise ModelFileError(f"cannot read gallery {path}: {len(names)} identities for {rows.shape[0]} embeddings")
    return names, rows.float()


def read_metadata(path: Path) -> dict[str, str]:
    """The gallery file's safetensors metadata (empty when the file does not exist or has none)."""
    from safetensors import safe_open

    if not path.is_file():
        return {}
    with safe_open(path, framework="pt") as f:
        return dict(f.metadata() or {})


def write_gallery(path: Path, names: Sequence[str], embeddings: torch.Tensor) -> None:
    """Write the gallery to a temporary file beside ``path``, then atomically replace ``path`` (hold :func:`writer_lock`).

    Metadata other than the identities (e.g. the model's fingerprint) is carried over from the current file.
    """
    from safetensors.torch import save_file

    metadata = {**read_metadata(path), "identities": json.dumps(list(names))}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        save_file({"embeddings": embeddings.contiguous()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
