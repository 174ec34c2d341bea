"""The files of a saved pair model, in the Hugging Face layout; file I/O only, nothing about the model itself.

A saved directory holds:

* ``config.json``: the format version, the full model config (every tower's config inline, a
  transformer's backbone config included, so loading fetches nothing) and the sha256 of every other file;
* ``model.safetensors``: the weights (tied tower weights once), no pickle;
* ``tower_a/``, ``tower_b/``: tokenizer / vocabulary files;
* ``README.md``: a model card.

Writing builds the directory beside the target and swaps it in (:mod:`pairsim.safe_io`), ``config.json``
last, so a directory with a ``config.json`` is complete. Reading checks every recorded file against its
sha256 (flipped bytes are an error, not wrong scores), reads only files inside the directory and refuses a
directory that asks for code to be run (``auto_map``). :class:`pairsim.model.PairModel` builds the model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from pairsim.errors import ModelFileError
from pairsim.safe_io import atomic_dir, clean_leftovers, recover_dir

FORMAT_VERSION = 2  # 2: config.json records the sha256 of every file; 1 (read too): no checksums
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"


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
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ModelFileError(f"{path} is not UTF-8 text") from None
    except ValueError as err:
        raise ModelFileError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def is_model_dir(path: Path) -> bool:
    """Whether ``path`` is a directory holding a pairsim ``config.json`` (an object with a ``format_version``)."""
    config = path / CONFIG_FILE
    if not (path.is_dir() and config.is_file()):
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
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
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")  # last: marks it complete
    return target


def resolve(name_or_path: str | Path, *, revision: str | None = None) -> Path:
    """A local directory for ``name_or_path``: the directory itself, or a hub snapshot downloaded once.

    A directory whose save was killed between its two renames is recovered first.

    Raises:
        ModelFileError: Neither a local directory nor a hub id that can be fetched (one line naming both).
    """
    path = Path(name_or_path).expanduser()
    if not path.exists():
        with contextlib.suppress(OSError):  # read-only place: load what is there, or say nothing is
            recover_dir(path, complete=_complete)
    if path.is_dir():
        return path
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

        return Path(snapshot_download(repo_id=name, revision=revision))
    except Exception as err:  # offline, unknown repo, auth: all mean "cannot get it"
        raise ModelFileError(
            f"{name!r} is not a local directory (no directory {str(path.absolute())!r} exists) and could not be "
            f"fetched from the hub as hub id {name!r}: {type(err).__name__}: {_one_line(err)}"
        ) from None


@dataclasses.dataclass
class SavedModel:
    """What a saved-model directory holds, checked: the directory, its ``model`` config and its weights."""

    root: Path
    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    weights_sha256: str

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE


def _inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing paths that leave ``root`` (``..``, absolute paths, links outside)."""
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or not parts.parts:
        raise ModelFileError(f"{root / CONFIG_FILE}: file {relative!r} is not inside the model directory")
    path = root / parts
    if not path.resolve().is_relative_to(root.resolve()):
        raise ModelFileError(f"{path} points outside the model directory {root}")
    return path


def reject_remote_code(directory: Path) -> None:
    """Refuse a directory that ships ``.py`` files or whose JSON configs ask transformers to import code
    (``auto_map``) or name files outside it (a ``*_file`` key with an absolute or ``..`` path).

    Raises:
        ModelFileError: One line naming the file.
    """
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*")):
        if path.suffix == ".py":
            raise ModelFileError(
                f"{path}: a model directory must not contain custom code (.py files); pairsim never runs code from a model directory"
            )
        if path.suffix == ".json" and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # an unreadable file is reported by whoever reads it
            if isinstance(data, dict) and "auto_map" in data:
                raise ModelFileError(
                    f"{path} has an auto_map pointing to custom code; pairsim never runs code from a model directory"
                )
            outside = _file_outside(data)
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


def read_model_dir(name_or_path: str | Path, *, revision: str | None = None) -> SavedModel:
    """Read and check a saved-model directory (a local path, or a hub id fetched once).

    Returns:
        The checked contents: every file recorded in ``config.json`` is present, inside the directory and
        has its recorded sha256; the weights are read from the checked bytes.

    Raises:
        ModelFileError: One line naming the file and what is wrong with it.
    """
    root = resolve(name_or_path, revision=revision)
    config_path = root / CONFIG_FILE
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
    reject_remote_code(root)
    checksums = saved.get("sha256")
    if version >= 2 and not (
        isinstance(checksums, dict)
        and all(isinstance(v, str) for v in checksums.values())
        and WEIGHTS_FILE in checksums
    ):
        raise ModelFileError(f"{config_path}: 'sha256' must map every saved file (model.safetensors too) to its sha256")
    weights = root / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{weights} not found")
    data = weights.read_bytes()
    weights_sha = sha256_bytes(data)
    for relative, expected in (checksums or {}).items():
        path = _inside(root, relative)
        if not path.is_file():
            raise ModelFileError(f"{path} is missing (it was saved with the model, {config_path} lists it)")
        actual = weights_sha if relative == WEIGHTS_FILE else _sha256_file(path)
        if actual != expected:
            raise ModelFileError(
                f"{path} does not match the sha256 recorded in {CONFIG_FILE}: the file is corrupted or was changed"
            )
    try:
        state = load_safetensors(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ModelFileError(f"{weights} is corrupted or not a safetensors file: {_one_line(err)}") from None
    return SavedModel(root=root, config=saved["model"], state=state, weights_sha256=weights_sha)


def check_state(saved: SavedModel, expected: dict[str, torch.Tensor]) -> None:
    """Raise one line if the saved weights' names or shapes differ from the model ``config.json`` describes."""
    state = saved.state
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise ModelFileError(
            f"{saved.root / WEIGHTS_FILE} does not match {CONFIG_FILE}: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shape {wrong[:5]}"
        )
