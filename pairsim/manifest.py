"""A model directory's files checked against its manifest: the one reading rule of saved models and exports.

A manifest (a saved model's ``config.json``, an ONNX export's ``pairsim_onnx.json``) records the sha256 of
every file. :func:`read_files` reads a directory under one rule: no symbolic link or special file anywhere;
every file the loader or a tower reads (the ``required`` files, everything under :data:`ASSET_DIRS`) is listed
and matches; no code (``.py``, ``auto_map``) and only bounded JSON. Towers then read the verified bytes
through :func:`asset_copy`, never the directory again. :mod:`pairsim.hub` writes and reads saved models
with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pairsim.errors import ModelFileError
from pairsim.jsonio import loads_bounded

log = logging.getLogger("pairsim.hub")
ASSET_DIRS = ("tower_a", "tower_b")  # the towers' files (tokenizer, vocabulary): every file in them must be listed
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def asset_copy(root: Path, assets: dict[str, bytes]) -> Iterator[Path]:
    """A private temporary folder holding exactly the checked asset files, for towers' ``load_assets``.

    An error raised inside names the model directory, not the temporary folder.

    Args:
        root: The model directory (for messages).
        assets: Relative path -> checked bytes (:func:`read_files`).

    Yields:
        The folder (``<folder>/tower_a/...``); deleted on exit.
    """
    with tempfile.TemporaryDirectory(prefix="pairsim-assets-") as tmp:
        for relative, data in assets.items():
            path = Path(tmp, *PurePosixPath(relative).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        try:
            yield Path(tmp)
        except ModelFileError as err:
            raise ModelFileError(str(err).replace(tmp, str(root))) from None


def _inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing paths that leave ``root`` (``..``, absolute paths)."""
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or not parts.parts or "\\" in relative:
        raise ModelFileError(f"{root}: file {relative!r} (listed in its manifest) is not inside the model directory")
    return root / parts


def list_files(root: Path, *, links_within: Path | None = None) -> list[str]:
    """Every regular file under ``root``, as a ``/``-separated relative path; nothing else is allowed there.

    Args:
        root: The model directory.
        links_within: Accept symbolic links to regular files inside this folder (a hub snapshot's links to
            its cache's blobs); None: refuse every link.

    Returns:
        The sorted relative paths.

    Raises:
        ModelFileError: A symbolic link (to a file or a folder, at any depth, wherever it points) or a
            device, pipe or socket: one line naming it.
    """
    found: list[str] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                target = path.resolve()
                if links_within is None or not (target.is_relative_to(links_within) and target.is_file()):
                    raise ModelFileError(
                        f"{path} is a symbolic link; a model directory must hold its own files and folders "
                        "(links are refused, wherever they point)"
                    )
                found.append(path.relative_to(root).as_posix())
            elif entry.is_dir(follow_symlinks=False):
                folders.append(path)
            elif entry.is_file(follow_symlinks=False):
                found.append(path.relative_to(root).as_posix())
            else:
                raise ModelFileError(f"{path} is not a regular file or folder (a device, pipe or socket); refused")
    return sorted(found)


def reject_remote_code(directory: Path) -> None:
    """Refuse a directory that ships ``.py`` files or whose JSON configs ask transformers to import code
    (``auto_map``), name files outside it (a ``*_file`` key with an absolute or ``..`` path) or are not
    bounded JSON. For any directory transformers reads (an encoder's too); a saved pairsim model is checked
    more strictly by :func:`read_files`.

    Raises:
        ModelFileError: One line naming the file.
    """
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*")):  # links allowed here: an encoder directory of the hub cache has them
        if path.suffix == ".py" or (path.suffix == ".json" and path.is_file()):
            check_file_content(path, path.read_bytes() if path.suffix == ".json" else b"")


def check_file_content(path: Path, data: bytes) -> None:
    """Refuse custom code (a ``.py`` file), and a ``.json`` file that is not bounded JSON, has an ``auto_map``
    or names a file outside the directory.

    Args:
        path: The file (its name decides; named in messages).
        data: Its bytes.

    Raises:
        ModelFileError: One line naming the file.
    """
    if path.suffix == ".py":
        raise ModelFileError(
            f"{path}: a model directory must not contain custom code (.py files); pairsim never runs code from a model directory"
        )
    if path.suffix != ".json":
        return
    value = loads_bounded(data, what=str(path), error=ModelFileError)
    if isinstance(value, dict) and "auto_map" in value:
        raise ModelFileError(
            f"{path} has an auto_map pointing to custom code; pairsim never runs code from a model directory"
        )
    outside = _file_outside(value)
    if outside is not None:
        raise ModelFileError(f"{path}: {outside[0]} names a file outside the model directory ({outside[1]!r})")


