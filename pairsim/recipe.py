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

from pairsim.config import from_dict, load_yaml, set_override, to_dict
from pairsim.data import DatasetConfig, SamplerConfig
from pairsim.errors import ConfigError
from pairsim.losses import LossConfig
from pairsim.model import PairModelConfig


@dataclasses.dataclass(kw_only=True)
class TrainConfig:
    epochs: int = 10  # passes over the training data (pairs are re-drawn every epoch)
    steps_per_epoch: int = 0  # batches per epoch; 0: one pass over the training split
    max_steps: int = 0  # stop after this many optimiser steps in total; 0: no limit
    batch_size: int = 64  # rows (pairs, triplets, ...) per optimiser step over all processes (pk/episodes: their own)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    schedule: Literal["constant", "linear", "cosine"] = "linear"  # decay after warm-up
    warmup: float = 0.05  # warm-up length as a fraction of all steps
    grad_clip: float = 1.0  # max global gradient norm; 0: no clipping
    seed: int = 0  # model init, pair sampling and shuffling
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    bf16: bool = True  # bf16 autocast on GPU (ignored on CPU)
    num_workers: int = 0  # DataLoader worker processes
    checkpoint_every: int = 200  # steps between checkpoints (atomic, for --resume); 0: only at epoch ends
    eval_every_epoch: bool = True  # evaluate on the validation split after each epoch
    metric: str = "auto"  # validation metric picking the best model; auto: roc_auc, spearman, one-shot or recall@1
    early_stopping: int = 0  # stop after this many epochs without improvement; 0: off
    log_every: int = 10  # steps between progress-bar / log updates


@dataclasses.dataclass(kw_only=True)
class EvalConfig:
    metrics: list[str] = dataclasses.field(
        default_factory=list
    )  # groups (verification, oneshot, retrieval); []: per data
    batch_size: int = 128  # inputs per encoding batch
    pairs: int = 2000  # verification pairs drawn from class-labelled val/test splits (balanced, fixed seed)
    episodes: int = 0  # N-way one-shot episodes on class-labelled splits; 0: none
    n_way: int = 20  # classes per episode
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

        Raises:
            ConfigError: Missing file, invalid YAML, unknown key, wrong type or unknown name.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"recipe not found: {path}")
        try:
            data = load_yaml(path.read_text())
        except yaml.YAMLError as err:  # one line: where it broke and what was wrong
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = " ".join(str(getattr(err, "problem", None) or err).split())
            raise ConfigError(f"{path}: invalid YAML{at}: {problem}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping with model, loss, data, train, eval, output_dir")
        return cls.from_dict(data, overrides=overrides, where=path.name)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)
