"""Reading IDX files, the format of MNIST, Fashion-MNIST, KMNIST and EMNIST (LeCun et al.).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in C order, big-endian. The files are usually gzipped;
:func:`read_idx` reads either, telling them apart by the gzip signature, not by the file name.

Example:
    >>> # images = read_idx(Path("train-images-idx3-ubyte.gz"))  # (60000, 28, 28) uint8
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pairsim.errors import DataError

GZIP_SIGNATURE = b"\x1f\x8b"
# type code -> big-endian numpy dtype
IDX_TYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_header(head: bytes, where: str) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and shape an IDX header announces.

    Args:
        head: At least the 4-byte magic number; the dimension sizes follow it.
        where: The file, for messages.

    Returns:
        ``(dtype, dims)``.

    Raises:
        DataError: The magic number or the dimensions are not those of an IDX file.
    """
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in IDX_TYPES or head[3] == 0:
        raise DataError(
            f"{where}: not an IDX file: expected a magic number 00 00 <type {', '.join(f'{t:02x}' for t in IDX_TYPES)}> "
            f"<dims >= 1>, found {head[:4].hex(' ') or 'an empty file'}"
        )
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        raise DataError(f"{where}: IDX header announces {ndim} dimensions but the file ends inside the header")
    dims = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    return np.dtype(IDX_TYPES[head[2]]), tuple(int(d) for d in dims)


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as f:
        gzipped = f.read(2) == GZIP_SIGNATURE
    return gzip.open(path, "rb") if gzipped else path.open("rb")  # type: ignore[return-value]


def read_idx(path: Path, *, limit: int | None = None) -> np.ndarray:
    """The array stored in an IDX file (gzipped or raw), in native byte order.

    Args:
        path: The file.
        limit: Read only the first this many entries along the first dimension (quick runs); the rest of
            the file is not read, so its length is not checked.

    Returns:
        The array, e.g. ``(60000, 28, 28)`` uint8 images or ``(60000,)`` uint8 labels.

    Raises:
        DataError: The file is missing, is not IDX, or holds fewer (or, read in full, more) bytes than its
            header announces; one line naming the file.
    """
    if not path.is_file():
        raise DataError(f"IDX file not found: {path}")
    try:
        with _open(path) as f:
            magic = f.read(4)
            ndim = magic[3] if len(magic) == 4 else 0
            dtype, dims = parse_header(magic + f.read(4 * ndim), str(path))
            count = dims[0] if limit is None else min(limit, dims[0])
            per_entry = int(np.prod(dims[1:], dtype=np.int64)) * dtype.itemsize
            want = count * per_entry
            data = f.read(want)
            extra = f.read(1) if limit is None else b""
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read IDX file: {err}") from None
    if len(data) < want:
        raise DataError(
            f"{path}: IDX header announces shape {dims} ({dims[0] * per_entry} bytes of data) but the file holds "
            f"{len(data)}; the file is truncated"
        )
    if extra:
        raise DataError(f"{path}: more data than the IDX header's shape {dims} announces")
    array = np.frombuffer(data, dtype=dtype).reshape((count, *dims[1:]))
    return array.astype(dtype.newbyteorder("="))