def _file_outside(data: Any) -> tuple[str, str] | None:
    """The first ``*file`` key of nested JSON whose value is an absolute path or climbs out with ``..``."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        if isinstance(value, str) and str(key).endswith("file"):
            path = PurePosixPath(value.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts or (len(value) > 1 and value[1] == ":"):
                return str(key), value
        elif isinstance(value, (dict, list)):
            found = _file_outside(value)
            if found is not None:
                return found
    return None


def _checksums(
    saved: dict[str, Any], manifest: Path, required: Sequence[str], *, allow_unverified: bool
) -> dict[str, str] | None:
    """The manifest's sha256 map, checked; None when there is none and the caller allowed that.

    Raises:
        ModelFileError: No map (and ``allow_unverified`` is False), or a map that is not ``{file: sha256}``
            covering every ``required`` file.
    """
    checksums = saved.get("sha256")
    if checksums is None:
        if not allow_unverified:
            raise ModelFileError(
                f"{manifest} records no sha256 of the model's files (format_version "
                f"{saved.get('format_version')!r}), so they cannot be verified; refused (to load it unverified "
                "anyway: allow_unverified=True, on the command line --allow-unverified)"
            )
        log.warning(
            "warning: loading %s UNVERIFIED (allow_unverified): %s records no sha256 of its files, so corrupted "
            "or replaced files go undetected",
            manifest.parent,
            manifest.name,
        )
        return None
    if not (
        isinstance(checksums, dict)
        and all(isinstance(v, str) and _SHA256.fullmatch(v) for v in checksums.values())
        and all(r in checksums for r in required)
    ):
        raise ModelFileError(
            f"{manifest}: 'sha256' must map every saved file ({', '.join(required)} too) to its sha256"
        )
    return checksums


def read_files(
    root: Path,
    saved: dict[str, Any],
    *,
    required: Sequence[str],
    manifest: str,
    allow_unverified: bool = False,
    links_within: Path | None = None,
) -> tuple[dict[str, bytes], dict[str, bytes], bool]:
    """Read and verify every file the loader uses: the ``required`` files and everything under :data:`ASSET_DIRS`.

    The one rule (saved models and ONNX exports alike): the directory holds no links and no special files;
    every file under the asset folders is listed in the sha256 map, every listed file is present, inside and
    has its recorded sha256; no ``.py`` file anywhere; every ``.json`` read is bounded JSON without
    ``auto_map`` or outside paths.

    Args:
        root: The model directory.
        saved: The manifest (``config.json``) as read.
        required: Files the loader reads besides the assets (a saved model's weights; an export's graphs).
        manifest: The manifest's file name (``config.json``), for messages.
        allow_unverified: Accept a manifest without a sha256 map (a warning line is logged).
        links_within: See :func:`list_files`.

    Returns:
        ``({required file: bytes}, {asset path: bytes}, verified)``.

    Raises:
        ModelFileError: One line naming the file and what is wrong with it.
    """
    manifest_path = root / manifest
    present = list_files(root, links_within=links_within)
    checksums = _checksums(saved, manifest_path, required, allow_unverified=allow_unverified)
    for relative in present:
        if relative.endswith(".py"):
            check_file_content(root / relative, b"")
    for relative in required:
        if relative not in present:
            raise ModelFileError(f"{_inside(root, relative)} not found")
    used = [*required, *(r for r in present if r.split("/", 1)[0] in ASSET_DIRS and r not in required)]
    for relative in checksums or {}:
        path = _inside(root, relative)
        if relative not in present:
            raise ModelFileError(f"{path} is missing (it was saved with the model, {manifest_path} lists it)")
    contents: dict[str, bytes] = {}
    for relative in [*(checksums or {}), *used]:
        if relative in contents:
            continue
        path = root / relative
        if checksums is not None and relative not in checksums:
            raise ModelFileError(
                f"{path} is not listed in {manifest}'s sha256 map: every file a model reads must be recorded "
                "there (it was added or replaced after saving); refused"
            )
        data = path.read_bytes()
        if checksums is not None and sha256_bytes(data) != checksums[relative]:
            raise ModelFileError(
                f"{path} does not match the sha256 recorded in {manifest}: the file is corrupted or was changed"
            )
        contents[relative] = data
    for relative in used:
        check_file_content(root / relative, contents[relative])
    assets = {r: contents[r] for r in used if r not in required}
    return {r: contents[r] for r in required}, assets, checksums is not None
