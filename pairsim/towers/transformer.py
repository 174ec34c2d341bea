"""Any Hugging Face encoder (BERT, MiniLM, ...) or sentence-transformers model, pooled to one vector."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer

from pairsim.config import MAX_DIM, MAX_LENGTH, bounded
from pairsim.errors import ConfigError, ModelFileError
from pairsim.jsonio import read_json_bounded
from pairsim.towers.base import TOWERS, Batch, Features, TextTower, TowerConfig
from pairsim.towers.token_pooling import token_pooling
from pairsim.towers.tokenizer_files import TOKENIZER_DIR, load_tokenizer
from pairsim.towers.weights import projection

_DROP_KEYS = ("_name_or_path", "transformers_version")


@dataclasses.dataclass(kw_only=True)
class TransformerConfig(TowerConfig):
    model: str = "sentence-transformers/all-MiniLM-L6-v2"  # hub id or local directory of the encoder
    pooling: Literal["auto", "mean", "cls", "max"] = "auto"  # auto: the sentence-transformers directory's
    #                                                        1_Pooling config when present, else mean
    normalize: bool | None = None  # L2-normalise embeddings; None: as the sentence-transformers directory says
    # tokens per text; 0: sentence_bert_config.json's max_seq_length, else the tokenizer's (<= 512)
    max_length: int = bounded(0, ge=0, le=MAX_LENGTH)
    out_dim: int = bounded(0, ge=0, le=MAX_DIM)  # projection size; 0 keeps the encoder's hidden size
    backbone_config: dict[str, Any] | None = None  # the encoder's full config, filled at build and saved inline
    #                                                 so that loading a saved model fetches nothing


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return read_json_bounded(path, error=ConfigError)  # the encoder directory a recipe names: a bad file is an error


def _resolve_sentence_transformers(config: TransformerConfig) -> None:
    """Fill ``auto`` pooling / normalize / max_length of ``config`` (a copy) from a local sentence-transformers directory."""
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


def _resolved(config: TransformerConfig) -> TransformerConfig:
    """A copy of ``config`` with the encoder's config inline and ``auto`` settings decided.

    Raises:
        ConfigError: The encoder config cannot be read from ``config.model``.
    """
    config = dataclasses.replace(config, backbone_config=copy.deepcopy(config.backbone_config))
    if config.backbone_config is None:
        try:
            backbone = AutoConfig.from_pretrained(config.model, trust_remote_code=False)
        except (OSError, ValueError) as err:
            raise ConfigError(f"model: cannot read encoder config {config.model!r}: {err}") from None
        config.backbone_config = {k: v for k, v in backbone.to_dict().items() if k not in _DROP_KEYS}
        _resolve_sentence_transformers(config)
    if config.pooling == "auto":
        config.pooling = "mean"
    if config.normalize is None:
        config.normalize = False
    return config


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
    trunk = "encoder"
    st_exportable = True

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(_resolved(config))  # a resolved copy: building never mutates the caller's config
        config = self.config
        self.encoder = AutoModel.from_config(AutoConfig.for_model(**config.backbone_config), trust_remote_code=False)
        hidden = self.encoder.config.hidden_size
        if config.max_length == 0:
            config.max_length = min(512, int(getattr(self.encoder.config, "max_position_embeddings", 512)))
        self.pool = token_pooling(config.pooling)  # (B, T, H) -> (B, H): mean / cls / max, no parameters
        self.proj = projection(hidden, config.out_dim)
        self.tokenizer: Any = None

    @classmethod
    def check_saved_config(cls, config: TowerConfig, *, where: str) -> None:
        backbone = getattr(config, "backbone_config", None)
        if backbone is None:
            raise ConfigError(
                f"{where}.backbone_config: is null, but a saved model must carry its encoder config inline "
                f"(loading never fetches {getattr(config, 'model', None)!r} from the hub or reads files outside "
                "the model directory)"
            )
        if "auto_map" in backbone:
            raise ConfigError(
                f"{where}.backbone_config: has an auto_map pointing to custom code; pairsim never runs it"
            )

    @property
    def out_dim(self) -> int:
        return self.config.out_dim or self.encoder.config.hidden_size

    # -- weights and tokenizer ----------------------------------------------------------------------------
    def load_pretrained(self) -> None:
        pretrained = AutoModel.from_pretrained(self.config.model, trust_remote_code=False)
        self.encoder.load_state_dict(pretrained.state_dict(), strict=True)
        self.tokenizer = AutoTokenizer.from_pretrained(self.config.model, trust_remote_code=False)

    def save_assets(self, directory: Path) -> None:
        self._require_tokenizer().save_pretrained(directory / TOKENIZER_DIR)

    def load_assets(self, directory: Path) -> None:
        tokenizer = load_tokenizer(directory)
        path = directory / TOKENIZER_DIR
        rows = self.encoder.config.vocab_size
        if len(tokenizer) > rows:
            raise ModelFileError(
                f"the tokenizer in {path} has {len(tokenizer)} tokens but the encoder has {rows} embedding rows"
            )
        self.tokenizer = tokenizer

    def _require_tokenizer(self) -> Any:
        if self.tokenizer is None:
            raise RuntimeError("the tokenizer is not loaded: call load_pretrained() or PairModel.from_pretrained()")
        return self.tokenizer

    # -- preprocessing -------------------------------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> list[Features]:
        enc = self._require_tokenizer()(texts, truncation=True, max_length=self.config.max_length)
        return [{k: enc[k][i] for k in enc} for i in range(len(texts))]

    def unknown_texts(self, texts: list[str]) -> list[bool]:
        """True where the tokenizer gives nothing but special tokens and ``[UNK]`` (within ``max_length``)."""
        tok = self._require_tokenizer()
        special = set(tok.all_special_ids)  # [CLS], [SEP], [PAD], [UNK], ...
        ids = tok(texts, truncation=True, max_length=self.config.max_length)["input_ids"]
        return [all(i in special for i in row) for row in ids]

    def unknown_tokens(self, features: Sequence[Features]) -> list[bool]:
        """As :meth:`unknown_texts`, from :meth:`tokenize` output (no second tokenizer pass)."""
        special = set(self._require_tokenizer().all_special_ids)
        return [all(i in special for i in f["input_ids"]) for f in features]

    def collate(self, features: Sequence[Features]) -> Batch:
        """Per-text token ids -> ``(B, T)`` tensors padded to the batch's longest text, as the tokenizer pads
        (its pad token, pad token type and padding side), without its per-call Python overhead."""
        tok = self._require_tokenizer()
        if not features or tok.pad_token_id is None:
            return dict(tok.pad(list(features), return_tensors="pt"))  # the tokenizer's own error / empty batch
        width = max(len(f["input_ids"]) for f in features)
        fill = {"input_ids": tok.pad_token_id, "token_type_ids": tok.pad_token_type_id}
        left = tok.padding_side == "left"
        out = {}
        for key in features[0]:
            rows = np.full((len(features), width), fill.get(key, 0), dtype=np.int64)  # (B, T)
            for i, f in enumerate(features):
                values = f[key]
                if left:
                    rows[i, width - len(values) :] = values
                else:
                    rows[i, : len(values)] = values
            out[key] = torch.from_numpy(rows)  # (B, T)
        return out

    def preprocess(self, items: Sequence[Any]) -> Batch:
        # one tokenizer call (tokenise + pad) is faster than featurize + collate for a ready batch
        tok = self._require_tokenizer()
        texts = [str(t) for t in items]
        return dict(tok(texts, padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt"))

    # -- forward -------------------------------------------------------------------------------------------
    def forward(self, batch: Batch) -> torch.Tensor:
        return self.forward_rest(self.forward_trunk(batch))  # (B, out_dim)

    def forward_trunk(self, batch: Batch) -> torch.Tensor:
        """Encoder + pooling: ``(B, H)``."""
        hidden = self.encoder(**batch).last_hidden_state  # (B, T, H)
        return self.pool(hidden, batch["attention_mask"])  # (B, T, H), (B, T) -> (B, H)

    @contextlib.contextmanager
    def onnx_tracing(self) -> Iterator[None]:
        """Trace the encoder with "eager" attention (softmax(QK^T)V written out): the same function as the default
        SDPA attention, in the pattern onnxruntime fuses into one Attention kernel (SDPA's traced mask is not)."""
        before = getattr(self.encoder.config, "_attn_implementation", None)
        if before in (None, "eager") or not hasattr(self.encoder, "set_attn_implementation"):
            yield
            return
        self.encoder.set_attn_implementation("eager")
        try:
            yield
        finally:
            self.encoder.set_attn_implementation(before)

    def onnx_fusion(self) -> dict[str, Any] | None:
        """onnxruntime's BERT fusions (attention, embeddings + LayerNorm, residual + LayerNorm, bias + GELU); the
        exporter keeps the fused graph only if it gives the same embeddings, so other encoders stay unfused."""
        config = self.encoder.config
        heads, hidden = getattr(config, "num_attention_heads", None), getattr(config, "hidden_size", None)
        if not isinstance(heads, int) or not isinstance(hidden, int):
            return None
        return {"model_type": "bert", "num_heads": heads, "hidden_size": hidden}

    def fittable_projection(self) -> nn.Module:
        """The projection after pooling (the identity without ``out_dim``); the ``projection`` fitter sets it, and
        the tower L2-normalises its output as ever when ``normalize`` (a cosine head sees the same scores)."""
        return self.proj  # (B, H) -> (B, out_dim)

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        out = self.proj(features)  # (B, H) -> (B, out_dim)
        return F.normalize(out, dim=-1) if self.config.normalize else out
