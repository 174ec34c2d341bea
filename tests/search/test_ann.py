"""Approximate gallery search: shortlists re-scored by the head equal exact search where they hold the answer;
deletes are never returned (refilled shortlists); saved indexes reopen (memory-mapped), checked by hash."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from pairsim.errors import ConfigError
from pairsim.gallery import Gallery, read_gallery, save_gallery
from pairsim.heads import HEADS
from pairsim.search import GalleryIndex
from pairsim.search import ann as ann_module
from pairsim.search.ann import ANN_KINDS, AnnConfig
from pairsim.search.index import auto_kind
from pairsim.search.index_file import index_path
from pairsim.search.stored import open_index, search_record

faiss = pytest.importorskip("faiss", reason="the faiss extra is not installed: pip install 'pairsim[faiss]'")


def head(name: str = "cosine"):
    return HEADS.get(name)(HEADS.get(name).Config(name=name))


def clustered(people: int = 40, per: int = 25, d: int = 32, seed: int = 0) -> tuple[list[str], torch.Tensor]:
    """``people`` well-separated clusters of ``per`` rows each (row i belongs to person i // per)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(people, d, generator=g) * 3  # (people, d)
    rows = centres.repeat_interleave(per, 0) + 0.3 * torch.randn(people * per, d, generator=g)  # (N, d)
    return [f"p{i // per}" for i in range(people * per)], rows


def planted_probes(rows: torch.Tensor, n: int = 30, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Probes planted next to gallery rows (noise far below the rows' spread): ``(probes (n, d), rows (n,))``."""
    g = torch.Generator().manual_seed(seed)
    which = torch.randperm(rows.shape[0], generator=g)[:n]
    return rows[which] + 0.01 * torch.randn(n, rows.shape[1], generator=g), which


@pytest.mark.parametrize("kind", ANN_KINDS)
@pytest.mark.parametrize("head_name", ["cosine", "euclidean"])
def test_ann_results_rescored_equal_exact_where_the_shortlist_holds_them(kind: str, head_name: str) -> None:
    names, rows = clustered()
    probes, planted = planted_probes(rows)
    exact = GalleryIndex(names, rows, head=head(head_name), backend="exact")
    ann = GalleryIndex(names, rows, head=head(head_name), backend=kind, ann=AnnConfig(kind=kind, nprobe=64))
    assert ann.exact is False and exact.exact is True
    _, r_exact = exact.search(probes, k=5)  # (30, 5)
    s_ann, r_ann = ann.search(probes, k=5)
    assert torch.equal(r_ann[:, 0], planted) and torch.equal(r_exact[:, 0], planted)  # the planted row first
    # wherever the shortlist holds the exact top 5, the re-scored result is exactly it, in the head's scores
    search = ann.searcher()
    ids = search._candidates(search._prepare(probes), search.shortlist_size(5))  # (30, wide)
    held = [set(r_exact[i].tolist()) <= set(search.row_of_id[ids[i]].tolist()) for i in range(len(probes))]
    assert sum(held) >= len(probes) // 2  # the condition is met often enough for the check to mean something
    for i in np.flatnonzero(held):
        assert torch.equal(r_ann[i], r_exact[i])
    # scores are the head's own pair scores (head.matrix, which exact search uses, rounds small distances)
    assert torch.allclose(s_ann, ann.head(probes[:, None].expand(-1, 5, -1), rows[r_ann]), atol=1e-6)
    assert all(
        m.exact is False and m.nearest == names[int(p)] for m, p in zip(ann.identify(probes), planted, strict=True)
    )


def test_ivfpq_trains_on_a_sample_of_all_rows_and_adds_them_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann_module, "ADD_CHUNK", 500)  # 4,000 rows: 8 chunks; the first holds persons 0-4 only
    names, rows = clustered(people=40, per=100, d=16)
    probes, planted = planted_probes(rows)
    ann = GalleryIndex(names, rows, head=head(), backend="ivfpq", ann=AnnConfig(kind="ivfpq", nprobe=8))
    index = ann.searcher().index
    assert index.nlist == 63 and index.ntotal == 4000  # sqrt(4,000 rows), not sqrt of the first chunk's 500
    centroids = torch.from_numpy(index.quantizer.reconstruct_n(0, index.nlist))  # (63, 16) coarse centroids
    unit = torch.nn.functional.normalize(rows, dim=1).reshape(40, 100, 16).mean(1)  # (40, 16) each person's centre
    nearest = torch.nn.functional.cosine_similarity(unit[:, None], centroids[None], dim=-1).max(1).values  # (40,)
    assert (nearest > 0.8).sum() >= 36  # the coarse lists cover every part of the gallery, not the first chunk's
    assert torch.equal(ann.search(probes, k=1)[1][:, 0], planted)  # FAISS ids map to rows across the chunks


@pytest.mark.parametrize("kind", ["int8", "binary"])
def test_quantized_search_rescores_with_the_float_rows(kind: str) -> None:
    names, rows = clustered(d=64)
    probes, _ = planted_probes(rows)
    ann = GalleryIndex(names, rows, head=head(), backend=kind)
    scores, found = ann.search(probes, k=3)
    cos = torch.nn.functional.cosine_similarity(probes[:, None], rows[found], dim=-1)  # (30, 3) in float32
    assert torch.allclose(scores, cos, atol=1e-6)
    codes = ann.searcher().index.search(ann.searcher()._prepare(probes), 1)[0][:, 0]
    if kind == "binary":  # Hamming distances of sign bits: not the head's score at all
        assert (codes >= 0).all() and (codes == np.round(codes)).all()
    else:  # the int8 scan's inner products differ from the float ones the head reports
        assert not np.allclose(codes, scores[:, 0].numpy(), atol=1e-7)


@pytest.mark.parametrize("kind", ANN_KINDS)
def test_deleted_rows_are_never_returned_and_the_shortlist_refills(kind: str) -> None:
    names, rows = clustered(people=40, per=25)
    probes = rows[75:80] + 0.01  # (5, d): all next to person p3's rows
    ann = GalleryIndex(names, rows, head=head(), backend=kind, ann=AnnConfig(kind=kind, shortlist=20, nprobe=64))
    exact = GalleryIndex(names, rows, head=head(), backend="exact")
    ann.searcher()  # built before the delete, so the delete goes through tombstones
    for g in (ann, exact):
        assert g.remove("p3") == 25
    search = ann.searcher()
    assert (search.row_of_id < 0).sum() == 25 and search.index.ntotal == 1000  # tombstoned, not rebuilt
    first = search.index.search(search._prepare(probes), 20)[1]  # the first shortlist: all p3's (dead) rows
    assert (search.row_of_id[first] < 0).mean() > 0.5
    s_ann, r_ann = ann.search(probes, k=3)
    s_exact, r_exact = exact.search(probes, k=3)
    assert all(ann.names[r] != "p3" for r in r_ann.flatten().tolist())
    if kind != "binary":  # sign bits of 32 numbers shortlist the next cluster too coarsely to hold its best row
        assert torch.equal(r_ann[:, 0], r_exact[:, 0]) and torch.allclose(s_ann[:, 0], s_exact[:, 0], atol=1e-6)
    # re-enrolling appends under new ids; removing most of the gallery rebuilds the index from the live rows
    ann.add("p3", rows[75:80])
    assert [m.nearest for m in ann.identify(probes)] == ["p3"] * 5
    for person in range(4, 30):
        ann.remove(f"p{person}")
    live = search.row_of_id >= 0
    assert len(ann) == 14 * 25 + 5 - 25 and live.sum() == len(ann)
    assert search.index.ntotal < 1005 and (~live).sum() <= len(ann)  # rebuilt once the dead outnumbered the live
    assert [m.nearest for m in ann.identify(rows[900:905])] == ["p36"] * 5


def test_saved_index_reopens_memory_mapped_and_a_tampered_one_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names, rows = clustered(people=40, per=50)
    probes, _ = planted_probes(rows)
    path = tmp_path / "g.safetensors"
    index = GalleryIndex(names, rows, head=head(), backend="ivfpq", ann=AnnConfig(kind="ivfpq", nprobe=64))
    index.remove("p0")  # a tombstone before saving: saved ids skip it
    before = index.search(probes, k=3)
    record, ids = search_record(index, path, on_disk=True)
    assert record["index"] == "ivfpq" and record["on_disk"] and ids.shape == (len(index),)
    save_gallery(path, Gallery(names=index.names, embeddings=index.embeddings, fingerprint="f", search=record,
                               search_ids=ids))  # fmt: skip
    assert index_path(path).is_file()
    gallery = read_gallery(path)
    assert gallery.names == index.names and torch.equal(gallery.embeddings, index.embeddings)
    maps = Path("/proc/self/maps")
    assert not maps.exists() or str(path.resolve()) in maps.read_text()  # the rows are memory-mapped from the file
    reopened = open_index(gallery, path, head=head(), threshold=None)
    search = reopened.searcher()
    assert search.read_only and search.file_record == record["ann"]  # memory-mapped, and not re-written
    after = reopened.search(probes, k=3)
    assert torch.equal(after[1], before[1]) and torch.allclose(after[0], before[0])
    reopened.add("newcomer", rows[:2] * -1)  # a change copies the mapped index into memory first
    assert not search.read_only and reopened.identify(-rows[:1])[0].nearest == "newcomer"
    # a changed index file is never parsed: the gallery's rows rebuild it (same kind), with a warning
    data = bytearray(index_path(path).read_bytes())
    data[-1] ^= 1
    index_path(path).write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="pairsim.search"):
        rebuilt = open_index(read_gallery(path), path, head=head(), threshold=None)
    assert "does not match the gallery's record" in caplog.text
    assert rebuilt.searcher().name == "ivfpq" and rebuilt.searcher().file_record is None
    exact = GalleryIndex(gallery.names, gallery.embeddings, head=head(), backend="exact")
    assert [m.nearest for m in rebuilt.identify(probes)] == [m.nearest for m in exact.identify(probes)]
    assert "p0" not in [m.nearest for m in rebuilt.identify(probes)]


def test_auto_writes_an_approximate_index_past_the_size_and_old_files_read_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [auto_kind(n) for n in (10, 20_000, 200_000, 5_000_000)] == ["exact", "faiss", "ivfpq", "ivfpq"]
    names, rows = clustered()
    small = GalleryIndex(names, rows, head=head())
    assert search_record(small, tmp_path / "g.safetensors") == (None, None)  # written exactly as before
    assert small.searcher().name == "exact"
    import pairsim.search.index as index_module

    monkeypatch.setattr(index_module, "FAISS_MIN_ROWS", 100)
    monkeypatch.setattr(index_module, "ANN_MIN_ROWS", 500)
    big = GalleryIndex(names, rows, head=head(), faiss_min_rows=100)
    record, ids = search_record(big, tmp_path / "g.safetensors")
    assert ids is not None and sorted(ids.tolist()) == list(range(len(big)))
    assert record["index"] == "auto" and record["ann"]["config"]["kind"] == "ivfpq" and big.exact is False
    with pytest.raises(ConfigError, match="approximate search \\(hnsw\\) needs a head"):
        GalleryIndex(names, rows, head=head("exp"), backend="hnsw").searcher()
    with pytest.raises(ConfigError, match="search index nprobe: expected >= 1"):
        AnnConfig(kind="ivfpq", nprobe=0)
