"""Reading pretrained weight files for backbones (safetensors, or a PyTorch ``.pth`` loaded without pickle code)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pairsim.errors import ModelFileError


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors`` or ``.pth``/``.pt`` (``weights_only=True``: no code runs).

    Raises:
        ModelFileError: The file is missing or not a readable weights file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # safetensors and torch raise several unrelated types for a bad file
        raise ModelFileError(f"cannot read weights file {path}: {err}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelFileError(f"{path} holds no state dict")
    return state


def load_backbone_weights(module: nn.Module, path: str | Path, *, ignore_prefixes: tuple[str, ...] = ()) -> None:
    """Load ``path`` into ``module``; keys starting with ``ignore_prefixes`` (a replaced classifier) are skipped.

    Raises:
        ModelFileError: A key of ``module`` is missing from the file, or a shape differs.
    """
    state = {k: v for k, v in read_state_dict(path).items() if not k.startswith(ignore_prefixes)}
    own = module.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        problem = f"missing keys {missing[:5]}" if missing else f"shape mismatch at {wrong[:5]}"
        raise ModelFileError(f"weights file {path} does not fit the backbone: {problem}")
    module.load_state_dict({k: state[k] for k in own if k in state}, strict=False)


def projection(in_dim: int, out_dim: int) -> nn.Module:
    """A linear map to ``out_dim``, or the identity when ``out_dim`` is 0 (keep the backbone's size)."""
    return nn.Identity() if out_dim == 0 else nn.Linear(in_dim, out_dim)
