"""Training checkpoints: everything needed to continue a killed run exactly, written atomically, read without pickle.

A checkpoint (``checkpoints/last.pt``) is a safetensors file: every tensor of the state (weights, optimiser
moments, random-generator states) is a safetensors entry, and the rest (step counters, history, optimiser
and scheduler settings, Python / numpy random states, the recipe) is JSON in the file's metadata, with
tensors referred to by name. Reading it runs no code: a planted pickle is "not a pairsim checkpoint".

Writing goes through :func:`pairsim.safe_io.atomic_write`, whose private scratch folder also holds the
``.tmpXXXXXX`` file that safetensors itself writes and renames: a kill mid-write leaves only
``checkpoints/.last.pt.tmp.d/``, which :func:`clean_checkpoint_leftovers` (run when a run starts or resumes)
removes, together with the bare ``.tmpXXXXXX`` files that earlier pairsim versions left in ``checkpoints/``.
"""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from pairsim.errors import ModelFileError
from pairsim.jsonio import loads_bounded
from pairsim.safe_io import atomic_write, clean_leftovers

FORMAT = "pairsim-checkpoint"
VERSION = 1
_META_KEY = "pairsim_checkpoint"
_SAFETENSORS_TMP = re.compile(r"^\.tmp[A-Za-z0-9]{6}$")  # the temporary name safetensors' save_file writes


def rng_state() -> dict[str, Any]:
    """The state of every random generator a training step touches."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_weights_fit(saved: dict[str, Any], own: dict[str, Any], *, where: str) -> None:
    """Check a checkpoint's weights have the keys and shapes of the recipe's model (moved here from the trainer).

    Args:
        saved: The checkpoint's ``step_module`` state dict.
        own: The model's state dict.
        where: The checkpoint in messages.

    Raises:
        ModelFileError: A key only on one side, or of another shape; the message names it.
    """
    for key in [*own, *saved]:
        if key not in saved or key not in own:
            side = "the recipe's model" if key in own else "the checkpoint"
            raise ModelFileError(f"{where} does not fit the recipe's model: {key} is only in {side}")
        if tuple(saved[key].shape) != tuple(own[key].shape):
            raise ModelFileError(
                f"{where} does not fit the recipe's model: {key} has shape {tuple(saved[key].shape)} in the "
                f"checkpoint and {tuple(own[key].shape)} in the model (resume with the recipe of the run)"
            )


def upgrade_state(state: dict[str, Any]) -> dict[str, Any]:
    """The trainer state of a checkpoint in today's meaning: epochs in ``history`` and ``best_epoch`` counted from 1.

    Checkpoints of earlier pairsim versions (no ``epochs_from`` key) numbered epochs from 0; their entries after
    step 0 and their ``best_epoch`` move up by one, so a resumed run's ``metrics.json`` is numbered one way. The
    step-0 (untrained) validation keeps epoch 0. ``state["epoch"]`` (epochs completed) is unchanged.

    Args:
        state: The ``trainer`` part of a checkpoint.

    Returns:
        The same dict, upgraded in place.

    Example:
        >>> upgrade_state({"history": [{"step": 0, "epoch": 0}, {"step": 5, "epoch": 0}], "best_epoch": 0})
        {'history': [{'step': 0, 'epoch': 0}, {'step': 5, 'epoch': 1}], 'best_epoch': 1, 'epochs_from': 1}
    """
    if state.get("epochs_from") == 1:
        return state
    for entry in state.get("history", []):
        if isinstance(entry.get("epoch"), int) and entry.get("step") != 0:
            entry["epoch"] += 1
    if isinstance(state.get("best_epoch"), int):
        state["best_epoch"] += 1
    state["epochs_from"] = 1
    return state


# -- nested state <-> JSON + named tensors ------------------------------------------------------------------------
def _encode(obj: Any, tensors: dict[str, torch.Tensor], storages: set[int]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensor = obj.detach().to("cpu").contiguous()
        ptr = tensor.untyped_storage().data_ptr()
        if ptr in storages and tensor.numel():  # safetensors stores no shared memory (a head seen by two modules)
            tensor = tensor.clone()
        storages.add(tensor.untyped_storage().data_ptr())
        name = f"t{len(tensors)}"
        tensors[name] = tensor
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return float(obj) if isinstance(obj, float) else obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, storages) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors, storages) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors, storages) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors, storages), _encode(v, tensors, storages)] for k, v in obj.items()]}
    raise TypeError(f"a checkpoint cannot hold a {type(obj).__name__}")  # a bug in the caller, not bad input


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return np.array(obj["__ndarray__"], dtype=np.dtype(obj["dtype"]))
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_hashable(_decode(k, tensors)): _decode(v, tensors) for k, v in obj["__items__"]}
    return {k: _decode(v, tensors) for k, v in obj.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise ValueError(f"unsupported key {key!r}")
    return key


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (nested dicts / lists / tuples of tensors, numbers, strings, numpy arrays) to ``path``.

    The file is written beside ``path`` and renamed over it: a crash mid-write leaves the previous
    checkpoint intact.
    """
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(state, tensors, set())
    metadata = {
        _META_KEY: json.dumps({"format": FORMAT, "version": VERSION, "state": skeleton}, allow_nan=False),
        "format": "pt",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def _is_partial_safetensors(path: Path) -> bool:
    """Whether ``path`` is a regular file that is empty or starts like a safetensors file (8-byte header length,
    then ``{``): what a killed ``save_file`` leaves, and nothing a user would have written."""
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(9)
    return len(head) == 0 or (len(head) == 9 and head[8:9] == b"{")


def clean_checkpoint_leftovers(path: Path) -> list[Path]:
    """Remove what killed writes of the checkpoint ``path`` left beside it; never anything else.

    That is :func:`pairsim.safe_io.clean_leftovers` of ``path`` (``.last.pt.tmp.d/``, ``.last.pt.tmp``, ...)
    and, in the checkpoint's folder, the ``.tmpXXXXXX`` files of safetensors that earlier pairsim versions
    left (only files that are empty or start like a safetensors file).

    Returns:
        The paths removed.
    """
    removed = clean_leftovers(path)
    if path.parent.is_dir():
        for stray in sorted(path.parent.iterdir()):
            if _SAFETENSORS_TMP.match(stray.name) and _is_partial_safetensors(stray):
                stray.unlink()
                removed.append(stray)
    return removed


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; no pickle, so no code from the file runs.

    Raises:
        ModelFileError: Missing, unreadable or foreign checkpoint (one line naming the file).
    """
    if not path.is_file():
        raise ModelFileError(f"no checkpoint to resume from at {path}")
    try:
        with safe_open(path, framework="pt") as f:
            meta = (f.metadata() or {}).get(_META_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ModelFileError(
            f"cannot read checkpoint {path}: not a pairsim checkpoint (a safetensors file; pickle files are never "
            f"loaded): {' '.join(str(err).split())}"
        ) from None
    try:
        data = loads_bounded(meta, what="checkpoint metadata") if meta is not None else None
        if not (isinstance(data, dict) and data.get("format") == FORMAT and data.get("version") == VERSION):
            raise ValueError("no pairsim checkpoint metadata")
        state = _decode(data["state"], tensors)
        if not isinstance(state, dict):
            raise ValueError("the state is not a mapping")
    except (ValueError, KeyError, TypeError) as err:
        raise ModelFileError(f"cannot read checkpoint {path}: not a pairsim checkpoint ({err})") from None
    return state
