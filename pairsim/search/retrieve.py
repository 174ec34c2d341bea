"""Top-k retrieval of corpus items for queries with any bi-encoder: a pairsim model or a sentence-transformers one.

The corpus is encoded once (side b), the queries on side a, and the model's own head ranks them: FAISS proposes
candidates where it is installed and a FAISS metric ranks as the head does (:mod:`pairsim.search.faiss_index`),
else exact brute force; the scores and their order are the head's in both cases. :mod:`pairsim.search.rerank`
and :mod:`pairsim.search.mine` build on it.

Example:
    >>> # scores, rows = retrieve(PairModel.from_pretrained("runs/stsb/model"), ["a cat"], corpus, k=10)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from pairsim.errors import ConfigError, DataError

Backend = Literal["auto", "exact", "faiss"]


class SentenceTransformerEncoder:
    """A sentence-transformers model directory read as a tied bi-encoder with a cosine head (side a = side b).

    Args:
        path: A local sentence-transformers directory (``modules.json``); no remote code.
        device: Torch device.
    """

    def __init__(self, path: str | Path, *, device: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        from pairsim.heads import HEADS

        self.st = SentenceTransformer(str(path), device=device or "cpu", trust_remote_code=False, local_files_only=True)
        self.head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine")).eval()
        self.device = torch.device("cpu")

    def _encode(self, items: Sequence[Any], batch_size: int) -> torch.Tensor:
        out = self.st.encode(list(items), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
        return out.float().cpu()  # (N, D)

    def encode_a(self, items: Sequence[Any], *, batch_size: int = 64) -> torch.Tensor:
        return self._encode(items, batch_size)

    def encode_b(self, items: Sequence[Any], *, batch_size: int = 64) -> torch.Tensor:
        return self._encode(items, batch_size)


def load_encoder(path: str | Path, *, device: str | None = None) -> Any:
    """A pairsim model directory (:meth:`PairModel.from_pretrained`) or a sentence-transformers directory.

    Raises:
        ModelFileError: Neither (the pairsim loader's message).
    """
    from pairsim.hub import is_model_dir
    from pairsim.model import PairModel

    root = Path(path).expanduser()
    if root.is_dir() and not is_model_dir(root) and (root / "modules.json").is_file():
        return SentenceTransformerEncoder(root, device=device)
    return PairModel.from_pretrained(path, device=device)


def retrieve(
    model: Any,
    queries: Sequence[Any],
    corpus: Sequence[Any],
    *,
    k: int,
    backend: Backend = "auto",
    batch_size: int = 64,
    corpus_embeddings: torch.Tensor | None = None,
    query_embeddings: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best corpus items of each query, best first, in the model's head's scores.

    Args:
        model: A bi-encoder with ``encode_a``, ``encode_b`` and ``head`` (a PairModel, an OnnxPairModel, a
            :class:`SentenceTransformerEncoder`); a cross-encoder is refused (it has no embeddings to search).
        queries: Side-a inputs.
        corpus: Side-b inputs.
        k: Items per query (at most the corpus size).
        backend: ``auto`` (FAISS where installed and the head has a FAISS metric), ``exact`` or ``faiss``.
        batch_size: Inputs per encoding batch.
        corpus_embeddings: The corpus's ``(N, D)`` embeddings when already encoded.
        query_embeddings: The queries' ``(Q, D)`` embeddings when already encoded.

    Returns:
        ``(scores (Q, k), rows (Q, k))``: ``rows`` index ``corpus``.

    Raises:
        ConfigError: A cross-encoder, ``k`` < 1, or ``faiss`` asked for where it cannot run.
        DataError: An empty corpus.
    """
    if getattr(model.head, "reads", "embeddings") != "embeddings":
        raise ConfigError("retrieval needs a bi-encoder (embeddings to search); a cross-encoder only rescores pairs")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k: expected a positive integer, got {k!r}")
    if not len(corpus):
        raise DataError("retrieval: the corpus is empty")
    from pairsim.search import faiss_index
    from pairsim.search.exact import ExactSearch

    corpus_emb = corpus_embeddings if corpus_embeddings is not None else model.encode_b(corpus, batch_size=batch_size)
    query_emb = query_embeddings if query_embeddings is not None else model.encode_a(queries, batch_size=batch_size)
    head = model.head.cpu().eval() if hasattr(model.head, "cpu") else model.head
    use_faiss = backend == "faiss"
    if backend == "auto":
        try:
            faiss_index.faiss_module()
            use_faiss = faiss_index.supports(head)
        except ConfigError:
            use_faiss = False
    if use_faiss:
        search: Any = faiss_index.FaissSearch(head, corpus_emb.shape[1])
        search.add(corpus_emb)
    else:
        search = ExactSearch(head, chunk=4096)
    with torch.inference_mode():
        return search.search(query_emb, corpus_emb, min(k, len(corpus)))  # (Q, k), (Q, k)
