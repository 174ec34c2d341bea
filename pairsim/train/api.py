"""``pairsim.fit``: train from Python on in-memory data, a ``datasets`` dataset or a pairsim source.

``fit`` writes a recipe (plain data) from its arguments, checks it as a recipe file is checked
(:meth:`pairsim.recipe.Recipe.from_dict`: unknown keys list the valid ones, numbers are range-checked) and runs
it through :func:`run_recipe`, the one entry into :class:`~pairsim.train.trainer.Trainer` that
``pairsim train RECIPE`` uses too. In-memory tables become the registered ``in_memory`` source
(:mod:`pairsim.data.sources.in_memory`) while the run lasts, so losses, samplers, validation, early stopping,
checkpoints and resume are the recipe's own, and the output directory is the same: ``model/`` (with the
threshold calibrated on validation), ``metrics.json``, ``plots/``, ``recipe.yaml``, ``train.log``.

Example:
    >>> import pairsim
    >>> rows = [(f"how old is {n}", f"what age is {n}", 1) for n in "abcdefghij"] + [
    ...     (f"how old is {n}", f"where is {n}", 0) for n in "klmnopqrst"]
    >>> result = pairsim.fit({"name": "lstm", "embed_dim": 8, "hidden_dim": 8}, rows, loss="contrastive",
    ...                      epochs=1, batch_size=4, output_dir=str(tmp), progress=False)  # doctest: +SKIP
    >>> sorted(result.metrics["test"])[:2]  # doctest: +SKIP
    ['accuracy', 'average_precision']
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple

from pairsim.config import to_dict
from pairsim.data.sources import DatasetConfig, Source
from pairsim.data.sources.in_memory import describe, hold
from pairsim.errors import ConfigError
from pairsim.hub import is_model_dir
from pairsim.model import PairModel, PairModelConfig
from pairsim.recipe import RENAMED, Recipe, TrainConfig
from pairsim.train.callbacks import Callback

log = logging.getLogger("pairsim.train")


class FitResult(NamedTuple):
    """What :func:`fit` returns (also unpacks: ``metrics, model, output_dir, recipe = fit(...)``).

    Attributes:
        metrics: What ``metrics.json`` holds: ``test`` metrics, ``best_val``, ``best_epoch``, ``history``, ``steps``.
        model: The trained model (the best on validation, its threshold calibrated there), as saved in
            ``output_dir/model``.
        output_dir: The run's directory.
        recipe: The checked recipe the run followed (also in ``output_dir/recipe.yaml``).
    """

    metrics: dict[str, Any]
    model: PairModel | None
    output_dir: Path
    recipe: Recipe


def run_recipe(
    recipe: Recipe,
    *,
    model: PairModel | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    """Train what a recipe describes: the one path of ``pairsim train`` and :func:`fit`.

    Args:
        recipe: The checked recipe.
        model: A model to train instead of building ``recipe.model`` (its config must be ``recipe.model``).
        resume: Continue from ``output_dir/checkpoints/last.pt``.
        overwrite: Replace an earlier run in ``output_dir`` once this one has finished.
        progress: Show a progress bar.
        callbacks: Watchers of the run (:mod:`pairsim.train.callbacks`), besides those the recipe asks for.

    Returns:
        The metrics, the trained model (None on a non-main process of a distributed run), the output directory
        and the recipe.
    """
    from pairsim.train.trainer import Trainer

    trainer = Trainer(recipe, model=model, resume=resume, overwrite=overwrite, progress=progress, callbacks=callbacks)
    metrics = trainer.run()
    return FitResult(metrics, getattr(trainer, "final_model", None), trainer.out, recipe)


def fit(
    model: PairModel | PairModelConfig | dict[str, Any] | str | Path,
    train: Any,
    val: Any = None,
    test: Any = None,
    *,
    loss: str | dict[str, Any] = "contrastive",
    sampler: str | dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    eval: dict[str, Any] | None = None,  # the recipe's section name
    output_dir: str | Path = "runs/fit",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    **settings: Any,
) -> FitResult:
    """Train a pair model on Python data and write the run's directory, as ``pairsim train`` does.

    Args:
        model: What to train: a :class:`PairModel` (copied; the copy is trained), a model config (dataclass, or
            the plain data of a recipe's ``model:``; a bare tower config ``{"name": "lstm", ...}`` is a tied tower
            with a cosine head), a saved pairsim model directory (fine-tuned), or a Hugging Face /
            sentence-transformers encoder folder or hub id (a tied ``transformer`` tower with a cosine head).
        train: Training data: a list of tuples or dicts, a pandas DataFrame, a ``datasets.Dataset``, a dict of
            columns, pairsim's ``PairTable`` / ``LabelledItems`` / ``CaptionImages``; or all splits at once: a
            ``datasets.DatasetDict`` or a pairsim ``Splits``; or a pairsim source: a dataset config
            (``{"name": "stsb", "limit": 400}``) or :class:`~pairsim.data.sources.Source`.
        val: Validation data of the same kind (None: taken from a DatasetDict, else carved from ``train``).
        test: Test data (the same).
        loss: A registered loss name, or its config (``{"name": "contrastive", "margin": 0.5}``).
        sampler: A registered sampler name or config; None: the loss's default.
        data: How to read the tables (the ``in_memory`` source's settings, see
            :class:`~pairsim.data.sources.table.TableConfig`): ``column_a``, ``column_b``, ``label``, ``score``,
            ``binarize_at``, ``kind``, ``val_fraction``, ``seed``, ...; for a pairsim source, its own settings.
        eval: The recipe's ``eval:`` settings (``{"pairs": 500, "plots": False}``).
        output_dir: The run's directory.
        resume: Continue the run in ``output_dir`` from its last checkpoint.
        overwrite: Replace an earlier run in ``output_dir`` once this one has finished.
        progress: Show a progress bar.
        callbacks: Watchers of the run (:mod:`pairsim.train.callbacks`: trackers, pruners, anything with its hooks).
        **settings: The recipe's ``train:`` settings: ``epochs``, ``batch_size``, ``lr``, ``seed``, ``device``,
            its groups as dicts (``schedule={"warmup": 0.1}``) and the groups' keys by their flat names
            (``early_stopping=2``, ``max_steps=100``, ``threads=2``, ``grad_clip=0``).

    Returns:
        :class:`FitResult`: ``metrics``, ``model``, ``output_dir``, ``recipe``.

    Raises:
        ConfigError: An unknown setting (the message lists the valid ones), a wrong type or a number out of range.
        DataError: Bad data: a missing column, or a value of the wrong kind, naming the argument, row and column.
        Both are ``ValueError`` subclasses.
    """
    model_plain, given = _model_section(model)
    data_plain, tables = _data_section(train, val, test, data)
    plain: dict[str, Any] = {
        "model": model_plain,
        "loss": {"name": loss} if isinstance(loss, str) else dict(loss),
        "data": data_plain,
        "train": train_section(settings),
        "eval": dict(eval or {}),
        "output_dir": str(output_dir),
    }
    if sampler is not None:
        plain["sampler"] = {"name": sampler} if isinstance(sampler, str) else dict(sampler)
    held = hold(*tables) if tables is not None else nullcontext(None)
    with held as ref:
        if ref is not None:
            plain["data"]["ref"] = ref
        recipe = Recipe.from_dict(plain, where="fit")
        recipe.check()
        return run_recipe(
            recipe, model=given, resume=resume, overwrite=overwrite, progress=progress, callbacks=callbacks
        )


# -- the recipe's sections from fit's arguments -------------------------------------------------------------
def _model_section(model: Any) -> tuple[dict[str, Any], PairModel | None]:
    """The recipe's ``model:`` and the model object to train (None: the trainer builds it from the config)."""
    if isinstance(model, PairModel):
        return to_dict(model.config), copy.deepcopy(model)
    if isinstance(model, PairModelConfig):
        return to_dict(model), None
    if isinstance(model, dict):
        if "tower" not in model and "name" in model:  # a bare tower: tied, cosine head
            return {"tower": dict(model)}, None
        return copy.deepcopy(model), None
    if isinstance(model, (str, Path)):
        path = Path(model).expanduser()
        if is_model_dir(path):
            trained = PairModel.from_pretrained(path)
            return to_dict(trained.config), trained
        return {"tower": {"name": "transformer", "model": str(model)}, "head": {"name": "cosine"}}, None
    raise ConfigError(
        f"fit: model is a {type(model).__name__}; expected a PairModel, a model config (dataclass or dict), a "
        "saved model directory, or an encoder folder or hub id"
    )


