"""The side tower of a cross-encoder: a text -> its token ids, for the ``cross_encoder`` head to read jointly.

A cross-encoder reads both texts of a pair in one transformer, so nothing can be computed from one side alone
except its tokens. This tower is that part: it tokenises a text (no special tokens, at most ``max_length``
tokens) and returns the ids as a ``(B, max_length)`` float row padded with -1 (float32 holds every id below
2**24 exactly). Every path that encodes a side and hands the head two rows (``score``, ``eval``, ``serve``,
ONNX, galleries) therefore works for a cross-encoder too; the head builds ``[CLS] a [SEP] b [SEP]`` from the two
rows. Its "embeddings" are token ids, not vectors: :attr:`gives` says so, and ``pairsim encode`` refuses them.

Example:
    >>> tower = PairTokensTower(PairTokensConfig(name="pair_tokens", model="../shared/models/all-MiniLM-L6-v2",
    ...                                           max_length=4))  # doctest: +SKIP
    >>> tower.load_pretrained(); tower(tower.preprocess(["a cat"]))  # doctest: +SKIP
    tensor([[1037., 4937.,   -1.,   -1.]])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from pairsim.config import MAX_LENGTH, bounded
from pairsim.towers.base import TOWERS, Batch, Features, TextTower, TowerConfig
from pairsim.towers.tokenizer_files import TOKENIZER_DIR, load_tokenizer

PAD = -1  # the id of an empty place in a row (no tokenizer gives negative ids)


@dataclasses.dataclass(kw_only=True)
class PairTokensConfig(TowerConfig):
    model: str = "sentence-transformers/all-MiniLM-L6-v2"  # hub id or local directory whose tokenizer is used
    max_length: int = bounded(128, ge=1, le=MAX_LENGTH)  # tokens kept per text (the head truncates the pair again)


@TOWERS.register("pair_tokens")
class PairTokensTower(TextTower):
    """Token ids of one text (the side input of a ``cross_encoder`` head); no parameters.

    Args:
        config: The tower's config.
    """

    Config = PairTokensConfig
    gives: ClassVar[str] = "tokens"  # rows of token ids, read by a head that reads tokens

    def __init__(self, config: PairTokensConfig) -> None:
        super().__init__(config)
        self.tokenizer: Any = None
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # where the tower lives (no parameters)

    @property
    def out_dim(self) -> int:
        return self.config.max_length

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    # -- tokenizer -----------------------------------------------------------------------------------------------
    def load_pretrained(self) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.config.model, trust_remote_code=False)

    def save_assets(self, directory: Path) -> None:
        self._require_tokenizer().save_pretrained(directory / TOKENIZER_DIR)

    def load_assets(self, directory: Path) -> None:
        self.tokenizer = load_tokenizer(directory)

    def _require_tokenizer(self) -> Any:
        if self.tokenizer is None:
            raise RuntimeError("the tokenizer is not loaded: call load_pretrained() or PairModel.from_pretrained()")
        return self.tokenizer

    # -- preprocessing -----------------------------------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> list[Features]:
        ids = self._require_tokenizer()(
            texts, add_special_tokens=False, truncation=True, max_length=self.config.max_length
        )["input_ids"]
        return [{"token_ids": row} for row in ids]

    def unknown_texts(self, texts: list[str]) -> list[bool]:
        """True where the tokenizer gives nothing but special tokens and ``[UNK]``."""
        tok = self._require_tokenizer()
        special = set(tok.all_special_ids)
        return [all(i in special for i in f["token_ids"]) for f in self.tokenize(texts)]

    def collate(self, features: Sequence[Features]) -> Batch:
        rows = torch.full((len(features), self.config.max_length), PAD, dtype=torch.long)  # (B, L)
        for i, f in enumerate(features):
            ids = f["token_ids"][: self.config.max_length]
            rows[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return {"token_ids": rows}

    # -- forward -------------------------------------------------------------------------------------------------
    def forward(self, batch: Batch) -> torch.Tensor:
        return batch["token_ids"].to(self._anchor.device).float()  # (B, L), -1 = no token
