"""Word-embedding + (bi)LSTM text tower (MaLSTM, Mueller & Thyagarajan 2016)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from pairsim.config import MAX_DIM, MAX_LENGTH, MAX_TABLE, MAX_VOCAB, bounded
from pairsim.errors import ConfigError
from pairsim.text.glove import read_glove
from pairsim.text.word_tokenizer import UNK, WordTokenizer
from pairsim.towers.base import TOWERS, Batch, Features, TextTower, TowerConfig
from pairsim.towers.token_pooling import token_pooling
from pairsim.towers.weights import projection

log = logging.getLogger(__name__)
VOCAB_FILE = "vocab.json"


@dataclasses.dataclass(kw_only=True)
class LSTMConfig(TowerConfig):
    embed_dim: int = bounded(300, ge=1, le=MAX_DIM)  # word vector size (must match the GloVe file when glove is set)
    hidden_dim: int = bounded(50, ge=1, le=MAX_DIM)  # LSTM units per direction (50 in MaLSTM)
    num_layers: int = bounded(1, ge=1, le=64)  # stacked LSTM layers
    bidirectional: bool = False  # run a backward LSTM too and concatenate
    pooling: Literal["last", "mean", "max"] = "last"  # last hidden state, or mean / max over time steps
    dropout: float = bounded(0.0, ge=0, lt=1)  # between LSTM layers
    glove: str | None = None  # GloVe .txt / .txt.gz initialising the embeddings of known words
    freeze_embeddings: bool = False  # keep word vectors fixed during training
    min_freq: int = bounded(1, ge=1)  # a word enters the vocabulary after this many occurrences in the training text
    max_vocab: int = bounded(100_000, ge=2, le=MAX_VOCAB)  # vocabulary size cap (most frequent words kept)
    max_length: int = bounded(128, ge=1, le=MAX_LENGTH)  # words per text, longer texts are cut
    lowercase: bool = True  # lower-case before splitting into words
    vocab_size: int = bounded(2, ge=2, le=MAX_VOCAB)  # set by adapt() from the training text (2 = only <pad> and <unk>)
    out_dim: int = bounded(0, ge=0, le=MAX_DIM)  # projection size; 0 keeps hidden_dim (x2 when bidirectional)

    def check(self) -> None:
        if self.vocab_size * self.embed_dim > MAX_TABLE:
            raise ConfigError(
                f"vocab_size x embed_dim = {self.vocab_size} x {self.embed_dim} word-vector entries; expected at "
                f"most {MAX_TABLE} ({MAX_TABLE * 4 // 2**30} GiB in float32)"
            )


@TOWERS.register("lstm")
class LSTMTower(TextTower):
    """Words -> embeddings -> (bi)LSTM -> pooled vector.

    The vocabulary is fitted on training text by :meth:`adapt` and saved next to the weights
    (``vocab.json``); :meth:`load_pretrained` initialises known words from GloVe.

    Example:
        >>> tower = LSTMTower(LSTMConfig(name="lstm", embed_dim=8, hidden_dim=4))
        >>> tower.adapt(["a small example", "another example"])
        >>> tower(tower.preprocess(["a small example"])).shape
        torch.Size([1, 4])
    """

    Config = LSTMConfig

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__(config)
        self.tokenizer = WordTokenizer(lowercase=config.lowercase)
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        # mean / max over the time steps' outputs (the last hidden state needs none): (B, T, H) -> (B, H)
        self.pool = None if config.pooling == "last" else token_pooling(config.pooling)
        self.proj = projection(self._lstm_dim, config.out_dim)

    @property
    def _lstm_dim(self) -> int:
        return self.config.hidden_dim * (2 if self.config.bidirectional else 1)

    @property
    def out_dim(self) -> int:
        return self.config.out_dim or self._lstm_dim

    def adapt(self, items: Iterable[Any]) -> None:
        """Build the vocabulary from training texts and resize the embedding table to it."""
        c = self.config
        self.tokenizer = WordTokenizer.build(items, min_freq=c.min_freq, max_size=c.max_vocab, lowercase=c.lowercase)
        c.vocab_size = len(self.tokenizer)
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=0).to(self.embedding.weight.device)
        self.embedding.weight.requires_grad_(not c.freeze_embeddings)

    def load_pretrained(self) -> None:
        if self.config.glove is None:
            return
        rows, vectors = read_glove(self.config.glove, self.tokenizer.stoi, self.config.embed_dim)
        with torch.no_grad():
            self.embedding.weight[rows] = vectors.to(self.embedding.weight)
        log.info("GloVe covers %d of %d vocabulary words", len(rows), len(self.tokenizer) - 2)

    def save_assets(self, directory: Path) -> None:
        self.tokenizer.save(directory / VOCAB_FILE)

    def load_assets(self, directory: Path) -> None:
        from pairsim.errors import ModelFileError

        tokenizer = WordTokenizer.load(directory / VOCAB_FILE)
        rows = self.embedding.num_embeddings
        if len(tokenizer) != rows:
            raise ModelFileError(
                f"{directory / VOCAB_FILE} has {len(tokenizer)} words but the embedding table has {rows} rows "
                "(vocab_size in config.json): the vocabulary does not belong to these weights"
            )
        self.tokenizer = tokenizer

    def tokenize(self, texts: list[str]) -> list[Features]:
        return [{"input_ids": self.tokenizer.encode(t, self.config.max_length)} for t in texts]

    def unknown_texts(self, texts: list[str]) -> list[bool]:
        """True where every word the tower reads (the first ``max_length``) is out of its vocabulary."""
        unk = self.tokenizer.stoi[UNK]
        return [all(i == unk for i in self.tokenizer.encode(t, self.config.max_length)) for t in texts]

    def collate(self, features: Sequence[Features]) -> Batch:
        ids = [torch.tensor(f["input_ids"], dtype=torch.long) for f in features]
        return {
            "input_ids": pad_sequence(ids, batch_first=True, padding_value=0),  # (B, T)
            "lengths": torch.tensor([len(i) for i in ids], dtype=torch.long),  # (B,)
        }

    def forward(self, batch: Batch) -> torch.Tensor:
        ids, lengths = batch["input_ids"], batch["lengths"]  # (B, T), (B,)
        x = self.embedding(ids)  # (B, T, E)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, _) = self.lstm(packed)  # h: (layers * dirs, B, H)
        if self.pool is None:  # pooling "last": the final hidden states
            dirs = 2 if self.config.bidirectional else 1
            pooled = torch.cat(list(h[-dirs:]), dim=-1)  # (B, H * dirs)
        else:
            out, _ = pad_packed_sequence(out, batch_first=True)  # (B, T, H * dirs)
            mask = torch.arange(out.shape[1], device=out.device)[None] < lengths.to(out.device)[:, None]  # (B, T)
            pooled = self.pool(out, mask)  # (B, H * dirs)
        return self.proj(pooled)  # (B, out_dim)

    def onnx_graph(self) -> nn.Module:
        """The same embeddings without packed sequences, which ONNX exporters cannot trace."""
        from pairsim.towers.lstm_graph import LSTMGraph

        return LSTMGraph(self.embedding, self.lstm, self.proj, pooling=self.config.pooling)
