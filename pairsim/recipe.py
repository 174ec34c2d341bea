"""Recipes: one YAML file describing a whole run (model, loss, data, training, evaluation, output).

A recipe is loaded into typed dataclasses and checked strictly: an unknown key, a wrong type or an unknown
registered name is one :class:`~pairsim.errors.ConfigError` naming the key and the valid choices.
``key=value`` overrides (``train.epochs=1``, ``train.speed.threads=2``) are applied to the plain data before
checking. ``train`` keeps the everyday keys flat and groups the rest (:class:`TrainConfig`); the names of earlier
versions are read through the one table :data:`RENAMED`.

Example:
    >>> r = Recipe.from_dict({"model": {"tower": {"name": "lstm"}}, "loss": {"name": "contrastive"},
    ...                       "data": {"name": "digits"}}, overrides=["train.epochs=2"])
    >>> r.train.epochs, r.model.head.name
    (2, 'cosine')
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from pairsim.config import MAX_BATCH, MAX_COUNT, MAX_SEED, bounded, from_dict, load_yaml, set_override, to_dict
from pairsim.data import DatasetConfig, SamplerConfig
from pairsim.errors import ConfigError
from pairsim.losses import LossConfig
from pairsim.model import TOWER_TRAINING_KEYS, PairModelConfig
from pairsim.yaml_core import YAMLRefused, dump_yaml


@dataclasses.dataclass(kw_only=True)
class ScheduleConfig:
    """``train.schedule``: how long the run is and how the learning rate moves."""

    steps_per_epoch: int = bounded(0, ge=0, le=MAX_COUNT)  # batches per epoch; 0: one pass over the training split
    max_steps: int = bounded(0, ge=0, le=MAX_COUNT)  # stop after this many optimiser steps in total; 0: no limit
    warmup: float = bounded(0.05, ge=0, le=1)  # warm-up length as a fraction of all steps
    decay: Literal["constant", "linear", "cosine"] = "linear"  # the learning rate's decay after warm-up


@dataclasses.dataclass(kw_only=True)
class OptimConfig:
    """``train.optim``: the optimiser and what bounds its steps."""

    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    weight_decay: float = bounded(0.0, ge=0)
    momentum: float = bounded(0.9, ge=0, le=1)  # sgd only
    grad_clip: float = bounded(1.0, ge=0)  # max global gradient norm; 0: no clipping


@dataclasses.dataclass(kw_only=True)
class TowerTrainConfig:
    """``train.tower`` / ``train.tower_b``: how the tower ``model.tower`` / ``model.tower_b`` trains
    (pairsim/train/optim.py); not part of the network, so a saved model does not carry it."""

    # true fixes the whole tower (no gradients, eval mode while training); a list of parameter-name prefixes
    # (e.g. [encoder.embeddings]) fixes those parts
    freeze: bool | list[str] = False
    lr_scale: float = bounded(1.0, gt=0, le=1000)  # this tower learns at train.lr * lr_scale (head, loss: train.lr)
    # further multipliers for parts of the tower by parameter-name prefix (the longest match wins), e.g.
    # {encoder: 0.1}: a pretrained encoder tuned 10x slower than the new projection on top of it
    lr_parts: dict[str, float] = bounded(default_factory=dict, gt=0, le=1000)


@dataclasses.dataclass(kw_only=True)
class ValidationConfig:
    """``train.validation``: when the validation split is measured and what picks the best model."""

    every_epoch: bool = True  # evaluate on the validation split after each epoch
    every: int = bounded(0, ge=0, le=MAX_COUNT)  # steps between validations inside an epoch; 0: epoch ends
    at_start: bool = True  # validate the untrained model at step 0 (the curves' starting point)
    metric: str = "auto"  # validation metric picking the best model; auto: roc_auc, spearman, one-shot or recall@1
    early_stopping: int = bounded(0, ge=0, le=MAX_COUNT)  # stop after this many epochs without improvement; 0: off


@dataclasses.dataclass(kw_only=True)
class CheckpointConfig:
    """``train.checkpoint``: what the run writes along the way (checkpoints for --resume, model snapshots)."""

    # steps between checkpoints (atomic, for --resume; also every `minutes` and at epoch ends); 0: off
    every: int = bounded(200, ge=0, le=MAX_COUNT)
    # also checkpoint when this many minutes passed since the last checkpoint; 0: by `every` only
    minutes: float = bounded(5.0, ge=0, le=MAX_COUNT)
    keep: bool = True  # keep checkpoints/last.pt after a finished run (--resume with more epochs)
    # steps between model snapshots (snapshots/step_NNNNNN, a saved model whose card records the training seconds
    # so far) for time-to-quality curves measured after the run; 0: off
    snapshot_every: int = bounded(0, ge=0, le=MAX_COUNT)


@dataclasses.dataclass(kw_only=True)
class SpeedConfig:
    """``train.speed``: levers that make training faster (cache_views also changes what it sees)."""

    threads: int = bounded(0, ge=0, le=1024)  # torch CPU threads (or --threads); 0: half the cores, 1 to 4
    num_workers: int = bounded(0, ge=0, le=256)  # DataLoader worker processes
    bf16: bool = True  # bf16 autocast on GPU (ignored on CPU)
    # convolution weights and training image batches in channels-last memory format: 1.4x (Conv-4) to 1.8x
    # (EfficientNet-Lite0) faster training steps on CPU (benchmarks/cpu_levers.py); no effect on text towers
    channels_last: bool = True
    # encode a wholly frozen, non-augmenting tower's training inputs once (pairsim/train/frozen.py), not every step
    cache_frozen: bool = True
    # with cache_frozen, a frozen tower (or trunk) that augments its training inputs gets this many augmented
    # views of each distinct training input encoded once, and each step draws one of them: augmentation at the
    # cost of N passes over the data instead of one per step; 0: such a tower runs at every step
    cache_views: int = bounded(0, ge=0, le=64)

    def check(self) -> None:
        if self.cache_views == 1:
            raise ConfigError("cache_views: expected 0 or at least 2 views (one would be a single fixed distortion)")
        if self.cache_views and not self.cache_frozen:
            raise ConfigError(f"cache_views: {self.cache_views} views need train.speed.cache_frozen: true")


@dataclasses.dataclass(kw_only=True)
class FitConfig:
    """``train.fit``: parts fitted in closed form before the first step (pairsim/train/fitters)."""

    # set each tower's projection to a linear map fitted on the training classes' trunk features (classes from any
    # layout: class_items in pairsim/data/types.py; pairsim/train/fitters/projection.py): "wccn" whitens the
    # within-class covariance (few classes: faces, signers); with epochs 0 that map is the model
    projection: Literal["none", "wccn"] = "none"
    shrink: float = bounded(0.5, ge=0, le=1)  # wccn: share of the within-class covariance replaced by its mean
    # augmented views of each training item added to the fit (the tower's augment): variation to discount
    views: int = bounded(0, ge=0, le=64)

    def check(self) -> None:
        if self.views and self.projection == "none":
            raise ConfigError(f"views: {self.views} views need train.fit.projection (e.g. wccn)")


@dataclasses.dataclass(kw_only=True)
class TrainConfig:
    """``train``: the everyday keys flat, the rest in groups (``train.schedule.warmup``, ``train.speed.threads``)."""

    epochs: int = bounded(10, ge=0, le=MAX_COUNT)  # passes over the training data (pairs are re-drawn every epoch)
    # rows (pairs, triplets, ...) per optimiser step over all processes (pk/episodes: their own)
    batch_size: int = bounded(64, ge=1, le=MAX_BATCH)
    lr: float = bounded(1e-3, gt=0)  # peak learning rate
    seed: int = bounded(0, ge=0, le=MAX_SEED)  # model init, pair sampling and shuffling
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    log_every: int = bounded(10, ge=1, le=MAX_COUNT)  # steps between history entries (the bar updates every step)
    # run tracking: any of tensorboard, mlflow, wandb (pairsim/train/report); []: nothing is reported
    report_to: list[str] = dataclasses.field(default_factory=list)
    # minutes the whole run may take (pairsim/train/budget.py): the step count is planned after a timed warm-up so
    # the learning-rate schedule ends, and the test evaluation is done, within it; 0: no budget (epochs decide)
    time_budget: float = bounded(0.0, ge=0, le=60 * 24 * 30)
    # -- groups ------------------------------------------------------------------------------------------------
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    tower: TowerTrainConfig = dataclasses.field(default_factory=TowerTrainConfig)  # how model.tower trains
    tower_b: TowerTrainConfig = dataclasses.field(default_factory=TowerTrainConfig)  # how model.tower_b trains
    validation: ValidationConfig = dataclasses.field(default_factory=ValidationConfig)
    checkpoint: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)
    speed: SpeedConfig = dataclasses.field(default_factory=SpeedConfig)
    fit: FitConfig = dataclasses.field(default_factory=FitConfig)

    def check(self) -> None:
        from pairsim.device import parse_device

        parse_device(self.device, where="device")
        repeated = sorted({name for name in self.report_to if self.report_to.count(name) > 1})
        if repeated:
            raise ConfigError(f"report_to: {', '.join(repeated)} named more than once")
        if 0 < self.time_budget < 0.1:
            raise ConfigError(f"time_budget: {self.time_budget:g} minutes; expected 0 (off) or at least 0.1")


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
class SweepConfig:
    """``sweep``: what ``pairsim sweep`` tries (pairsim/train/sweep); ``pairsim train`` ignores it.

    ``space`` maps a dotted recipe key to a list of choices (YAML values, as ``key=value`` overrides take them) or to
    a range ``{low, high, log}`` (an integer range when both ends are integers).
    """

    space: dict[str, Any] = dataclasses.field(default_factory=dict)  # dotted key -> [choices] or {low, high, log}
    budget: str = ""  # total wall time when --budget is not given, e.g. "60m", "1.5h", "900s"
    trials: int = bounded(0, ge=0, le=10_000)  # at most this many trials; 0: as many as the budget allows
    # training seeds per trial; 0: auto (3 where validation is small: < 200 pairs / items or < 10 classes, else 1)
    seeds: int = bounded(0, ge=0, le=16)
    sampler: Literal["auto", "grid", "tpe", "random"] = "auto"  # auto: grid when every key has choices, else tpe
    pruner: Literal["median", "halving", "none"] = "median"  # stops weak trials at a validation (Optuna's pruners)


# Old key -> its place now, for recipes, ``key=value`` overrides and the recipe.yaml of earlier runs (--resume):
# the one table of renamed keys. A run reading any of them says so in one log line (Recipe.renamed_note).
RENAMED: dict[str, str] = {
    "train.steps_per_epoch": "train.schedule.steps_per_epoch",
    "train.max_steps": "train.schedule.max_steps",
    "train.warmup": "train.schedule.warmup",
    "train.schedule": "train.schedule.decay",  # a string there is the old key; a mapping is the group
    "train.optimizer": "train.optim.optimizer",
    "train.weight_decay": "train.optim.weight_decay",
    "train.momentum": "train.optim.momentum",
    "train.grad_clip": "train.optim.grad_clip",
    "train.eval_every_epoch": "train.validation.every_epoch",
    "train.eval_every": "train.validation.every",
    "train.eval_at_start": "train.validation.at_start",
    "train.metric": "train.validation.metric",
    "train.early_stopping": "train.validation.early_stopping",
    "train.checkpoint_every": "train.checkpoint.every",
    "train.checkpoint_minutes": "train.checkpoint.minutes",
    "train.keep_checkpoint": "train.checkpoint.keep",
    "train.snapshot_every": "train.checkpoint.snapshot_every",
    "train.threads": "train.speed.threads",
    "train.num_workers": "train.speed.num_workers",
    "train.bf16": "train.speed.bf16",
    "train.channels_last": "train.speed.channels_last",
    "train.cache_frozen": "train.speed.cache_frozen",
    "train.cache_views": "train.speed.cache_views",
    "train.fit_projection": "train.fit.projection",
    "train.fit_shrink": "train.fit.shrink",
    "train.fit_views": "train.fit.views",
    # training settings that lived in the tower configs (a saved model's config.json ignores them)
    **{f"model.{side}.{key}": f"train.{side}.{key}" for side in ("tower", "tower_b") for key in TOWER_TRAINING_KEYS},
}


def _parent(data: dict[str, Any], path: str, *, create: bool) -> dict[str, Any] | None:
    """The mapping holding ``path``'s last part (made when ``create``), or None where the walk meets no mapping."""
    node: Any = data
    for part in path.split(".")[:-1]:
        if create and node.get(part) is None:
            node[part] = {}
        node = node.get(part)
        if not isinstance(node, dict):
            return None
    return node


