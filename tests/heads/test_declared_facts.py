"""What a head declares about itself for other libraries (FAISS metric, sentence-transformers similarity) holds.

Driven by the registry: a new head is covered as soon as it declares a fact, and no table elsewhere names heads.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pairsim.heads import HEADS, Head


def build(name: str, **fields: object) -> Head:
    if "dim" in {f.name for f in dataclasses.fields(HEADS.get(name).Config)}:
        fields.setdefault("dim", 16)  # a head with weights per dimension (PairModel fills it from the towers)
    head = HEADS.get(name)(HEADS.get(name).Config(name=name, **fields))
    head.bind(16)
    return head


def _vectors() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.randn(8, 16, generator=g), torch.randn(30, 16, generator=g)  # (8, 16), (30, 16)


@pytest.mark.parametrize("name", [n for n in HEADS.names() if HEADS.get(n).st_similarity])
def test_the_sentence_transformers_similarity_ranks_like_the_head(name: str) -> None:
    from sentence_transformers import SimilarityFunction

    head, (a, b) = build(name), _vectors()
    theirs = SimilarityFunction.to_similarity_fn(head.st_similarity)(a, b)  # (8, 30), higher = more similar
    ours = head.matrix(a, b)  # (8, 30) in the head's direction
    assert torch.equal(ours.argsort(dim=1, descending=head.higher_is_similar), theirs.argsort(dim=1, descending=True))


@pytest.mark.parametrize("name", [n for n in HEADS.names() if HEADS.get(n).faiss_metric])
def test_the_faiss_metric_ranks_like_the_head(name: str) -> None:
    faiss = pytest.importorskip("faiss", reason="the faiss extra is not installed: pip install 'pairsim[faiss]'")
    head, (a, b) = build(name), _vectors()
    if head.faiss_normalize:
        a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    index = faiss.IndexFlat(16, getattr(faiss, head.faiss_metric))
    index.add(b.numpy())
    _, rows = index.search(a.numpy(), 30)  # (8, 30) best first, as FAISS ranks
    ours = head.matrix(a, b).argsort(dim=1, descending=head.higher_is_similar)  # (8, 30)
    assert torch.equal(torch.from_numpy(rows).long(), ours)


@pytest.mark.parametrize("name", [n for n in HEADS.names() if HEADS.get(n).reads == "embeddings"])
def test_faiss_refuses_a_head_that_declares_no_metric_by_name(name: str) -> None:
    pytest.importorskip("faiss", reason="the faiss extra is not installed: pip install 'pairsim[faiss]'")
    from pairsim.errors import ConfigError
    from pairsim.search.faiss_index import FaissSearch

    head = build(name)
    if head.faiss_metric:
        assert FaissSearch(head, 16).normalize == head.faiss_normalize
        return
    with pytest.raises(ConfigError, match=f"no FAISS metric ranks like head {name!r}; use exact search"):
        FaissSearch(head, 16)


def test_an_snorm_cohort_is_declared_beyond_the_embeddings() -> None:
    assert build("cosine").beyond_embeddings() is None
    assert build("cosine", cohort=4).beyond_embeddings() == "an S-norm cohort"