def _data_section(train: Any, val: Any, test: Any, options: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
    """The recipe's ``data:`` and the tables to hold (None for a pairsim source, read by its config)."""
    options = dict(options or {})
    source = train.config if isinstance(train, Source) else train
    if isinstance(source, DatasetConfig) or (isinstance(source, dict) and isinstance(source.get("name"), str)):
        if val is not None or test is not None:
            raise ConfigError("fit: train is a pairsim source (it makes its own splits); give no val or test")
        plain = to_dict(source) if isinstance(source, DatasetConfig) else dict(source)
        return {**plain, **options}, None
    if train is None:
        raise ConfigError("fit: train is None; expected training data (rows, a DataFrame, a Dataset, a source)")
    description = ", ".join(f"{n}: {describe(t)}" for n, t in (("train", train), ("val", val), ("test", test)))
    return {"name": "in_memory", "ref": "", "description": description, **options}, (train, val, test)


FIT_ARGUMENTS = ["data", "eval", "loss", "output_dir", "overwrite", "progress", "resume", "sampler"]


def train_section(settings: dict[str, Any]) -> dict[str, Any]:
    """The recipe's ``train:`` from ``fit``'s keyword settings: its own keys and groups, and each group's keys by
    their flat names (the earlier recipe names of :data:`pairsim.recipe.RENAMED`: ``early_stopping``).

    Raises:
        ConfigError: An unknown setting, listing the valid ones, or one key given twice (flat and in its group).

    Example:
        >>> train_section({"epochs": 2, "early_stopping": 3, "schedule": {"warmup": 0.1}})
        {'epochs': 2, 'validation': {'early_stopping': 3}, 'schedule': {'warmup': 0.1}}
    """
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    flat = {old.split(".", 1)[1]: new.split(".", 1)[1] for old, new in RENAMED.items()
            if old.startswith("train.") and old.count(".") == 1}  # fmt: skip
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key in fields and not (key in flat and isinstance(value, str)):  # schedule="cosine": the old flat key
            group = out.setdefault(key, {}) if isinstance(value, dict) else None
            if group is not None:
                _merge(group, value, key)
            else:
                out[key] = value
            continue
        if key not in flat:
            valid = sorted({*fields, *flat, *FIT_ARGUMENTS})
            raise ConfigError(f"fit: unknown setting {key!r}; valid settings: {', '.join(valid)}")
        group, leaf = flat[key].split(".", 1)
        _merge(out.setdefault(group, {}), {leaf: value}, group)
    return out


def _merge(target: dict[str, Any], values: dict[str, Any], group: str) -> None:
    for leaf, value in values.items():
        if leaf in target:
            raise ConfigError(f"fit: {group}.{leaf} is given twice (by its flat name and in {group}=...); give it once")
        target[leaf] = value