def rename_old_keys(data: dict[str, Any], *, where: str = "recipe") -> list[str]:
    """Move every old key of :data:`RENAMED` found in ``data`` to its new place, in place.

    Args:
        data: A recipe as plain data.
        where: Its name in messages.

    Returns:
        The old keys found, e.g. ``["train.checkpoint_every"]``.

    Raises:
        ConfigError: An old key and its new name are both set.
    """
    found = []
    # an old key named like its new group (train.schedule) first: the group's other keys go into what it leaves
    for old, new in sorted(RENAMED.items(), key=lambda item: not item[1].startswith(item[0] + ".")):
        parent = _parent(data, old, create=False)
        leaf = old.rsplit(".", 1)[-1]
        if parent is None or leaf not in parent:
            continue
        if new.startswith(old + ".") and isinstance(parent[leaf], dict):  # the group of the same name
            continue
        value = parent.pop(leaf)
        target = _parent(data, new, create=True)
        if target is None:
            raise ConfigError(f"{where}: {old} (old name of {new}) is set, but {new.rsplit('.', 1)[0]} is no mapping")
        if new.rsplit(".", 1)[-1] in target:
            raise ConfigError(f"{where}: {old} is the old name of {new}, and both are set; keep {new}")
        target[new.rsplit(".", 1)[-1]] = value
        found.append(old)
    return found


