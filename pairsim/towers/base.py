"""The tower interface: one input (text or image) -> one vector.

A tower owns its preprocessing in two stages so the data pipeline can run the first in worker processes
(or cache it) and the second per batch:

* :meth:`Tower.featurize` turns raw items (texts, image paths, PIL images, arrays) into per-item
  features (token ids, an image tensor) on the CPU; with ``train=True`` and a generator it also applies the
  tower's training augmentation; text towers cache each distinct text's token ids (:class:`TextTower`);
* :meth:`Tower.collate` pads / stacks a list of features into a batch ``dict[str, Tensor]``;
* :meth:`Tower.forward` maps a batch to embeddings ``(B, out_dim)``.

``preprocess(items) == collate(featurize(items))``.

Construction follows "build from config, load pretrained once": ``__init__`` builds the modules from the
config alone (no downloads, no weight files); :meth:`load_pretrained` pulls pretrained weights in a
separate step; :meth:`save_assets` / :meth:`load_assets` move non-weight files (tokenizer, vocabulary)
in and out of a saved model directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from pairsim.config import ComponentConfig
from pairsim.registry import Registry
from pairsim.towers.modality import check_modality

Features = dict[str, Any]  # one item's features, e.g. {"input_ids": [101, 2023, 102]}
Batch = dict[str, torch.Tensor]  # a padded / stacked batch, e.g. {"input_ids": (B, T), "attention_mask": (B, T)}
Modality = Literal["text", "image"]
TextKind = Literal["empty", "unknown"] | None  # what TextTower.text_kinds says of one text

TOWERS: Registry[type[Tower]] = Registry("tower")


@dataclasses.dataclass(kw_only=True)
class TowerConfig(ComponentConfig):
    """Base of every tower's config; ``name`` picks the registered tower."""

    registry: ClassVar[Any] = TOWERS
    # how a tower trains (freeze, lr_scale, lr_parts) is no part of it: train.tower / train.tower_b of a recipe


