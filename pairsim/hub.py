"""The files of a saved pair model, in the Hugging Face layout; file I/O only, nothing about the model itself.

A saved directory holds:

* ``config.json``: the format version, the full model config (every tower's config inline, a
  transformer's backbone config included, so loading fetches nothing) and the sha256 of every other file;
* ``model.safetensors``: the weights (tied tower weights once), no pickle;
* ``tower_a/``, ``tower_b/``: tokenizer / vocabulary files;
* ``README.md``: a model card.

Writing builds the directory beside the target and swaps it in (:mod:`pairsim.safe_io`), ``config.json``
last, so a directory with a ``config.json`` is complete; before the swap, the written files go through the
same checks as loading. Reading follows one rule (:func:`read_files`): no symbolic link or special file
anywhere in the directory; every file the loader or a tower reads (the weights, everything under
``tower_a/`` and ``tower_b/``) is listed in the sha256 map and matches it (flipped bytes are an error, not
wrong scores); the towers read the verified bytes (a private copy), never the directory again; no code
(``.py``, ``auto_map``) and only bounded JSON (:mod:`pairsim.jsonio`). A directory without a sha256 map is
refused unless the caller passes ``allow_unverified=True``. :class:`pairsim.model.PairModel` builds the model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from pairsim.errors import ModelFileError
from pairsim.jsonio import loads_bounded, read_json_bounded
from pairsim.safe_io import atomic_dir, clean_leftovers, recover_dir

log = logging.getLogger(__name__)
FORMAT_VERSION = 2  # 2: config.json records the sha256 of every file; 1 (no checksums): only with allow_unverified
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
ASSET_DIRS = ("tower_a", "tower_b")  # the towers' files (tokenizer, vocabulary): every file in them must be listed
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _read_json_object(path: Path) -> dict[str, Any]:
    data = read_json_bounded(path, error=ModelFileError)
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def is_model_dir(path: Path) -> bool:
    """Whether ``path`` is a directory holding a pairsim ``config.json`` (an object with a ``format_version``)."""
    config = path / CONFIG_FILE
    if not (path.is_dir() and config.is_file()):
        return False
    try:
        data = read_json_bounded(config, error=ModelFileError)
    except ModelFileError:
        return False
    return isinstance(data, dict) and "format_version" in data and isinstance(data.get("model"), dict)


def _complete(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file()  # written last


def check_save_target(target: Path) -> None:
    """Refuse to save over anything but a pairsim model directory, an empty directory or nothing.

    Raises:
        ModelFileError: ``target`` is a file, or a non-empty directory that is not a saved pairsim model.
    """
    if target.is_file() or (target.exists() and not target.is_dir()):
        raise ModelFileError(f"cannot save a model to {target}: it is a file (expected a directory)")
    if target.is_dir() and any(target.iterdir()) and not is_model_dir(target):
        raise ModelFileError(
            f"cannot save a model to {target}: the directory holds other files and is not a saved pairsim "
            "model (choose a new or empty directory)"
        )


def write_model_dir(
    directory: str | Path,
    *,
    model_config: dict[str, Any],
    state: dict[str, torch.Tensor],
    assets: dict[str, Callable[[Path], None]],
    card: str,
) -> Path:
    """Write a saved-model directory and swap it in as a whole.

    Args:
        directory: The target; created, or replaced if it is a pairsim model directory (or empty).
        model_config: The model config as plain data (``config.json``'s ``model``).
        state: The weights; tensors sharing memory must already be deduplicated.
        assets: Sub-directory name -> a function writing that tower's files into it.
        card: The ``README.md`` text.

    Returns:
        The directory written.

    Raises:
        ModelFileError: ``directory`` is a file or a foreign non-empty directory (nothing is touched).
    """
    from pairsim import __version__

    target = Path(directory).expanduser()
    recover_dir(target, complete=_complete)  # a kill mid-swap earlier: finish it before deciding
    check_save_target(target)
    clean_leftovers(target)
    with atomic_dir(target) as tmp:
        save_file(state, tmp / WEIGHTS_FILE, metadata={"format": "pt"})
        for sub, write in assets.items():
            (tmp / sub).mkdir()
            write(tmp / sub)
        (tmp / CARD_FILE).write_text(card, encoding="utf-8")
        files = sorted(p for p in tmp.rglob("*") if p.is_file() and p.name != CARD_FILE)
        config = {
            "format_version": FORMAT_VERSION,
            "pairsim_version": __version__,
            "model": model_config,
            "sha256": {p.relative_to(tmp).as_posix(): _sha256_file(p) for p in files},
        }
        try:
            text = json.dumps(config, indent=2, allow_nan=False)  # strict JSON: NaN / Infinity are not JSON
        except ValueError as err:
            raise ModelFileError(f"cannot save a model to {target}: its config is not plain JSON ({err})") from None
        (tmp / CONFIG_FILE).write_text(text, encoding="utf-8")  # last: marks it complete
        read_files(tmp, read_config(tmp))  # what loading checks, on what was written, before it is swapped in
    return target


def resolve(name_or_path: str | Path, *, revision: str | None = None) -> Path:
    """A local directory for ``name_or_path``: the directory itself, or a hub snapshot downloaded once.

    A directory whose save was killed between its two renames is recovered first.

    Raises:
        ModelFileError: Neither a local directory nor a hub id that can be fetched (one line naming both).
    """
    return _resolve(name_or_path, revision=revision)[0]


def _resolve(name_or_path: str | Path, *, revision: str | None = None) -> tuple[Path, Path | None]:
    """:func:`resolve`, and for a hub snapshot the cache folder its file links may point into (else None)."""
    path = Path(name_or_path).expanduser()
    if not path.exists():
        with contextlib.suppress(OSError):  # read-only place: load what is there, or say nothing is
            recover_dir(path, complete=_complete)
    if path.is_dir():
        return path, None
    name = str(name_or_path)
    if path.exists():
        raise ModelFileError(
            f"no saved pairsim model at {name!r}: it is a file (expected a directory with {CONFIG_FILE})"
        )
    if name.startswith((".", "/", "~")) or name.count("/") != 1 or os.path.isabs(name):
        raise ModelFileError(
            f"no saved pairsim model at {name!r}: no local directory {str(path.absolute())!r} exists "
            f"(expected a directory with {CONFIG_FILE}, or a hub id such as owner/name)"
        )
    try:
        from huggingface_hub import snapshot_download

        snapshot = Path(snapshot_download(repo_id=name, revision=revision))
    except Exception as err:  # offline, unknown repo, auth: all mean "cannot get it"
        raise ModelFileError(
            f"{name!r} is not a local directory (no directory {str(path.absolute())!r} exists) and could not be "
            f"fetched from the hub as hub id {name!r}: {type(err).__name__}: {_one_line(err)}"
        ) from None
    # the hub cache links snapshots/<revision>/<file> to ../../blobs/<sha>: links into the repo's cache only
    return snapshot, snapshot.resolve().parent.parent


@dataclasses.dataclass
class SavedModel:
    """What a saved-model directory holds, checked: its ``model`` config, its weights and its asset files.

    ``assets`` maps each file under :data:`ASSET_DIRS` (``tower_a/vocab.json``, ...) to the bytes that were
    checked against ``config.json``'s sha256; towers read these bytes (through :meth:`asset_copy`), never the
    directory again, so what was verified is what is used.
    """

    root: Path
    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    weights_sha256: str
    assets: dict[str, bytes] = dataclasses.field(default_factory=dict)
    verified: bool = True  # False: loaded with allow_unverified=True and no sha256 map to check against

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    def asset_copy(self) -> contextlib.AbstractContextManager[Path]:
        """:func:`asset_copy` of this model's checked asset files."""
        return asset_copy(self.root, self.assets)


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
        raise ModelFileError(f"{root / CONFIG_FILE}: file {relative!r} is not inside the model directory")
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
    required: Sequence[str] = (WEIGHTS_FILE,),
    manifest: str = CONFIG_FILE,
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
        required: Files the loader reads besides the assets (the weights; an export's graphs).
        manifest: The manifest's file name, for messages.
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


def read_config(root: Path) -> dict[str, Any]:
    """``config.json`` of a model directory: a bounded JSON object of a supported ``format_version`` with a
    ``model`` object.

    Raises:
        ModelFileError: One line naming the file.
    """
    config_path = root / CONFIG_FILE
    if config_path.is_symlink():
        raise ModelFileError(f"{config_path} is a symbolic link; a model directory must hold its own files")
    if not config_path.is_file():
        raise ModelFileError(f"{config_path} not found: not a saved pairsim model")
    saved = _read_json_object(config_path)
    version = saved.get("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION or "model" not in saved:
        raise ModelFileError(
            f"{config_path}: unsupported format_version {version!r} (this pairsim reads <= {FORMAT_VERSION})"
        )
    if not isinstance(saved["model"], dict):
        raise ModelFileError(f"{config_path}: 'model' must be a JSON object, got {saved['model']!r}")
    return saved


def read_model_dir(
    name_or_path: str | Path, *, revision: str | None = None, allow_unverified: bool = False
) -> SavedModel:
    """Read and check a saved-model directory (a local path, or a hub id fetched once).

    Args:
        name_or_path: A local directory or a hub id.
        revision: The hub revision (hub ids only).
        allow_unverified: Load a directory whose ``config.json`` records no sha256 map (format 1, or the map
            deleted), logging one warning line; a map that is present is always checked.

    Returns:
        The checked contents (see :func:`read_files`); the weights are read from the checked bytes.

    Raises:
        ModelFileError: One line naming the file and what is wrong with it.
    """
    root, links_within = _resolve(name_or_path, revision=revision)
    saved = read_config(root)
    files, assets, verified = read_files(root, saved, allow_unverified=allow_unverified, links_within=links_within)
    data = files[WEIGHTS_FILE]
    weights = root / WEIGHTS_FILE
    try:
        state = load_safetensors(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ModelFileError(f"{weights} is corrupted or not a safetensors file: {_one_line(err)}") from None
    return SavedModel(
        root=root,
        config=saved["model"],
        state=state,
        weights_sha256=sha256_bytes(data),
        assets=assets,
        verified=verified,
    )


def check_tensors(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], *, where: str) -> None:
    """Refuse weights whose names, shapes, types or values do not fit the model that will hold them.

    Args:
        state: The weights (read from a file, or about to be written).
        expected: The state dict of the model built from the config (its own dtypes: float parameters,
            integer buffers such as a batch norm's step count).
        where: The weights' file, for messages.

    Raises:
        ModelFileError: One line: missing / unexpected names or wrong shapes; a tensor of another kind than the
            model's (an integer tensor for a float parameter is refused, never cast); a float tensor holding
            NaN or infinity (named).
    """
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise ModelFileError(
            f"{where} does not match {CONFIG_FILE}: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shape {wrong[:5]}"
        )
    for key, tensor in state.items():
        want = expected[key].dtype
        if tensor.dtype != want and not (tensor.dtype.is_floating_point and want.is_floating_point):
            raise ModelFileError(
                f"{where}: tensor {key!r} is {str(tensor.dtype).removeprefix('torch.')}, but the model holds "
                f"{str(want).removeprefix('torch.')} there; refused (weights are never converted between kinds)"
            )
        if tensor.dtype.is_floating_point and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise ModelFileError(f"{where}: tensor {key!r} holds {bad} non-finite value(s) (NaN or infinity); refused")


def check_state(saved: SavedModel, expected: dict[str, torch.Tensor]) -> None:
    """:func:`check_tensors` of a saved model's weights (named by their file)."""
    check_tensors(saved.state, expected, where=str(saved.root / WEIGHTS_FILE))
