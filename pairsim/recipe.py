"""Recipes: one YAML file describing a whole run (model, loss, data, training, evaluation, output).

A recipe is loaded into typed dataclasses and checked strictly: an unknown key, a wrong type or an unknown
registered name is one :class:`~pairsim.errors.ConfigError` naming the key and the valid choices.
``key=value`` overrides (``train.epochs=1``) are applied to the plain data before checking.

Example:
    >>> r = Recipe.from_dict({"model": {"tower": {"name": "lstm"}}, "loss": {"name": "contrastive"},
    ...                       "data": {"name": "digits"}}, overrides=["train.epochs=2"])
    >>> r.train.epochs, r.model.head.name
    (2, 'cosine')
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import yaml

from pairsim.config import MAX_BATCH, MAX_COUNT, MAX_SEED, bounded, from_dict, load_yaml, set_override, to_dict
from pairsim.data import DatasetConfig, SamplerConfig
from pairsim.errors import ConfigError
from pairsim.losses import LossConfig
from pairsim.model import PairModelConfig
from pairsim.yaml_core import YAMLRefused, dump_yaml


@dataclasses.dataclass(kw_only=True)
class TrainConfig:
    epochs: int = bounded(10, ge=0, le=MAX_COUNT)  # passes over the training data (pairs are re-drawn every epoch)
    steps_per_epoch: int = bounded(0, ge=0, le=MAX_COUNT)  # batches per epoch; 0: one pass over the training split
    max_steps: int = bounded(0, ge=0, le=MAX_COUNT)  # stop after this many optimiser steps in total; 0: no limit
    # rows (pairs, triplets, ...) per optimiser step over all processes (pk/episodes: their own)
    batch_size: int = bounded(64, ge=1, le=MAX_BATCH)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = bounded(1e-3, gt=0)  # peak learning rate
    weight_decay: float = bounded(0.0, ge=0)
    momentum: float = bounded(0.9, ge=0, le=1)  # sgd only
    schedule: Literal["constant", "linear", "cosine"] = "linear"  # decay after warm-up
    warmup: float = bounded(0.05, ge=0, le=1)  # warm-up length as a fraction of all steps
    grad_clip: float = bounded(1.0, ge=0)  # max global gradient norm; 0: no clipping
    seed: int = bounded(0, ge=0, le=MAX_SEED)  # model init, pair sampling and shuffling
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    bf16: bool = True  # bf16 autocast on GPU (ignored on CPU)
    num_workers: int = bounded(0, ge=0, le=256)  # DataLoader worker processes
    # steps between checkpoints (atomic, for --resume; also every checkpoint_minutes and at epoch ends); 0: off
    checkpoint_every: int = bounded(200, ge=0, le=MAX_COUNT)
    eval_every_epoch: bool = True  # evaluate on the validation split after each epoch
    metric: str = "auto"  # validation metric picking the best model; auto: roc_auc, spearman, one-shot or recall@1
    early_stopping: int = bounded(0, ge=0, le=MAX_COUNT)  # stop after this many epochs without improvement; 0: off
    log_every: int = bounded(10, ge=1, le=MAX_COUNT)  # steps between history entries (the bar updates every step)
    # -- a newcomer's defaults: threads, time-based checkpoints, validation points --------------------------
    threads: int = bounded(0, ge=0, le=1024)  # torch CPU threads (or --threads); 0: half the cores, 1 to 4
    # also checkpoint when this many minutes passed since the last checkpoint; 0: by checkpoint_every only
    checkpoint_minutes: float = bounded(5.0, ge=0, le=MAX_COUNT)
    keep_checkpoint: bool = True  # keep checkpoints/last.pt after a finished run (--resume with more epochs)
    eval_every: int = bounded(0, ge=0, le=MAX_COUNT)  # steps between validations inside an epoch; 0: epoch ends
    eval_at_start: bool = True  # validate the untrained model at step 0 (the curves' starting point)
    # steps between model snapshots (snapshots/step_NNNNNN, a saved model whose card records the training seconds
    # so far) for time-to-quality curves measured after the run; 0: off
    snapshot_every: int = bounded(0, ge=0, le=MAX_COUNT)
    # encode a wholly frozen, non-augmenting tower's training inputs once (pairsim/train/frozen.py), not every step
    cache_frozen: bool = True
    # with cache_frozen, a frozen tower (or trunk) that augments its training inputs gets this many augmented
    # views of each distinct training input encoded once, and each step draws one of them: augmentation at the
    # cost of N passes over the data instead of one per step; 0: such a tower runs at every step
    cache_views: int = bounded(0, ge=0, le=64)
    # before the first step, set each tower's projection to a linear map fitted in closed form on the training
    # classes' trunk features (labelled items; pairsim/train/fitters/projection.py): "wccn" whitens the within-class covariance
    # (few classes: faces, signers); with epochs 0 that map is the model
    fit_projection: Literal["none", "wccn"] = "none"
    fit_shrink: float = bounded(0.5, ge=0, le=1)  # wccn: share of the within-class covariance replaced by its mean
    # augmented views of each training item added to the fit (the tower's augment): variation to discount
    fit_views: int = bounded(0, ge=0, le=64)
    # convolution weights and training image batches in channels-last memory format: 1.4x (Conv-4) to 1.8x
    # (EfficientNet-Lite0) faster training steps on CPU (benchmarks/cpu_levers.py); no effect on text towers
    channels_last: bool = True

    def check(self) -> None:
        from pairsim.device import parse_device

        parse_device(self.device, where="device")
        if self.fit_views and self.fit_projection == "none":
            raise ConfigError(f"train.fit_views: {self.fit_views} views need train.fit_projection (e.g. wccn)")
        if self.cache_views == 1:
            raise ConfigError(
                "train.cache_views: expected 0 or at least 2 views (one would be a single fixed distortion)"
            )
        if self.cache_views and not self.cache_frozen:
            raise ConfigError(f"train.cache_views: {self.cache_views} views need train.cache_frozen: true")


@dataclasses.dataclass(kw_only=True)
class EvalConfig:
    metrics: list[str] = dataclasses.field(
        default_factory=list
    )  # groups (verification, oneshot, retrieval); []: per data
    batch_size: int = bounded(128, ge=1, le=MAX_BATCH)  # inputs per encoding batch
    # verification pairs drawn from class-labelled val/test splits (balanced, fixed seed)
    pairs: int = bounded(2000, ge=1, le=MAX_COUNT)
    episodes: int = bounded(0, ge=0, le=MAX_COUNT)  # N-way one-shot episodes on class-labelled splits; 0: none
    n_way: int = bounded(20, ge=2, le=MAX_BATCH)  # classes per episode
    within_group: bool = True  # draw an episode's classes from one group (Omniglot alphabet)
    plots: bool = True  # ROC curve, score histograms and hardest pairs as PNG


@dataclasses.dataclass(kw_only=True)
class Recipe:
    """A whole run. ``model``, ``loss``, ``data`` and ``sampler`` name registered components."""

    model: PairModelConfig
    loss: LossConfig
    data: DatasetConfig
    sampler: SamplerConfig | None = None  # which rows to draw and its options; None: the loss's default sampler
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    output_dir: str = "runs/pairsim"  # where the model, metrics, plots, log and checkpoints go

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, overrides: list[str] = (), where: str = "recipe") -> Recipe:  # type: ignore[assignment]
        data = dict(data)
        for assignment in overrides:
            set_override(data, assignment)
        return from_dict(cls, data, where=where)

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] = ()) -> Recipe:  # type: ignore[assignment]
        """Read a YAML recipe and apply ``key=value`` overrides.

        The file is read as YAML 1.2 (:func:`pairsim.yaml_core.load_yaml`): ``010`` is refused as ambiguous,
        ``yes`` / ``1:00`` are strings, a duplicate key and a document that expands past its size bound through
        aliases are errors.

        Raises:
            ConfigError: Missing, non-UTF-8 or invalid YAML file, an ambiguous number, a duplicate key, an alias
                bomb, unknown key, wrong type, a number out of its declared range or unknown name.
        """
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"recipe {path} is a directory, expected a YAML file")
        if not path.is_file():
            raise ConfigError(f"recipe not found: {path}")
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise ConfigError(f"recipe {path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
        try:
            data = load_yaml(text)
        except yaml.YAMLError as err:  # one line: where it broke and what was wrong
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = " ".join(str(getattr(err, "problem", None) or err).split())
            kind = "" if isinstance(err, YAMLRefused) else ": invalid YAML"  # refused: valid YAML, but ambiguous
            raise ConfigError(f"{path}{kind}{at}: {problem}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping with model, loss, data, train, eval, output_dir")
        return cls.from_dict(data, overrides=overrides, where=path.name)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())
