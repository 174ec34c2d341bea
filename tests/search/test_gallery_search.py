"""Gallery search: FAISS (exact flat indexes, head re-scoring) equals brute force; enrolment adds / removes."""

from __future__ import annotations

import pytest
import torch

from pairsim.errors import ConfigError, DataError
from pairsim.heads import HEADS
from pairsim.search import GalleryIndex

faiss = pytest.importorskip("faiss", reason="the faiss extra is not installed: pip install 'pairsim[faiss]'")


def head(name: str):
    config = HEADS.get(name).Config(name=name)
    if name == "weighted_l1":
        config.dim = 16
    return HEADS.get(name)(config)


def random_gallery(n: int = 3000, d: int = 16, people: int = 60, seed: int = 0) -> tuple[list[str], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [f"p{i % people}" for i in range(n)], torch.randn(n, d, generator=g)


@pytest.mark.parametrize("name", [n for n in HEADS.names() if HEADS.get(n).faiss_metric])
def test_faiss_equals_brute_force(name: str) -> None:
    names, rows = random_gallery()
    probes = torch.randn(40, 16, generator=torch.Generator().manual_seed(1))  # (40, 16)
    exact = GalleryIndex(names, rows, head=head(name), backend="exact")
    fast = GalleryIndex(names, rows, head=head(name), backend="faiss")
    assert fast.searcher().name == "faiss" and exact.searcher().name == "exact"
    s_exact, r_exact = exact.search(probes, k=5)  # (40, 5)
    s_fast, r_fast = fast.search(probes, k=5)
    assert torch.equal(r_fast, r_exact)
    assert torch.allclose(s_fast, s_exact, atol=1e-5, rtol=1e-5)
    assert [m.nearest for m in fast.identify(probes)] == [m.nearest for m in exact.identify(probes)]
    # the scores are the head's own: pair scores of each probe with its best row
    assert torch.allclose(s_exact[:, 0], exact.head(probes, rows[r_exact[:, 0]]), atol=1e-5)


def test_add_and_remove_keep_faiss_equal_to_brute_force() -> None:
    names, rows = random_gallery(n=600, people=30)
    exact = GalleryIndex(names, rows, head=head("cosine"), backend="exact")
    fast = GalleryIndex(names, rows, head=head("cosine"), backend="faiss")
    fast.searcher()  # build the index first so the updates below go through it
    newcomer = torch.randn(3, 16, generator=torch.Generator().manual_seed(7))
    for g in (exact, fast):
        assert g.remove("p3") == 20
        g.add("newcomer", newcomer)
        g.add("p5", newcomer[:1] * -1)  # re-enrolling replaces p5's examples
    assert fast.searcher().index.ntotal == len(fast) == len(exact) == 600 - 20 + 3 - 20 + 1
    probes = torch.cat([newcomer + 0.01, rows[:20]])  # (23, 16)
    s_exact, r_exact = exact.search(probes, k=3)
    s_fast, r_fast = fast.search(probes, k=3)
    assert torch.equal(r_fast, r_exact) and torch.allclose(s_fast, s_exact, atol=1e-5)
    found = [m.nearest for m in fast.identify(probes)]
    assert found[:3] == ["newcomer"] * 3 and "p3" not in found
    with pytest.raises(DataError, match="'p3' is not enrolled"):
        fast.remove("p3")


def test_auto_switches_to_faiss_past_the_threshold_and_stays_exact_for_other_heads() -> None:
    names, rows = random_gallery(n=100)
    assert GalleryIndex(names, rows, head=head("cosine"), faiss_min_rows=101).searcher().name == "exact"
    g = GalleryIndex(names, rows, head=head("cosine"), faiss_min_rows=100)
    assert g.searcher().name == "faiss"
    g.remove("p0")  # below the threshold again: brute force
    assert g.searcher().name == "exact"
    assert GalleryIndex(names, rows, head=head("weighted_l1"), faiss_min_rows=1).searcher().name == "exact"
    with pytest.raises(ConfigError, match="no FAISS metric ranks like head 'weighted_l1'"):
        GalleryIndex(names, rows, head=head("weighted_l1"), backend="faiss").searcher()
    snorm = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine", cohort=4))  # S-norm ranks per row
    assert GalleryIndex(names, rows, head=snorm, faiss_min_rows=1).searcher().name == "exact"
    with pytest.raises(ConfigError, match="no FAISS metric ranks like head 'cosine' with an S-norm cohort"):
        GalleryIndex(names, rows, head=snorm, backend="faiss").searcher()


def test_threshold_gives_unknown_in_the_heads_direction() -> None:
    rows = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    g = GalleryIndex(["near", "far"], rows, head=head("euclidean"), threshold=1.0)  # a distance: lower is similar
    near, lost = g.identify(torch.tensor([[0.5, 0.0], [5.0, 5.0]]))
    assert (near.identity, near.nearest) == ("near", "near") and near.score == pytest.approx(0.5)
    assert lost.identity is None and lost.nearest == "near" and lost.score == pytest.approx(50**0.5)
