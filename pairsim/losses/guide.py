"""A guide model for false-negative masking (GISTEmbed, Solatorio 2024): a frozen model's scores of the items.

The guide embeds every item of each side once, without gradients, before training
(:meth:`Guide.from_model`); during training a loss looks the rows' items up by index (the ``keys`` target
carries them) and asks :meth:`Guide.scores` how similar the guide finds an anchor and each candidate. A
candidate the guide scores above the positive's score minus a margin is likely another positive and is dropped
from the negatives. The guide can be a saved pairsim model (scored by its own head) or a sentence-transformers
model directory (cosine).

Example:
    >>> guide = Guide({"a": torch.eye(2), "b": torch.eye(2)})
    >>> guide.scores("a", torch.tensor([0]), "b", torch.tensor([0, 1]))
    tensor([[1., 0.]])
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pairsim.errors import ConfigError

log = logging.getLogger("pairsim.train")


def cosine_matrix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(m, D), (k, D) -> (m, k)`` cosine similarities."""
    return F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).T


class Guide:
    """Frozen embeddings of every item of each side, and the guide's score of two sets of them.

    Args:
        embeddings: ``{side: (N_side, D)}``: the guide's embedding of each item of the side, row = item index.
        matrix: ``(m, D), (k, D) -> (m, k)`` scores, **higher = more similar**; cosine by default.
    """

    def __init__(
        self,
        embeddings: dict[str, torch.Tensor],
        matrix: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = cosine_matrix,
    ) -> None:
        self.embeddings = {side: e.detach().float() for side, e in embeddings.items()}
        self.matrix = matrix

    @torch.no_grad()
    def scores(self, side_x: str, ids_x: torch.Tensor, side_y: str, ids_y: torch.Tensor) -> torch.Tensor:
        """The guide's ``(m, k)`` scores of items ``ids_x (m,)`` of ``side_x`` against ``ids_y (k,)`` of ``side_y``."""
        ex, ey = self.embeddings[side_x], self.embeddings[side_y]
        x = ex[ids_x.to(ex.device)]  # (m, D)
        y = ey[ids_y.to(ey.device)]  # (k, D)
        return self.matrix(x, y).to(ids_x.device)  # (m, k)

    @classmethod
    def from_model(cls, path: str | Path, side_inputs: dict[str, Sequence[Any]], *, batch_size: int = 64) -> Guide:
        """Embed each side's items with a saved pairsim model or a local sentence-transformers model.

        Args:
            path: A pairsim model directory (``config.json`` with a ``model`` section) or a sentence-transformers
                directory; read locally, never from the network.
            side_inputs: ``{side: items}`` as the trainer's batches index them.
            batch_size: Items embedded at a time.

        Raises:
            ConfigError: ``path`` is not a directory of either kind.
        """
        root = Path(path).expanduser()
        if not root.is_dir():
            raise ConfigError(f"loss.guide: {root} is not a directory (a saved pairsim or sentence-transformers model)")
        log.info("guide %s: embedding %s items", root, {s: len(x) for s, x in side_inputs.items()})
        config = root / "config.json"
        is_pairsim = config.is_file() and "model" in json.loads(config.read_text(encoding="utf-8"))
        if is_pairsim:
            from pairsim.model import PairModel

            model = PairModel.from_pretrained(root, device="cpu")
            encode = {"a": model.encode_a, "b": model.encode_b}
            embeddings = {s: encode[s](list(items), batch_size=batch_size) for s, items in side_inputs.items()}
            head = model.head
            return cls(embeddings, lambda x, y: head._signed(head.matrix(x, y)))
        if not (root / "modules.json").is_file():
            raise ConfigError(
                f"loss.guide: {root} is neither a pairsim model (config.json) nor a sentence-transformers one"
            )
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(root), device="cpu", local_files_only=True)
        embeddings = {
            s: st.encode(list(items), batch_size=batch_size, convert_to_tensor=True) for s, items in side_inputs.items()
        }
        return cls(embeddings, cosine_matrix)