class Tower(nn.Module):
    """Base class of towers. Subclasses set ``Config`` and ``modality`` and register with ``@TOWERS.register``.

    Args:
        config: The tower's config dataclass.
    """

    Config: ClassVar[type[TowerConfig]] = TowerConfig
    modality: ClassVar[Modality] = "text"
    augments: ClassVar[bool] = True  # whether featurize(train=True) may use its generators (False: none are made)
    # the submodule computing the tower's trunk features, when forward(batch) == forward_rest(forward_trunk(batch))
    # (e.g. "backbone": a frozen trunk's features can be computed once, see pairsim/train/frozen.py); None: no split
    trunk: ClassVar[str | None] = None
    # export facts, declared by the tower (no table elsewhere is keyed by tower name):
    onnx_unsupported: ClassVar[str | None] = None  # why ONNX export cannot carry this tower (None: it can)
    st_exportable: ClassVar[bool] = False  # sentence-transformers runs it (a Hugging Face encoder + pooling)
    # what forward gives: "embeddings" (vectors), or "tokens" (token-id rows a cross-encoder head reads jointly)
    gives: ClassVar[str] = "embeddings"

    def __init__(self, config: TowerConfig) -> None:
        super().__init__()
        self.config = config

    @property
    def out_dim(self) -> int:
        """Size of the embeddings this tower returns."""
        raise NotImplementedError

    def featurize(
        self, items: Sequence[Any], *, train: bool = False, rng: Sequence[np.random.Generator] | None = None
    ) -> list[Features]:
        """Raw items -> per-item features (CPU). Raises DataError naming an unreadable item.

        Args:
            items: Raw inputs.
            train: Training items: apply the tower's training augmentation (if it has one) with ``rng``.
            rng: One generator per item for its augmentation (the pipeline seeds each by the item's place in the
                global batch, so a result depends neither on the worker nor on the number of processes).
        """
        raise NotImplementedError

    def collate(self, features: Sequence[Features]) -> Batch:
        """Per-item features -> one batch of tensors (padded / stacked)."""
        raise NotImplementedError

    def preprocess(self, items: Sequence[Any]) -> Batch:
        """Raw items -> a batch ready for :meth:`forward`."""
        return self.collate(self.featurize(items))

    def forward(self, batch: Batch) -> torch.Tensor:
        """A batch -> embeddings ``(B, out_dim)``."""
        raise NotImplementedError

    def fittable_projection(self) -> nn.Module | None:
        """The layer that is the whole of the tower after its trunk (``forward == layer(forward_trunk)``), when it
        is linear, so a closed-form fit may set it (the ``projection`` fitter); None: there is no such layer."""
        return None

    def onnx_graph(self) -> nn.Module | None:
        """A module computing :meth:`forward` that ONNX exporters can trace, with ``input_names`` (the batch keys
        it takes, in order); None: :meth:`forward` traces as written."""
        return None

    @contextlib.contextmanager
    def onnx_tracing(self) -> Iterator[None]:
        """While the ONNX exporter traces the tower, compute :meth:`forward` in the form graph optimizers recognise
        (the same function; the transformer tower uses its encoder's plain "eager" attention); restored after."""
        yield

    def onnx_fusion(self) -> dict[str, Any] | None:
        """What onnxruntime's transformer optimizer needs to fuse this tower's exported graph (``model_type``,
        ``num_heads``, ``hidden_size``; :func:`pairsim.export.onnx_optimize.fuse`); None: no fusion (onnxruntime's
        own session optimizations suffice, e.g. conv + BatchNorm folding)."""
        return None

    def forward_trunk(self, batch: Batch) -> torch.Tensor:
        """A batch -> the trunk's features ``(B, F)`` (towers that name a :attr:`trunk`)."""
        raise NotImplementedError(f"the {self.config.name} tower has no trunk")

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        """Trunk features ``(B, F)`` -> embeddings ``(B, out_dim)``: the part of :meth:`forward` after the trunk."""
        raise NotImplementedError(f"the {self.config.name} tower has no trunk")

    @classmethod
    def check_saved_config(cls, config: TowerConfig, *, where: str) -> None:
        """Raise ConfigError if a saved model's tower config would make building read anything outside the
        saved directory (a hub id, another path) or run code; called before building a saved model. A
        tower's :meth:`load_assets` raises ModelFileError when a saved file is missing or does not fit."""

    # -- lifecycle hooks; the defaults do nothing ---------------------------------------------------------
    def adapt(self, items: Iterable[Any]) -> None:
        """Fit data-dependent parts (e.g. a word vocabulary) on training inputs, before training."""

    def load_pretrained(self) -> None:
        """Load pretrained weights named by the config (a local file or a hub id); never called on load."""

    def save_assets(self, directory: Path) -> None:
        """Write non-weight files this tower needs (tokenizer, vocabulary) into ``directory``."""

    def load_assets(self, directory: Path) -> None:
        """Read back what :meth:`save_assets` wrote."""

    def check_items(self, items: Sequence[Any], *, where: str, lines: bool = False) -> None:
        """Raise DataError unless ``items`` are inputs of this tower's ``modality`` (see :mod:`.modality`).

        Args:
            items: Raw inputs about to be encoded.
            where: What they are, for the message (a file name, "side a inputs").
            lines: Name items by line number (they were read one per line from ``where``).
        """
        check_modality(self.modality, items, where=where, lines=lines)

    def item_key(self, item: Any) -> Any:
        """A hashable key identifying a raw item, so repeated inputs are encoded once."""
        if isinstance(item, (str, Path)):
            return str(item)
        return id(item)

    def distinct(self, items: Sequence[Any]) -> tuple[list[int], torch.Tensor]:
        """Each distinct input once (by :meth:`item_key`), for encoding repeats once.

        Args:
            items: Raw inputs (repeats allowed).

        Returns:
            ``(first, rows)``: ``first[r]`` is the index of the first input of distinct row ``r``, and ``rows[i]``
            ``(N,)`` the row of ``items[i]``: for ``["x", "y", "x"]``, ``([0, 1], tensor([0, 1, 0]))``.
        """
        row_of: dict[Any, int] = {}
        first: list[int] = []
        rows: list[int] = []
        for i, item in enumerate(items):
            key = self.item_key(item)
            if key not in row_of:
                row_of[key] = len(first)
                first.append(i)
            rows.append(row_of[key])
        return first, torch.tensor(rows, dtype=torch.long)  # (N,)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


