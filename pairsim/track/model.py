"""SiamFC: one fully-convolutional tower for the exemplar and the search region, a map head on top, and the
tracker's settings; saved and loaded like every pairsim model (safetensors + checked JSON + sha256 map)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pairsim.config import bounded, from_dict, to_dict
from pairsim.errors import ConfigError, ModelFileError
from pairsim.track.backbones import BACKBONES, AlexNetConfig
from pairsim.track.heads import MAP_HEADS, XCorrConfig

KIND = "siamfc"  # config.json's model.kind: what pairsim track loads


@dataclasses.dataclass(kw_only=True)
class TrackerSettings:
    """How the tracker searches (SiamFC's published values by default)."""

    scales: int = bounded(3, ge=1, le=9)  # search scales per frame (odd: one at the current size)
    scale_step: float = bounded(1.0375, gt=1, le=2)  # ratio between neighbouring scales
    scale_penalty: float = bounded(0.9745, gt=0, le=1)  # multiplies the peaks of the other scales
    scale_lr: float = bounded(0.59, ge=0, le=1)  # damping of size updates (1: take the new size)
    window_influence: float = bounded(0.176, ge=0, le=1)  # weight of the cosine window on the response
    upsample: int = bounded(16, ge=1, le=32)  # response upsampling for sub-cell peaks


@dataclasses.dataclass(kw_only=True)
class SiamFCConfig:
    """A SiamFC model: its backbone and head (by registered name), input sizes and tracker settings."""

    backbone: Any = dataclasses.field(default_factory=lambda: AlexNetConfig(name="alexnet"))
    head: Any = dataclasses.field(default_factory=lambda: XCorrConfig(name="xcorr"))
    exemplar_size: int = bounded(127, ge=31, le=511)  # pixels of the exemplar crop
    search_size: int = bounded(255, ge=63, le=1023)  # pixels of the search crop
    context: float = bounded(0.5, ge=0, le=4)  # context margin around the target: p = context * (w + h)
    tracker: TrackerSettings = dataclasses.field(default_factory=TrackerSettings)

    def __post_init__(self) -> None:
        if self.search_size <= self.exemplar_size:
            raise ConfigError(
                f"search_size: expected more than exemplar_size ({self.exemplar_size}), got {self.search_size}"
            )


def parse_config(data: dict[str, Any], *, where: str = "model") -> SiamFCConfig:
    """A checked :class:`SiamFCConfig` from plain data (``backbone`` / ``head`` picked by ``name``)."""
    data = dict(data)
    backbone = dict(data.pop("backbone", {"name": "alexnet"}))
    head = dict(data.pop("head", {"name": "xcorr"}))
    config = from_dict(SiamFCConfig, data, where=where)
    config.backbone = from_dict(BACKBONES.get(backbone.get("name", "?")).Config, backbone, where=f"{where}.backbone")
    config.head = from_dict(MAP_HEADS.get(head.get("name", "?")).Config, head, where=f"{where}.head")
    return config


class SiamFC(nn.Module):
    """Exemplar and search crops -> response maps.

    Args:
        config: The model's config.

    Example:
        >>> model = SiamFC(parse_config({"backbone": {"name": "alexnet", "width": 0.25}}))
        >>> z = model.features(torch.zeros(1, 3, 127, 127))
        >>> model.response(z, model.features(torch.zeros(3, 3, 255, 255))).shape
        torch.Size([3, 1, 17, 17])
    """

    def __init__(self, config: SiamFCConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = BACKBONES.get(config.backbone.name)(config.backbone)
        self.head = MAP_HEADS.get(config.head.name)(config.head)
        z = self.backbone(torch.zeros(1, 3, config.exemplar_size, config.exemplar_size))  # (1, C, hz, wz)
        x = self.backbone(torch.zeros(1, 3, config.search_size, config.search_size))  # (1, C, hx, wx)
        self.exemplar_cells = z.shape[-1]
        self.response_size = x.shape[-1] - z.shape[-1] + 1
        if self.response_size < 3:
            raise ConfigError(f"search_size {config.search_size} leaves a response of {self.response_size} cells")

    @property
    def stride(self) -> int:
        """Pixels of the search crop per response cell."""
        return self.backbone.stride

    @staticmethod
    def to_tensor(crops: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
        """uint8 RGB crops ``(N, S, S, 3)`` -> ``(N, 3, S, S)`` floats in [0, 1]."""
        array = np.ascontiguousarray(np.stack(list(crops)) if not isinstance(crops, np.ndarray) else crops)
        return torch.from_numpy(array).permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, S, S)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, S, S)`` in [0, 1] -> ``(N, C, s, s)`` feature maps."""
        return self.backbone(images)

    def response(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Exemplar features ``(N or 1, C, hz, wz)`` over search features ``(N, C, hx, wx)`` -> ``(N, 1, R, R)``."""
        return self.head(z, x)

    def forward(self, exemplars: torch.Tensor, searches: torch.Tensor) -> torch.Tensor:
        """``(N, 3, Z, Z)``, ``(N, 3, X, X)`` in [0, 1] -> ``(N, 1, R, R)`` logits."""
        return self.response(self.features(exemplars), self.features(searches))

    # -- files ---------------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, *, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``config.json`` (``model.kind: siamfc``), ``model.safetensors`` and a card, swapped in whole."""
        from pairsim.hub import write_model_dir

        config = {"kind": KIND, **to_dict(self.config)}
        state = {k: v.detach().contiguous().clone() for k, v in self.state_dict().items()}
        shown = "".join(f"- {k}: {v}\n" for k, v in (metrics or {}).items())
        card = f"# SiamFC tracker (pairsim)\n\nTrack with `pairsim track VIDEO --model DIR --init x,y,w,h`.\n\n{shown}"
        return write_model_dir(directory, model_config=config, state=state, assets={}, card=card)

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, allow_unverified: bool = False) -> SiamFC:
        """Load a model written by :meth:`save_pretrained` (local directory read alone, every file checked).

        Raises:
            ModelFileError: One line naming the file and what is wrong.
        """
        from pairsim.hub import check_state, read_model_dir

        saved = read_model_dir(directory, allow_unverified=allow_unverified)
        data = dict(saved.config)
        if data.pop("kind", None) != KIND:
            raise ModelFileError(f"{saved.config_path}: not a tracking model (expected model.kind {KIND!r})")
        try:
            model = cls(parse_config(data, where=f"{saved.config_path.name}:model"))
        except ConfigError as err:
            raise ModelFileError(str(err)) from None
        check_state(saved, model.state_dict())
        model.load_state_dict(saved.state)
        return model.eval()


def hann_window(size: int) -> np.ndarray:
    """The cosine (Hann) window ``(size, size)``, summing to 1: SiamFC's penalty on large displacements."""
    w = np.hanning(size)
    window = np.outer(w, w)
    return window / window.sum()


def is_tracking_model(directory: str | Path) -> bool:
    """Whether ``directory`` holds a saved tracking model (reads only its config.json, bounded)."""
    from pairsim.jsonio import read_json_bounded

    path = Path(directory) / "config.json"
    try:
        data = read_json_bounded(path)
    except Exception:
        return False
    return isinstance(data, dict) and isinstance(data.get("model"), dict) and data["model"].get("kind") == KIND
