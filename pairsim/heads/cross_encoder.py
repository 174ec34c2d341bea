"""Cross-encoder head: one transformer reads both texts of a pair (``[CLS] a [SEP] b [SEP]``) and gives one score.

With the ``pair_tokens`` tower on both sides, a :class:`~pairsim.model.PairModel` is a cross-encoder (the
``AutoModelForSequenceClassification`` pattern of sentence-transformers' ``CrossEncoder``): the tower turns each
text into its token ids, and this head joins each pair's ids with the tokenizer's special tokens and runs a
Hugging Face encoder with a one-logit classifier on top. ``output: classification`` gives ``sigmoid(logit)`` in
(0, 1) (train with ``bce``, ``mse``, ``cosent`` or ``listwise``); ``output: regression`` gives the logit itself.

Everything building needs is in the config (the encoder's config and the tokenizer's special-token template,
filled at build from ``model`` and saved inline), so a saved cross-encoder loads from its own directory alone.

Example:
    >>> cfg = {"tower": {"name": "pair_tokens", "model": "../shared/models/all-MiniLM-L6-v2"},
    ...        "head": {"name": "cross_encoder", "model": "../shared/models/all-MiniLM-L6-v2"}}
    >>> model = PairModel.from_config(cfg)  # doctest: +SKIP
    >>> model.score(["a cat sits"], ["a cat is sitting"])  # doctest: +SKIP
    tensor([0.71...])
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from pairsim.config import MAX_BATCH, MAX_LENGTH, bounded
from pairsim.errors import ConfigError
from pairsim.heads.base import HEADS, Head, HeadConfig

_DROP_KEYS = ("_name_or_path", "transformers_version")


@dataclasses.dataclass(kw_only=True)
class CrossEncoderConfig(HeadConfig):
    model: str = "sentence-transformers/all-MiniLM-L6-v2"  # hub id or local directory of the encoder
    output: Literal["classification", "regression"] = "classification"  # sigmoid(logit) in (0, 1), or the logit
    max_length: int = bounded(256, ge=4, le=MAX_LENGTH)  # tokens of a whole pair, special tokens included
    chunk: int = bounded(64, ge=1, le=MAX_BATCH)  # pairs per encoder pass when more are scored at once
    dropout: float | None = bounded(None, ge=0, lt=1)  # classifier dropout; None: the encoder's own
    backbone_config: dict[str, Any] | None = None  # the encoder's config, filled at build and saved inline
    # the tokenizer's pair layout, filled at build: [prefix, middle, suffix] special-token ids around a and b
    # (BERT: [[CLS], [SEP], [SEP]]), the padding id and whether text b takes token type 1
    template: list[list[int]] | None = bounded(None, ge=0)  # token ids before, between and after the two texts
    pad_id: int = bounded(0, ge=0)
    type_b: bool = True

    def check(self) -> None:
        if self.calibrated:
            raise ConfigError(
                "calibrated: a cross_encoder head gives a probability itself (output: classification); set it false"
            )


def _find(row: list[int], part: list[int], start: int) -> int:
    for i in range(start, len(row) - len(part) + 1):
        if row[i : i + len(part)] == part:
            return i
    raise ValueError("the tokenizer's pair encoding does not hold its texts' tokens")


def _template(tokenizer: Any) -> tuple[list[list[int]], int]:
    """``[prefix, middle, suffix]`` of the tokenizer's pair layout (read from one encoded pair), and its padding id."""
    first, second = "zebra", "yacht"
    ta = tokenizer(first, add_special_tokens=False)["input_ids"]
    tb = tokenizer(second, add_special_tokens=False)["input_ids"]
    row = list(tokenizer(first, second)["input_ids"])
    i = _find(row, ta, 0)
    j = _find(row, tb, i + len(ta))
    return [row[:i], row[i + len(ta) : j], row[j + len(tb) :]], int(tokenizer.pad_token_id or 0)


