"""Tracking recipes (``task: tracking``): a SiamFC model, the images its synthetic sequences are made of (and/or
annotated OTB / GOT-10k sequence folders), pair and loop settings, and the output directory. ``pairsim train``
runs them like every recipe; the file is checked as strictly (unknown keys, types, ranges).

Example:
    >>> recipe = TrackRecipe.load("recipes/siamfc.yaml", ["train.steps=2"])  # doctest: +SKIP
    >>> run(recipe)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from pairsim.config import bounded, from_dict, set_override, to_dict
from pairsim.errors import ConfigError
from pairsim.track.model import SiamFC, parse_config
from pairsim.track.synthetic import MotionSettings, load_images, make_sequence
from pairsim.track.train import PairSettings, TrainSettings, train

TASK = "tracking"


@dataclasses.dataclass(kw_only=True)
class TrackData:
    """Where training sequences come from."""

    images: str | None = None  # a folder of still images: synthetic sequences ($PAIRSIM_DATA_DIR expanded)
    sequences: list[str] = dataclasses.field(default_factory=list)  # annotated sequence folders (OTB / GOT-10k)
    held_out_every: int = bounded(10, ge=2, le=1000)  # every n-th image (by name) is kept for evaluation
    frames: int = bounded(100, ge=2, le=100_000)  # frames of each synthetic sequence
    motion: MotionSettings = dataclasses.field(default_factory=MotionSettings)


@dataclasses.dataclass(kw_only=True)
class TrackRecipe:
    """A tracking recipe."""

    task: str = TASK
    model: dict[str, Any] = dataclasses.field(default_factory=dict)
    data: TrackData = dataclasses.field(default_factory=TrackData)
    pairs: PairSettings = dataclasses.field(default_factory=PairSettings)
    train: TrainSettings = dataclasses.field(default_factory=TrainSettings)
    output_dir: str = "runs/siamfc"

    def __post_init__(self) -> None:
        if self.task != TASK:
            raise ConfigError(f"task: expected {TASK!r}, got {self.task!r}")
        if not self.data.images and not self.data.sequences:
            raise ConfigError("data: expected images (a folder of still images) or sequences (annotated folders)")

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> TrackRecipe:
        """Read a tracking recipe and apply ``key=value`` overrides (checked like every recipe)."""

        data = _read(path)
        for assignment in overrides:
            set_override(data, assignment)
        recipe = from_dict(cls, data, where=Path(path).name)
        parse_config(recipe.model, where="model")  # the model config is checked now, not after loading data
        return recipe

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def _read(path: str | Path) -> dict[str, Any]:
    from pairsim.yaml_core import load_yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe not found: {path}")
    data = load_yaml(path.read_text(encoding="utf-8-sig"))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    return data


def is_tracking_recipe(path: str | Path) -> bool:
    """Whether the YAML file at ``path`` says ``task: tracking`` (the file is only parsed)."""
    try:
        return _read(path).get("task") == TASK
    except Exception:
        return False


def expand(path: str) -> str:
    """``$PAIRSIM_DATA_DIR`` and ``~`` expanded."""
    return os.path.expanduser(os.path.expandvars(path))


def run(recipe: TrackRecipe) -> dict[str, Any]:
    """Train the recipe's model and save it to ``output_dir/model``; returns ``{"history", "model_dir"}``."""
    from pairsim.safe_io import atomic_write_text
    from pairsim.track.sequences import read_annotated
    from pairsim.yaml_core import dump_yaml

    model = SiamFC(parse_config(recipe.model))
    annotated = [read_annotated(expand(p)) for p in recipe.data.sequences]
    images = []
    if recipe.data.images:
        images = load_images(expand(recipe.data.images), held_out=False, every=recipe.data.held_out_every)
        if len(images) < 2:
            raise ConfigError(f"data.images: expected at least 2 training images in {recipe.data.images}")
    d = recipe.data

    def source(rng: np.random.Generator) -> Any:
        if annotated and (not images or rng.random() < 0.5):
            return annotated[int(rng.integers(len(annotated)))]
        return make_sequence(images, seed=int(rng.integers(2**31)), frames=d.frames, settings=d.motion)

    out = Path(expand(recipe.output_dir))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "recipe.yaml", dump_yaml(recipe.to_dict()))
    history = train(model, source, settings=recipe.train, pairs=recipe.pairs, output_dir=out / "model")
    return {"history": history, "model_dir": str(out / "model")}
