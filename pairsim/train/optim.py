"""The optimizer of a run: per-tower freezing and learning rates, read from ``train.tower`` / ``train.tower_b``.

Each tower trains by three settings of the recipe (:class:`pairsim.recipe.TowerTrainConfig`), ``train.tower``
for ``model.tower`` and ``train.tower_b`` for ``model.tower_b``:

* ``freeze``: ``true`` fixes the whole tower, a list of parameter-name prefixes (relative to the tower, on
  dotted boundaries: ``encoder.embeddings`` covers ``encoder.embeddings.word_embeddings.weight`` but
  ``encoder.layer.1`` does not cover ``encoder.layer.10``) fixes those parts. A frozen parameter gets
  ``requires_grad=False`` and stays out of the optimizer; a frozen module is kept in eval mode while the
  rest trains (:meth:`pairsim.train.step.TrainStep.train`), so dropout is off and BatchNorm statistics stay
  as they were.
* ``lr_scale``: the tower's trainable parameters learn at ``train.lr * lr_scale``. Everything that is not in
  a tower (the head's and the loss's parameters, e.g. InfoNCE's temperature) keeps ``train.lr``.
* ``lr_parts``: ``{prefix: factor}`` multiplies the rate of the parts a prefix names (the longest matching
  prefix wins) on top of ``lr_scale``: ``{encoder: 0.1}`` tunes a pretrained encoder ten times slower than the
  freshly initialised projection on top of it.

A tied (siamese) model has one tower, ``model.tower``; an untied one also ``model.tower_b`` with its own
settings under ``train.tower_b``. The LiT recipe (Zhai et al. 2022), for example, is ``train.tower_b.freeze: true``
for the image tower and ``train.tower.lr_scale: 0.1`` for the text tower of a caption-image model.

Example:
    >>> from pairsim.recipe import Recipe  # doctest: +SKIP
    >>> recipe = Recipe.load("recipes/digits_pairs.yaml", ["train.tower.freeze=[features]"])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pairsim.errors import ConfigError
from pairsim.model import PairModel
from pairsim.recipe import Recipe, TowerTrainConfig, TrainConfig

BASE_GROUP = "rest"  # the param group of everything outside the towers (head, loss)


def _covered(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _tower_keys(model: PairModel, train: TrainConfig) -> list[tuple[str, str, nn.Module, TowerTrainConfig]]:
    """``(config key, attribute name, tower, its training settings)`` of each distinct tower of the model."""
    towers = [("train.tower", "tower_a", model.tower_a, train.tower)]
    if model.tower_b is not None:
        towers.append(("train.tower_b", "tower_b", model.tower_b, train.tower_b))
    return towers


def tower_training(model: PairModel, tower: nn.Module, train: TrainConfig) -> TowerTrainConfig:
    """The training settings of one of ``model``'s towers: ``train.tower`` for side a's, else ``train.tower_b``."""
    return train.tower if tower is model.tower_a else train.tower_b


def freeze_towers(model: PairModel, train: TrainConfig) -> list[nn.Module]:
    """Apply each tower's ``freeze`` (``train.tower.freeze``, ``train.tower_b.freeze``): its parameters stop
    requiring gradients.

    Args:
        model: The model.
        train: The run's training settings; they say what to freeze.

    Returns:
        The frozen modules (whole towers, or the submodules a prefix names), to keep in eval mode.

    Raises:
        ConfigError: A prefix matches no parameter of its tower (the message lists the tower's top-level parts).
    """
    frozen: list[nn.Module] = []
    for key, _, tower, settings in _tower_keys(model, train):
        freeze = settings.freeze
        if freeze is True:
            tower.requires_grad_(False)
            frozen.append(tower)
            continue
        if not freeze:
            continue
        names = [name for name, _ in tower.named_parameters()]
        for prefix in freeze:
            if not any(_covered(name, [prefix]) for name in names):
                parts = sorted({name.split(".", 1)[0] for name in names})
                raise ConfigError(
                    f"{key}.freeze: {prefix!r} matches no parameter of the {tower.config.name} tower; expected a "
                    f"parameter-name prefix such as {', '.join(parts)} (or true to freeze the whole tower)"
                )
        for name, param in tower.named_parameters():
            if _covered(name, freeze):
                param.requires_grad_(False)
        frozen += [module for name, module in tower.named_modules() if name and _covered(name, freeze)]
    return frozen


def param_groups(module: nn.Module, model: PairModel, recipe: Recipe) -> list[dict[str, Any]]:
    """The optimizer's parameter groups: one per tower with trainable parameters, then the rest.

    Args:
        module: What the optimizer trains (the model plus the loss); its parameters that require gradients
            are used, each once.
        model: The model inside ``module``.
        recipe: The run; ``train.lr`` is the base learning rate, ``train.tower`` / ``train.tower_b`` give each
            tower's ``lr_scale`` and ``lr_parts``.

    Returns:
        ``[{"name": "tower_a", "params": [...], "lr": ...}, {"name": "tower_a.encoder", ...}, ...,
        {"name": "rest", ...}]`` (one group per ``lr_parts`` prefix in use), groups without
        trainable parameters left out (the ``name`` key is for reading, torch ignores it).
    """
    base = recipe.train.lr
    seen: set[int] = set()
    groups: list[dict[str, Any]] = []
    for key, attr, tower, settings in _tower_keys(model, recipe.train):
        parts = settings.lr_parts
        names = [name for name, _ in tower.named_parameters()]
        for prefix in parts:
            if not any(_covered(name, [prefix]) for name in names):
                raise ConfigError(
                    f"{key}.lr_parts: {prefix!r} matches no parameter of the {tower.config.name} tower; expected a "
                    f"parameter-name prefix such as {', '.join(sorted({n.split('.', 1)[0] for n in names}))}"
                )
        by_part: dict[str, list[nn.Parameter]] = {}
        for name, p in tower.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                matches = [prefix for prefix in parts if _covered(name, [prefix])]
                by_part.setdefault(max(matches, key=len) if matches else "", []).append(p)
        for part, params in by_part.items():
            lr = base * settings.lr_scale * (parts[part] if part else 1.0)
            groups.append({"name": f"{attr}.{part}" if part else attr, "params": params, "lr": lr})
    rest = [p for p in module.parameters() if p.requires_grad and id(p) not in seen]
    if rest:
        groups.append({"name": BASE_GROUP, "params": rest, "lr": base})
    return groups


def build_optimizer(groups: list[dict[str, Any]], recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer (``train.optim.optimizer``) over ``groups`` (each with its own ``lr``).

    Raises:
        ConfigError: Nothing is left to train (every tower frozen and no other parameters).
    """
    t = recipe.train.optim
    if not groups:
        raise ConfigError(
            "model: every parameter is frozen (train.tower.freeze, train.tower_b.freeze), nothing is left to train; expected a "
            "tower or part left unfrozen (train.epochs=0 evaluates the model as built)"
        )
    if t.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.train.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=recipe.train.lr, weight_decay=t.weight_decay, fused=fusable(groups) or None)


def fusable(groups: list[dict[str, Any]]) -> bool:
    """Whether Adam / AdamW can run fused (one kernel over all parameters): contiguous float parameters on a
    CPU or CUDA device. On all-MiniLM-L6-v2 the CPU step takes about 1/10 of the per-parameter loop's time
    (benchmarks/RESULTS.md, "Training speed"); sentence-transformers' trainer uses it by default too.
    Channels-last convolution weights (``train.speed.channels_last``) keep the loop: with them fused, a killed
    and resumed run no longer ended bit for bit where the uninterrupted one did (tests/train/test_resume.py)."""
    params = [p for g in groups for p in g["params"]]
    return bool(params) and all(
        p.is_floating_point() and p.is_contiguous() and p.device.type in ("cpu", "cuda") for p in params
    )
