"""A gallery saved with an approximate index is served from it: matches say they are not exact, HTTP deletes
and CLI unenrolls are never returned again, and every write keeps the index file and its record consistent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pairsim.cli import main
from pairsim.gallery import Gallery, read_gallery, save_gallery
from pairsim.search import GalleryIndex
from pairsim.search.index_file import index_path
from pairsim.search.stored import open_index, search_record

pytest.importorskip("faiss", reason="the faiss extra is not installed: pip install 'pairsim[faiss]'")

TEXTS = {
    "ann": "how old are you",
    "bob": "the cat sat on the mat",
    "cy": "a dog runs in the park",
    "dee": "what time is it now",
    "eve": "I like green apples",
}


def ann_gallery(model: Any, path: Path, kind: str = "hnsw") -> None:
    names = list(TEXTS)
    rows = model.encode_b([TEXTS[n] for n in names])  # (5, D)
    index = GalleryIndex(names, rows, head=model.head, threshold=model.config.threshold, backend=kind)
    record, ids = search_record(index, path)
    save_gallery(path, Gallery(names, rows, model.fingerprint(), search=record, search_ids=ids))


def matches(client: Any, texts: list[str]) -> list[dict[str, Any]]:
    r = client.post("/identify", json={"items": texts})
    assert r.status_code == 200, r.text
    return r.json()["matches"]


@pytest.mark.parametrize("kind", ["hnsw", "int8"])
def test_an_approximate_gallery_is_served_and_deletes_never_come_back(
    text_model, serve, write: dict[str, str], tmp_path: Path, kind: str
) -> None:
    gallery = tmp_path / "g.safetensors"
    ann_gallery(text_model, gallery, kind)
    with serve(text_model, gallery=gallery) as client:
        found = matches(client, list(TEXTS.values()))
        assert [m["nearest"] for m in found] == list(TEXTS) and not any(m["exact"] for m in found)
        assert client.delete("/identities/bob", headers=write).json() == {"identity": "bob", "removed_rows": 1}
        assert "bob" not in [m["nearest"] for m in matches(client, list(TEXTS.values()))]
        assert main(["unenroll", "cy", "--gallery", str(gallery)]) == 0  # another process: the ids just go
        assert read_gallery(gallery).search_ids.tolist() == [0, 3, 4]  # bob (1) and cy (2) are tombstones
        found = matches(client, list(TEXTS.values()))
        assert {m["nearest"] for m in found} == {"ann", "dee", "eve"} and not any(m["exact"] for m in found)
        r = client.post("/enroll", json={"identity": "bob", "items": [TEXTS["bob"]]}, headers=write)
        assert r.status_code == 200, r.text
        assert matches(client, [TEXTS["bob"]])[0]["nearest"] == "bob"
    saved = read_gallery(gallery)
    assert saved.names == ["ann", "dee", "eve", "bob"] and saved.search["index"] == kind
    assert saved.search["ann"]["sha256"] and index_path(gallery).is_file()
    # the file as written reopens with its index (hash checked) and searches like brute force here
    index = open_index(saved, gallery, head=text_model.head, threshold=0.5)
    assert index.searcher().file_record == saved.search["ann"]
    probes = text_model.encode_a(list(TEXTS.values()))
    exact = GalleryIndex(saved.names, saved.embeddings, head=text_model.head, backend="exact")
    assert [m.nearest for m in index.identify(probes)] == [m.nearest for m in exact.identify(probes)]
