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
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from pairsim.errors import ModelFileError
from pairsim.jsonio import read_json_bounded
from pairsim.manifest import asset_copy, read_files, sha256_bytes, sha256_file
from pairsim.safe_io import atomic_dir, clean_leftovers, dir_target, recover_dir

log = logging.getLogger(__name__)
FORMAT_VERSION = 2  # 2: config.json records the sha256 of every file; 1 (no checksums): only with allow_unverified
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"


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

    target = dir_target(directory)  # "." and ".." mean the folder they name
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
            "sha256": {p.relative_to(tmp).as_posix(): sha256_file(p) for p in files},
        }
        try:
            text = json.dumps(config, indent=2, allow_nan=False)  # strict JSON: NaN / Infinity are not JSON
        except ValueError as err:
            raise ModelFileError(f"cannot save a model to {target}: its config is not plain JSON ({err})") from None
        (tmp / CONFIG_FILE).write_text(text, encoding="utf-8")  # last: marks it complete
        read_files(
            tmp, read_config(tmp), required=(WEIGHTS_FILE,), manifest=CONFIG_FILE
        )  # loading's checks, before the swap
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
    files, assets, verified = read_files(
        root,
        saved,
        required=(WEIGHTS_FILE,),
        manifest=CONFIG_FILE,
        allow_unverified=allow_unverified,
        links_within=links_within,
    )
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
            NaN or infinity, or values that overflow the model's dtype (float64 1e300 for a float32
            parameter), named.
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
        if not tensor.dtype.is_floating_point:
            continue
        held = tensor.to(want)  # the values the model will hold: 1e300 in float64 is infinity in float32
        if not bool(torch.isfinite(held).all()):
            bad = int((~torch.isfinite(held)).sum())
            if bool(torch.isfinite(tensor).all()):
                raise ModelFileError(
                    f"{where}: tensor {key!r} holds {bad} value(s) too large for "
                    f"{str(want).removeprefix('torch.')} (they become infinity in the model); refused"
                )
            raise ModelFileError(f"{where}: tensor {key!r} holds {bad} non-finite value(s) (NaN or infinity); refused")


def check_state(saved: SavedModel, expected: dict[str, torch.Tensor]) -> None:
    """:func:`check_tensors` of a saved model's weights (named by their file)."""
    check_tensors(saved.state, expected, where=str(saved.root / WEIGHTS_FILE))