def _resolved(config: CrossEncoderConfig) -> CrossEncoderConfig:
    """A copy of ``config`` with the encoder config and the tokenizer template inline (read from ``model``).

    Raises:
        ConfigError: They cannot be read from ``config.model``.
    """
    config = dataclasses.replace(config, backbone_config=copy.deepcopy(config.backbone_config))
    if config.backbone_config is not None and config.template is not None:
        return config
    from transformers import AutoConfig, AutoTokenizer

    try:
        if config.backbone_config is None:
            backbone = AutoConfig.from_pretrained(config.model, trust_remote_code=False)
            config.backbone_config = {k: v for k, v in backbone.to_dict().items() if k not in _DROP_KEYS}
        if config.template is None:
            tokenizer = AutoTokenizer.from_pretrained(config.model, trust_remote_code=False)
            config.template, config.pad_id = _template(tokenizer)
    except (OSError, ValueError) as err:
        raise ConfigError(f"head.model: cannot read encoder {config.model!r}: {' '.join(str(err).split())}") from None
    config.type_b = int(config.backbone_config.get("type_vocab_size", 1)) > 1
    return config


class _Logits(nn.Module):
    """Positional joint inputs -> the classifier's logits ``(B,)``, as ONNX exporters want."""

    def __init__(self, encoder: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.encoder = encoder
        self.input_names = names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.encoder(**dict(zip(self.input_names, inputs, strict=True))).logits[:, 0]  # (B,)


@HEADS.register("cross_encoder")
class CrossEncoderHead(Head):
    """``score(a, b) = act(classifier(encoder([CLS] a [SEP] b [SEP])))``, ``a``/``b`` rows of token ids.

    Args:
        config: The head's config (``backbone_config`` and ``template`` are filled from ``model`` when null).
    """

    Config = CrossEncoderConfig
    reads: ClassVar[str] = "tokens"  # rows of token ids from a pair_tokens tower, not embeddings
    higher_is_similar = True
    best = 1.0
    neutral = 0.5
    score_range = (0.0, 1.0)

    def __init__(self, config: CrossEncoderConfig) -> None:
        config = _resolved(config)
        super().__init__(config)
        from transformers import AutoConfig, AutoModelForSequenceClassification

        backbone = AutoConfig.for_model(**config.backbone_config)
        backbone.num_labels = 1
        if config.dropout is not None:
            backbone.classifier_dropout = config.dropout
        self.encoder = AutoModelForSequenceClassification.from_config(backbone, trust_remote_code=False)
        if config.output == "regression":  # instance values: the direction facts of this head's output
            self.score_range = (-math.inf, math.inf)
            self.neutral = 0.0
        self.prefix, self.middle, self.suffix = (list(part) for part in config.template)
        self._graph: Any = None  # an ONNX runtime's run function replacing the encoder (run_graph)

    def beyond_embeddings(self) -> str | None:
        return "a transformer reading both texts"  # no vector metric ranks like it: search stays exact

    @property
    def gives_probability(self) -> bool:
        return self.config.output == "classification"

    def load_pretrained(self) -> None:
        """The encoder's pretrained weights from ``model`` (the classifier on top stays newly initialised)."""
        from transformers import AutoModel

        pretrained = AutoModel.from_pretrained(self.config.model, trust_remote_code=False)
        base = getattr(self.encoder, self.encoder.base_model_prefix)
        missing, unexpected = base.load_state_dict(pretrained.state_dict(), strict=False)
        if [k for k in missing if "pooler" not in k] or unexpected:
            raise ConfigError(
                f"head.model: the weights of {self.config.model!r} do not fit its config: missing {missing[:3]}, "
                f"unexpected {unexpected[:3]}"
            )

    # -- the joint input ---------------------------------------------------------------------------------------
    def pair_inputs(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rows of token ids ``(B, La)``, ``(B, Lb)`` (-1 = none) -> the encoder's joint input ``(B, T)``.

        A pair longer than ``max_length`` is cut as the tokenizers' ``longest_first`` cuts it: the shorter text
        keeps up to half the room, the longer one the rest.
        """
        room = self.config.max_length - len(self.prefix) - len(self.middle) - len(self.suffix)
        rows, types = [], []
        for ra, rb in zip(a.long().tolist(), b.long().tolist(), strict=True):
            ta, tb = [i for i in ra if i >= 0], [i for i in rb if i >= 0]
            if len(ta) + len(tb) > room:  # as the tokenizers' longest_first: the shorter keeps up to half the room
                keep_a = min(len(ta), room // 2) if len(ta) <= len(tb) else room - min(len(tb), room // 2)
                ta, tb = ta[:keep_a], tb[: room - keep_a]
            first = self.prefix + ta + self.middle
            second = tb + self.suffix
            rows.append(first + second)
            types.append([0] * len(first) + [int(self.config.type_b)] * len(second))
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.config.pad_id, dtype=torch.long)  # (B, T)
        mask = torch.zeros(len(rows), width, dtype=torch.long)  # (B, T)
        kinds = torch.zeros(len(rows), width, dtype=torch.long)  # (B, T)
        for i, (row, kind) in enumerate(zip(rows, types, strict=True)):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
            kinds[i, : len(row)] = torch.tensor(kind)
        device = a.device
        return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "token_type_ids": kinds.to(device)}

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The classifier's logit of each pair ``(B,)`` (before the output's sigmoid)."""
        if a.shape[0] == 0:
            return a.new_zeros(0)
        inputs = self.pair_inputs(a, b)
        if not self.config.type_b:
            inputs.pop("token_type_ids")
        return self.logits_of(inputs)

    def logits_of(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The encoder + classifier on a joint input -> ``(B,)`` logits (the part an ONNX runtime replaces)."""
        if self._graph is not None:
            return self._graph(inputs).reshape(-1).float()  # (B,)
        return self.encoder(**inputs).logits[:, 0].float()  # (B, 1) -> (B,)

    def onnx_graph(self) -> tuple[nn.Module, dict[str, torch.Tensor]]:
        """The encoder + classifier as a module of the joint input (``input_ids``, ``attention_mask`` and, when
        the encoder has token types, ``token_type_ids``) -> ``(B,)`` logits, and a traced sample."""
        rows = torch.tensor([[5.0, 6.0, 7.0, -1.0], [8.0, 9.0, 10.0, 11.0]])  # (2, 4): two lengths
        sample = self.pair_inputs(rows, rows.flip(0))
        if not self.config.type_b:
            sample.pop("token_type_ids")
        return _Logits(self.encoder, list(sample)), sample

    def run_graph(self, run: Any) -> None:
        self._graph = run

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Scores ``(B,)`` of the pairs ``(a[i], b[i])``; past ``chunk`` pairs, length-sorted chunks of ``chunk``
        (a whole split scored at once pads every pair to the longest and holds all activations)."""
        n, step = a.shape[0], self.config.chunk
        if n <= step:
            logits = self.pair_logits(a, b)  # (B,)
        else:
            lengths = (a >= 0).sum(1) + (b >= 0).sum(1)  # (B,) tokens per pair
            order = lengths.argsort(descending=True)  # (B,)
            logits = a.new_empty(n)  # (B,)
            for s in range(0, n, step):
                rows = order[s : s + step]
                logits[rows] = self.pair_logits(a[rows], b[rows])
        return torch.sigmoid(logits) if self.config.output == "classification" else logits

    def matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Every ``a[i]`` against every ``b[j]`` ``(Ba, Bb)``: one encoder pass per pair, ``chunk`` pairs at once."""
        na, nb = a.shape[0], b.shape[0]
        left = a[:, None].expand(na, nb, a.shape[1]).reshape(na * nb, -1)  # (Ba*Bb, La)
        right = b[None, :].expand(na, nb, b.shape[1]).reshape(na * nb, -1)  # (Ba*Bb, Lb)
        return self(left, right).reshape(na, nb)  # (Ba, Bb), scored in chunks of `chunk` pairs

    def logit(self, scores: torch.Tensor) -> torch.Tensor:
        """Probabilities ``(B,)`` -> their logits (classification only; losses use :meth:`logit_of` instead)."""
        if self.config.output != "classification":
            raise RuntimeError("a regression cross_encoder gives no probability; use output: classification")
        p = scores.clamp(1e-7, 1 - 1e-7)
        return torch.log(p) - torch.log1p(-p)

    def logit_of(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The raw logits, exact (no sigmoid and back)."""
        return self.pair_logits(a, b)
