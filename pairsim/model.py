"""PairModel: one tower (tied, siamese) or two (untied, pseudo-siamese) and a head that scores pairs."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pairsim.config import MAX_DIM, bounded, from_dict, to_dict
from pairsim.errors import ConfigError
from pairsim.heads import HEADS, Head, HeadConfig
from pairsim.scoring import PairScoring
from pairsim.towers import TOWERS, Batch, Tower, TowerConfig

# training settings older pairsim kept in each tower's config, now train.tower / train.tower_b of a recipe
# (pairsim/recipe.py RENAMED): a saved model's config.json that still has them loads, and they are ignored
TOWER_TRAINING_KEYS = ("freeze", "lr_scale", "lr_parts")


@dataclasses.dataclass(kw_only=True)
class PairModelConfig:
    """What a pair model is made of; saved as ``config.json`` and read back strictly."""

    tower: TowerConfig  # the tower for side a (and for side b too when tied)
    tower_b: TowerConfig | None = None  # None: tied (siamese, one set of weights); else the side-b tower
    head: HeadConfig = dataclasses.field(default_factory=lambda: HEADS.get("cosine").Config(name="cosine"))
    threshold: float | None = bounded(None)  # decision threshold in score units, calibrated on validation data
    # the data the threshold was calibrated on, "<dataset> <split> sha256:<hex>" (pairsim/data/fingerprint.py): pairsim
    # eval warns when a recipe's validation split differs; None: not recorded (older models, hand-set thresholds)
    threshold_data: str | None = None
    # keep only the leading dimensions of every embedding at inference (encode, score, galleries, export); rows
    # are L2-renormalised for a cosine head. None: all. A matryoshka-trained model keeps its quality at its sizes.
    truncate_dim: int | None = bounded(None, ge=1, le=MAX_DIM)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "model") -> PairModelConfig:
        """A saved model's config (``config.json``'s ``model``), strictly; the training settings older pairsim
        kept in a tower's config (:data:`TOWER_TRAINING_KEYS`) are accepted and ignored.

        Raises:
            ConfigError: An unknown key, a wrong type or a number out of range, naming the dotted key.
        """
        if isinstance(data, dict):
            data = {
                key: {k: v for k, v in value.items() if k not in TOWER_TRAINING_KEYS}
                if key in ("tower", "tower_b") and isinstance(value, dict)
                else value
                for key, value in data.items()
            }
        return from_dict(cls, data, where=where)


def _checked_config(data: dict[str, Any], *, where: str) -> PairModelConfig:
    """A saved model's config, with the checks loading makes before building (the same at save).

    Args:
        data: ``config.json``'s ``model`` as plain data.
        where: Its name in messages (``config.json:model``).

    Raises:
        ConfigError: An unknown key, a wrong type, a non-finite threshold, or a tower config that would make
            building read outside the directory.
    """
    config = PairModelConfig.from_dict(data, where=where)
    if config.threshold is not None and not math.isfinite(config.threshold):
        raise ConfigError(f"{where}.threshold: expected a finite number, got {config.threshold!r}")
    for key, tower_config in (("tower", config.tower), ("tower_b", config.tower_b)):
        if tower_config is not None:
            TOWERS.get(tower_config.name).check_saved_config(tower_config, where=f"{where}.{key}")
    return config


def _build_tower(config: TowerConfig) -> Tower:
    return TOWERS.get(config.name)(config)


def check_truncate_dim(dim: int | None, out_dim: int, head: Head, *, where: str) -> None:
    """Raise ConfigError unless ``dim`` (None: no truncation) fits the towers and the head.

    Args:
        dim: The number of leading dimensions kept.
        out_dim: The towers' embedding size.
        head: The model's head: one holding state sized to the embeddings (weighted_l1's weights, a cosine
            cohort) cannot score shorter embeddings.
        where: The setting's name in the message.
    """
    if dim is None:
        return
    if not 1 <= dim <= out_dim:
        raise ConfigError(f"{where}: expected a size in 1..{out_dim} (the embedding size), got {dim}")
    sized = [k for k, v in head.state_dict().items() if v.ndim and v.shape[-1] == out_dim and dim < out_dim]
    if sized:
        raise ConfigError(f"{where}: head {head.config.name!r} holds {out_dim}-wide state ({sized[0]}); it cannot "
                          "score truncated embeddings")  # fmt: skip


def truncate(embeddings: torch.Tensor, dim: int | None, *, renormalise: bool) -> torch.Tensor:
    """The first ``dim`` dimensions of ``embeddings (N, D)`` (None: all), L2-renormalised when asked.

    Example:
        >>> truncate(torch.tensor([[3.0, 4.0, 12.0]]), 2, renormalise=True)
        tensor([[0.6000, 0.8000]])
    """
    if dim is None:
        return embeddings
    out = embeddings[..., :dim]  # (N, dim)
    return torch.nn.functional.normalize(out, dim=-1) if renormalise else out


class PairModel(PairScoring, nn.Module):
    """Scores pairs of inputs: ``score = head(tower_a(x_a), tower_b(x_b))``.

    Tied (siamese) models have ``tower_b is None`` and run ``tower_a`` on both sides, so the state dict
    holds one set of tower weights. Untied (pseudo-siamese) towers may be of different kinds (a text
    transformer and an image CNN) and must give embeddings of the same size.

    ``__init__`` builds from the config only; use :meth:`from_config` to also load pretrained backbones
    and :meth:`from_pretrained` to load a saved model (never touches a hub for a local directory).

    Args:
        config: The model's config.
        where: Its name in error messages (``config.json:model`` when loading).

    Raises:
        ConfigError: Towers that do not fit together, or a threshold outside the head's score range.

    Example:
        >>> cfg = PairModelConfig.from_dict({"tower": {"name": "lstm", "embed_dim": 8, "hidden_dim": 4},
        ...                                  "head": {"name": "exp"}})
        >>> model = PairModel(cfg)
        >>> model.adapt(["how old are you", "what is your age"])
        >>> model.score(["how old are you"], ["what is your age"]).shape
        torch.Size([1])
    """

    def __init__(self, config: PairModelConfig, *, where: str = "model") -> None:
        super().__init__()
        config = copy.deepcopy(config)  # building never mutates the caller's config
        self.tower_a = _build_tower(config.tower)
        self.tower_b = None if config.tower_b is None else _build_tower(config.tower_b)
        if self.tower_b is not None and self.tower_b.out_dim != self.tower_a.out_dim:
            raise ConfigError(
                f"model: untied towers give embeddings of different sizes ({self.tower_a.out_dim} and "
                f"{self.tower_b.out_dim}); set out_dim on the towers to a common size"
            )
        for side, tower in (("tower", self.tower_a), ("tower_b", self.tower_b)):
            head_cls = HEADS.get(config.head.name)
            if tower is not None and tower.gives != head_cls.reads:
                raise ConfigError(
                    f"{where}.{side}: the {tower.config.name} tower gives {tower.gives}, but the {config.head.name} "
                    f"head reads {head_cls.reads} (a cross_encoder head takes pair_tokens towers, other heads "
                    "take embedding towers)"
                )
        head = config.head
        if "dim" in {f.name for f in dataclasses.fields(head)} and not head.dim:
            head = dataclasses.replace(head, dim=self.tower_a.out_dim)  # heads weighting embedding dimensions
        self.head: Head = HEADS.get(head.name)(head)
        self.head.bind(self.tower_a.out_dim, tied=self.tower_b is None)
        self.head.check_threshold(config.threshold, where=f"{where}.threshold")  # within the head's score range
        check_truncate_dim(config.truncate_dim, self.tower_a.out_dim, self.head, where=f"{where}.truncate_dim")
        # the resolved config: the towers' own (a transformer's backbone config, an LSTM's vocabulary size)
        self.config = dataclasses.replace(
            config,
            tower=self.tower_a.config,
            tower_b=None if self.tower_b is None else self.tower_b.config,
            head=self.head.config,
        )

    # -- construction ---------------------------------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        config: PairModelConfig | dict[str, Any],
        *,
        pretrained: bool = True,
        adapt_on: tuple[Sequence[Any], Sequence[Any] | None] | None = None,
    ) -> PairModel:
        """Build a model, fit its data-dependent parts, then load each tower's pretrained weights once.

        Args:
            config: A config or its plain-data form (as in a recipe's ``model:`` section).
            pretrained: Load pretrained backbones (GloVe, a Hugging Face encoder, a torchvision / timm file).
            adapt_on: Training inputs ``(side_a, side_b or None)`` for :meth:`adapt` (an LSTM's vocabulary),
                fitted before the pretrained weights so GloVe fills the final vocabulary.
        """
        if isinstance(config, dict):
            config = PairModelConfig.from_dict(config)
        model = cls(config)
        if adapt_on is not None:
            model.adapt(*adapt_on)
        if pretrained:
            model.load_pretrained()
        return model

    def load_pretrained(self) -> None:
        """Load every tower's (and the head's) pretrained weights (after :meth:`adapt`, which sizes vocabularies)."""
        for tower in self.distinct_towers:
            tower.load_pretrained()
        self.head.load_pretrained()  # a cross-encoder head's transformer; nothing for the others

    def adapt(self, items_a: Sequence[Any], items_b: Sequence[Any] | None = None) -> None:
        """Fit data-dependent parts (vocabularies) on training inputs of each side."""
        for side, tower, items in (("a", self.tower_a, items_a), ("b", self.side_b, items_b)):
            if items is not None and tower.modality == "text":  # only text towers fit something (a vocabulary)
                tower.check_items(items, where=f"side-{side} training inputs")
        if self.tower_b is None:
            self.tower_a.adapt([*items_a, *(items_b or [])])
        else:
            self.tower_a.adapt(items_a)
            self.tower_b.adapt(items_b if items_b is not None else items_a)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        device: str | None = None,
        revision: str | None = None,
        allow_unverified: bool = False,
    ) -> PairModel:
        """Load a model saved with :meth:`save_pretrained` from a directory or a Hugging Face hub id.

        A local directory is read alone: no network, no file outside it, no code from it, no symbolic link in
        it. Every file the model uses must be listed in ``config.json``'s sha256 map and match it; the towers
        read the verified bytes. The config goes through the same strict checks as a recipe (a threshold
        within the head's score range); the weights must have the model's own tensor types and finite values.

        Args:
            name_or_path: A saved model directory, or a hub id.
            device: Move the model there.
            revision: Hub revision (hub ids only).
            allow_unverified: Load a directory whose ``config.json`` records no sha256 map (saved by an old
                pairsim, or the map deleted), logging one warning line. A map that is present is always checked.

        Raises:
            ModelFileError: One line naming the file and what is wrong with it.
        """
        from pairsim.errors import ModelFileError
        from pairsim.hub import check_state, read_model_dir

        saved = read_model_dir(name_or_path, revision=revision, allow_unverified=allow_unverified)
        where = f"{saved.config_path.name}:model"
        try:
            config = _checked_config(saved.config, where=where)
            model = cls(config, where=where)
        except ConfigError as err:
            raise ModelFileError(str(err)) from None
        except (ValueError, RuntimeError, TypeError, OverflowError) as err:  # a config the checks let through
            message = " ".join(str(err).split())
            raise ModelFileError(f"{saved.config_path}: cannot build the model it describes: {message}") from None
        with saved.asset_copy() as assets:  # the verified bytes, never the directory again
            for sub, tower in model._tower_dirs():
                tower.load_assets(assets / sub)
        check_state(saved, model.state_dict())
        model.load_state_dict(saved.state, strict=True)
        model.eval()
        return model.to(device) if device else model

    def fingerprint(self) -> str:
        """A sha256 of what decides the embeddings: every tower's config and weights (not the head or threshold).

        Two models give the same fingerprint exactly when their towers embed every input the same way (e.g. a
        model re-saved with another threshold); galleries store it so one model's embeddings are never
        searched with another's.
        """
        import hashlib
        import json

        digest = hashlib.sha256()
        towers = {"tower": to_dict(self.config.tower), "tower_b": self.config.tower_b and to_dict(self.config.tower_b)}
        if self.config.truncate_dim is not None:  # shorter embeddings are other embeddings (unset: as before)
            towers["truncate_dim"] = self.config.truncate_dim
        digest.update(json.dumps(towers, sort_keys=True, default=str).encode())
        for key, tensor in sorted(self.state_dict().items()):
            if not key.startswith(("tower_a.", "tower_b.")):
                continue
            t = tensor.detach().to("cpu").contiguous()
            digest.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    def save_pretrained(self, directory: str | Path, *, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``config.json``, ``model.safetensors``, tokenizer / vocabulary files and a model card.

        The directory is built beside ``directory`` and swapped in whole; ``directory`` must be new, empty
        or a saved pairsim model (anything else is refused, nothing is deleted). Nothing that loading would
        refuse is written: the config and weights go through :meth:`from_pretrained`'s checks first, and the
        written files through the loader's file checks before the swap.

        Raises:
            ConfigError: The config would not load again (e.g. a threshold outside the head's score range).
            ModelFileError: ``directory`` is a file or a directory of other files, or a weight is NaN / infinite.
        """
        import json

        from pairsim.card import model_card
        from pairsim.hub import check_tensors, write_model_dir

        self.head.check_threshold(self.config.threshold, where="model.threshold")
        own = self.state_dict()
        state = {k: v.detach().contiguous().cpu() for k, v in own.items()}
        config = to_dict(self.config)
        try:
            plain = json.loads(json.dumps(config, allow_nan=False))  # as config.json will hold it
        except ValueError as err:
            raise ConfigError(f"model: the config is not plain JSON ({err}); not saved") from None
        _checked_config(plain, where="model")
        check_tensors(state, own, where=f"cannot save a model to {directory}: its weights")
        return write_model_dir(
            directory,
            model_config=config,
            state=state,
            assets={sub: tower.save_assets for sub, tower in self._tower_dirs()},
            card=model_card(self, metrics),
        )

    def _tower_dirs(self) -> list[tuple[str, Tower]]:
        return [("tower_a", self.tower_a)] + ([] if self.tower_b is None else [("tower_b", self.tower_b)])

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload this model (``save_pretrained`` layout, card with metrics and plots) to the hub.

        See :func:`pairsim.push.push_to_hub` for the keyword arguments. Returns the commit URL.
        """
        from pairsim.push import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    # -- towers ------------------------------------------------------------------------------------------------
    @property
    def distinct_towers(self) -> list[Tower]:
        return [self.tower_a] if self.tower_b is None else [self.tower_a, self.tower_b]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def cross(self) -> bool:
        """A cross-encoder: the head reads both inputs' tokens in one network, so there are no embeddings."""
        return self.head.reads == "tokens"

    # -- batches (already preprocessed) ----------------------------------------------------------------------
    def embed_a(self, batch: Batch) -> torch.Tensor:
        """Preprocessed batch of side a -> ``(B, D)`` embeddings (the first ``truncate_dim`` when set)."""
        return self.truncated(self.tower_a(batch))

    def embed_b(self, batch: Batch) -> torch.Tensor:
        """Preprocessed batch of side b -> ``(B, D)`` embeddings (the first ``truncate_dim`` when set)."""
        return self.truncated(self.side_b(batch))

    def truncated(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Embeddings as they leave the model: the first ``config.truncate_dim`` dimensions, renormalised for a
        cosine head (see :func:`truncate`); unchanged without ``truncate_dim``."""
        return truncate(embeddings, self.config.truncate_dim, renormalise=self.head.faiss_normalize)

    def set_truncate_dim(self, dim: int | None) -> None:
        """Keep only the first ``dim`` dimensions of every embedding from now on (None: all); saved with the model.

        Raises:
            ConfigError: ``dim`` exceeds the embedding size, or the head holds state of the full size.
        """
        check_truncate_dim(dim, self.tower_a.out_dim, self.head, where="truncate_dim")
        self.config.truncate_dim = dim

    def forward(self, batch_a: Batch, batch_b: Batch) -> torch.Tensor:
        """Preprocessed batches -> ``(B,)`` scores."""
        return self.head(self.embed_a(batch_a), self.embed_b(batch_b))

    # -- raw inputs (encode_a / encode_b / score / is_similar: pairsim.scoring.PairScoring) ------------------------
    def _run(self, tower: Tower, batch: Batch) -> torch.Tensor:
        from pairsim.device import inference_precision

        batch = {k: v.to(self.device) for k, v in batch.items()}
        with inference_precision(self.precision, self.device):  # fp32 unless bf16 is asked for (or auto finds it)
            return self.truncated(tower(batch)).float().cpu()  # (b, D) or (b, truncate_dim)

    def encode_unique(self, items: Sequence[Any], **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`PairScoring.encode_unique`, in eval mode (dropout off), the training mode restored after."""
        was_training = self.training
        self.eval()
        try:
            return super().encode_unique(items, **kwargs)
        finally:
            self.train(was_training)

    def score(self, items_a: Sequence[Any], items_b: Sequence[Any], **kwargs: Any) -> torch.Tensor:
        """As :meth:`PairScoring.score`, in eval mode (a cross-encoder head's dropout off), the mode restored after."""
        was_training = self.training
        self.eval()
        try:
            return super().score(items_a, items_b, **kwargs)
        finally:
            self.train(was_training)

    def config_dict(self) -> dict[str, Any]:
        """The model's config as plain data."""
        return to_dict(self.config)