class TextTower(Tower):
    """Base of text towers: :meth:`featurize` tokenises each distinct text once (with :meth:`tokenize`) and
    keeps its token ids, forgetting them whenever ``self.tokenizer`` is replaced (a new vocabulary)."""

    modality = "text"
    augments = False

    def __init__(self, config: TowerConfig) -> None:
        super().__init__(config)
        self._tokens: dict[str, Features] = {}
        self._tokens_of = 0  # id of the tokenizer the cached ids came from

    def tokenize(self, texts: list[str]) -> list[Features]:
        """Texts -> per-text features (token ids), uncached."""
        raise NotImplementedError

    def text_kinds(self, texts: Sequence[str], *, features: Sequence[Features] | None = None) -> list[TextKind]:
        """Which texts carry nothing this tower can read: ``"empty"`` (empty or whitespace only), ``"unknown"``
        (no token the tower's vocabulary knows, within its length limit), else None.

        Such texts encode alike (every empty text gives the same vector; two different texts of unknown words
        can too), so a score involving them means nothing; :mod:`pairsim.text_check` reports them.

        Args:
            texts: Raw texts.
            features: Their :meth:`tokenize` output, when the caller has it: towers that can tell unknown
                texts from token ids (:meth:`unknown_tokens`) then skip a tokenizer pass.

        Returns:
            One kind (or None) per text.

        Example:
            >>> from pairsim.towers.lstm import LSTMTower, LSTMConfig
            >>> tower = LSTMTower(LSTMConfig(name="lstm", embed_dim=4, hidden_dim=4))
            >>> tower.adapt(["a cat"])
            >>> tower.text_kinds(["a dog", " ", "zebra quux"])
            [None, 'empty', 'unknown']
        """
        kinds: list[TextKind] = ["empty" if not t.strip() else None for t in texts]
        filled = [i for i, kind in enumerate(kinds) if kind is None]
        known = None if features is None else self.unknown_tokens([features[i] for i in filled])
        if known is None:
            known = self.unknown_texts([texts[i] for i in filled])
        for i, unknown in zip(filled, known, strict=True):
            kinds[i] = "unknown" if unknown else None
        return kinds

    def unknown_texts(self, texts: list[str]) -> list[bool]:
        """For non-blank texts: True where every token the tower reads maps to its unknown token (or a special
        one). The base knows no vocabulary and says False; towers with one override it."""
        return [False] * len(texts)

    def unknown_tokens(self, features: Sequence[Features]) -> list[bool] | None:
        """As :meth:`unknown_texts`, from :meth:`tokenize` output; None where the tower cannot tell from it."""
        return None

    def featurize(
        self, items: Sequence[Any], *, train: bool = False, rng: Sequence[np.random.Generator] | None = None
    ) -> list[Features]:
        texts = [str(t) for t in items]
        if id(getattr(self, "tokenizer", None)) != self._tokens_of:
            self.clear_cache()
            self._tokens_of = id(getattr(self, "tokenizer", None))
        missing = [t for t in dict.fromkeys(texts) if t not in self._tokens]
        if missing:
            self._tokens.update(zip(missing, self.tokenize(missing), strict=True))
        return [self._tokens[t] for t in texts]

    def token_lengths(self, items: Sequence[Any], *, features: Sequence[Features] | None = None) -> list[int]:
        """The number of tokens of each text (its longest token sequence feature), tokenised once and cached
        like :meth:`featurize`; length-grouped batches (:mod:`pairsim.data.length_groups`) and length-sorted
        encoding sort by it.

        Args:
            items: Raw texts.
            features: Their :meth:`tokenize` output already at hand (then ``items`` is not tokenised again).

        Example:
            >>> from pairsim.towers.lstm import LSTMTower, LSTMConfig
            >>> tower = LSTMTower(LSTMConfig(name="lstm", embed_dim=4, hidden_dim=4))
            >>> tower.adapt(["a cat sat"])
            >>> tower.token_lengths(["a cat sat", "a cat"])
            [3, 2]
        """
        feats = self.featurize(items) if features is None else features
        return [max((len(v) for v in f.values() if isinstance(v, (list, tuple))), default=0) for f in feats]

    def preprocess(self, items: Sequence[Any]) -> Batch:
        """Raw texts -> a batch, without caching (scoring many texts once should not keep them all)."""
        return self.collate(self.tokenize([str(t) for t in items]))

    def warm_cache(self, items: Sequence[Any]) -> None:
        """Tokenise every distinct text of ``items`` now (before worker processes copy the tower)."""
        self.featurize(list(dict.fromkeys(str(t) for t in items)))

    def clear_cache(self) -> None:
        """Forget cached token ids (after the vocabulary or tokenizer changed)."""
        self._tokens.clear()