def _rename_override(assignment: str) -> tuple[str, str | None]:
    """``assignment`` with an old key (or a key under one) renamed, and the old key (None if it was not old)."""
    key, sep, raw = assignment.partition("=")
    scratch: dict[str, Any] = {}
    try:
        set_override(scratch, assignment)
    except ConfigError:
        return assignment, None  # set_override says what is wrong with it when it is applied
    key = key.strip()
    for old in rename_old_keys(scratch):  # a mapping set above an old key is renamed once it is in the recipe
        if key == old or key.startswith(old + "."):
            return RENAMED[old] + key[len(old) :] + sep + raw, old
    return assignment, None


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
    sweep: SweepConfig | None = None  # what `pairsim sweep` tries (ignored by `pairsim train`)
    renamed: ClassVar[list[str]] = []  # the old keys (RENAMED) it was read with; set by from_dict

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, overrides: list[str] = (), where: str = "recipe") -> Recipe:  # type: ignore[assignment]
        """Check plain data (and ``key=value`` overrides applied to it) into a Recipe.

        Old key names (:data:`RENAMED`) are read at their new places, in ``data`` and in ``overrides``, and
        listed in ``recipe.renamed``; ``data`` itself is left as it was.

        Raises:
            ConfigError: An unknown key, a wrong type, a number out of range, an unknown name, or an old key
                and its new name both set.
        """
        data = copy.deepcopy(data)
        found = rename_old_keys(data, where=where)
        for assignment in overrides:
            assignment, old = _rename_override(assignment)
            found += [old] if old else []
            set_override(data, assignment)
        found += rename_old_keys(data, where=where)  # old keys inside a mapping an override set
        recipe = from_dict(cls, data, where=where)
        recipe.renamed = list(dict.fromkeys(found))
        return recipe

    def renamed_note(self) -> str | None:
        """The one log line naming the old keys this recipe was read with and their new names, or None."""
        if not self.renamed:
            return None
        pairs = ", ".join(f"{old} -> {RENAMED[old]}" for old in self.renamed)
        return f"recipe: old key names read under their new names (rename them in the recipe): {pairs}"

    def check(self) -> None:
        if self.model.tower_b is None and self.train.tower_b != TowerTrainConfig():
            raise ConfigError(
                "train.tower_b: the model is tied (model.tower_b: null), so there is no tower b to train; expected "
                "the settings under train.tower"
            )

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
