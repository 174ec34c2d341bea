"""Any Hugging Face encoder (BERT, MiniLM, ...) or sentence-transformers model, pooled to one vector."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoTokenizer

from pairsim.errors import ConfigError, ModelFileError
from pairsim.towers.base import TOWERS, Batch, Features, TextTower, TowerConfig
from pairsim.towers.weights import projection

TOKENIZER_DIR = "tokenizer"
_DROP_KEYS = ("_name_or_path", "transformers_version")


@dataclasses.dataclass(kw_only=True)
class TransformerConfig(TowerConfig):
    model: str = "sentence-transformers/all-MiniLM-L6-v2"  # hub id or local directory of the encoder
    pooling: Literal["auto", "mean", "cls", "max"] = "auto"  # auto: the sentence-transformers directory's
    #                                                        1_Pooling config when present, else mean
    normalize: bool | None = None  # L2-normalise embeddings; None: as the sentence-transformers directory says
    max_length: int = 0  # tokens per text; 0: sentence_bert_config.json's max_seq_length, else the tokenizer's (<= 512)
    out_dim: int = 0  # projection size; 0 keeps the encoder's hidden size
    backbone_config: dict[str, Any] | None = None  # the encoder's full config, filled at build and saved inline
    #                                                 so that loading a saved model fetches nothing


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _resolve_sentence_transformers(config: TransformerConfig) -> None:
    """Fill ``auto`` pooling / normalize / max_length from a local sentence-transformers directory."""
    root = Path(config.model)
    modules = _read_json(root / "modules.json") or []
    types = {m.get("type", "").rsplit(".", 1)[-1]: m.get("path", "") for m in modules}
    if config.pooling == "auto":
        pool = _read_json(root / types.get("Pooling", "1_Pooling") / "config.json") or {}
        config.pooling = (
            "cls" if pool.get("pooling_mode_cls_token") else ("max" if pool.get("pooling_mode_max_tokens") else "mean")
        )
    if config.normalize is None:
        config.normalize = "Normalize" in types
    if config.max_length == 0:
        st = _read_json(root / "sentence_bert_config.json") or {}
        config.max_length = int(st.get("max_seq_length") or 0)


@TOWERS.register("transformer")
class TransformerTower(TextTower):
    """A Hugging Face encoder with mean / CLS / max pooling and an optional projection.

    Building reads only the encoder's config (``backbone_config``, kept inline in the saved model); the
    weights and tokenizer come from :meth:`load_pretrained` (the ``model`` path or hub id) or, for a
    saved pairsim model, from its own files.

    Example:
        >>> tower = TransformerTower(TransformerConfig(name="transformer", model="../shared/models/all-MiniLM-L6-v2"))
        >>> tower.load_pretrained()
        >>> tower(tower.preprocess(["a cat", "a dog"])).shape
        torch.Size([2, 384])
    """

    Config = TransformerConfig

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        if config.backbone_config is None:
            try:
                backbone = AutoConfig.from_pretrained(config.model)
            except OSError as err:
                raise ConfigError(f"model: cannot read encoder config {config.model!r}: {err}") from None
            config.backbone_config = {k: v for k, v in backbone.to_dict().items() if k not in _DROP_KEYS}
            _resolve_sentence_transformers(config)
        if config.pooling == "auto":
            config.pooling = "mean"
        if config.normalize is None:
            config.normalize = False
        backbone_config = dict(config.backbone_config)
        self.encoder = AutoModel.from_config(AutoConfig.for_model(**backbone_config))
        hidden = self.encoder.config.hidden_size
        if config.max_length == 0:
            config.max_length = min(512, int(getattr(self.encoder.config, "max_position_embeddings", 512)))
        self.proj = projection(hidden, config.out_dim)
        self.tokenizer: Any = None

    @property
    def out_dim(self) -> int:
        return self.config.out_dim or self.encoder.config.hidden_size

    # -- weights and tokenizer ----------------------------------------------------------------------------
    def load_pretrained(self) -> None:
        pretrained = AutoModel.from_pretrained(self.config.model)
        self.encoder.load_state_dict(pretrained.state_dict(), strict=True)
        self.tokenizer = AutoTokenizer.from_pretrained(self.config.model)

    def save_assets(self, directory: Path) -> None:
        self._require_tokenizer().save_pretrained(directory / TOKENIZER_DIR)

    def load_assets(self, directory: Path) -> None:
        path = directory / TOKENIZER_DIR
        if not path.is_dir():
            raise ModelFileError(f"tokenizer files missing: {path}")
        self.tokenizer = AutoTokenizer.from_pretrained(path)

    def _require_tokenizer(self) -> Any:
        if self.tokenizer is None:
            raise RuntimeError("the tokenizer is not loaded: call load_pretrained() or PairModel.from_pretrained()")
        return self.tokenizer

    # -- preprocessing -------------------------------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> list[Features]:
        enc = self._require_tokenizer()(texts, truncation=True, max_length=self.config.max_length)
        return [{k: enc[k][i] for k in enc} for i in range(len(texts))]

    def collate(self, features: Sequence[Features]) -> Batch:
        return dict(self._require_tokenizer().pad(list(features), return_tensors="pt"))

    def preprocess(self, items: Sequence[Any]) -> Batch:
        # one tokenizer call (tokenise + pad) is faster than featurize + collate for a ready batch
        tok = self._require_tokenizer()
        texts = [str(t) for t in items]
        return dict(tok(texts, padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt"))

    # -- forward -------------------------------------------------------------------------------------------
    def forward(self, batch: Batch) -> torch.Tensor:
        mask = batch["attention_mask"]  # (B, T)
        hidden = self.encoder(**batch).last_hidden_state  # (B, T, H)
        if self.config.pooling == "cls":
            pooled = hidden[:, 0]  # (B, H)
        elif self.config.pooling == "max":
            pooled = hidden.masked_fill(~mask[..., None].bool(), torch.finfo(hidden.dtype).min).max(1).values
        else:
            m = mask[..., None].to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)  # (B, H)
        out = self.proj(pooled)  # (B, out_dim)
        return F.normalize(out, dim=-1) if self.config.normalize else out
