"""Fetching dataset files from the internet: only ever called when a dataset config says ``download: true``.

Example:
    >>> # fetch("https://example.org/data.zip", Path("~/.cache/pairsim/data/x/data.zip").expanduser())
"""

from __future__ import annotations

import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path

from pairsim.errors import DataError


def fetch(url: str, dest: Path, *, timeout: float = 60.0) -> Path:
    """Download ``url`` to the file ``dest`` (written atomically; skipped when ``dest`` exists).

    Args:
        url: HTTP(S) address.
        dest: Target file; parent folders are created.
        timeout: Socket timeout in seconds.

    Returns:
        ``dest``.

    Raises:
        DataError: The download failed; the message names the URL.
    """
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "pairsim"})
        with urllib.request.urlopen(request, timeout=timeout) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot download {url}: {err}") from None
    partial.replace(dest)
    return dest


def extract(archive: Path, dest: Path) -> Path:
    """Unpack a .zip, .tar, .tar.gz or .tgz archive into the folder ``dest``.

    Returns:
        ``dest``.

    Raises:
        DataError: The archive is of an unknown kind or corrupted.
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
        else:
            raise DataError(f"cannot unpack {archive}: expected a .zip or .tar(.gz) archive")
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as err:
        raise DataError(f"cannot unpack {archive}: {err}") from None
    return dest
