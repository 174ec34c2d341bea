"""Concurrent enrolls never corrupt the gallery; a crash mid-enroll leaves the previous one; batching merges."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from pairsim.gallery import load_gallery
from pairsim.serve.app import create_app
from pairsim.serve.batching import Batcher


def test_concurrent_enrolls_over_http_keep_every_identity(
    text_model, live_server, token: str, write: dict[str, str], tmp_path: Path
) -> None:
    gallery = tmp_path / "g.safetensors"
    url = live_server(create_app(text_model, gallery=gallery, token=token))
    people = {f"person{i}": [f"text {i} one", f"text {i} two", "shared text"][: 1 + i % 3] for i in range(16)}

    def enroll(item: tuple[str, list[str]]) -> int:
        return httpx.post(
            f"{url}/enroll", json={"identity": item[0], "items": item[1]}, headers=write, timeout=60
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(enroll, people.items())) == [200] * 16
    saved = load_gallery(gallery, text_model)  # written with the serving model's fingerprint
    names, rows = saved.names, saved.embeddings
    assert sorted(set(names)) == sorted(people)
    assert all(names.count(p) == len(items) for p, items in people.items())
    for person in ("person0", "person7", "person14"):  # rows are each person's own embeddings
        got = rows[[i for i, n in enumerate(names) if n == person]]
        assert torch.allclose(got, text_model.encode_b(people[person]), atol=1e-6)
    info = httpx.get(f"{url}/info").json()["gallery"]
    assert info == {"identities": 16, "rows": len(names)}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_crash_mid_enroll_leaves_the_previous_gallery(
    text_model, serve, write: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pairsim.gallery

    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery, raise_server_exceptions=False) as client:
        assert (
            client.post("/enroll", json={"identity": "ann", "items": ["how old are you"]}, headers=write).status_code
            == 200
        )
        before = gallery.read_bytes()
        real_save = pairsim.gallery.save_file

        def crash(tensors: dict[str, Any], path: Any, metadata: Any = None) -> None:
            real_save(tensors, path, metadata=metadata)
            Path(path).write_bytes(Path(path).read_bytes()[:40])  # half-written ...
            raise OSError("disk full")  # ... and the writer dies

        monkeypatch.setattr(pairsim.gallery, "save_file", crash)
        failed = client.post("/enroll", json={"identity": "bob", "items": ["the cat sat on the mat"]}, headers=write)
        assert failed.status_code == 500 and failed.json() == {
            "error": "internal error (OSError); the server log has the details"  # no message, no traceback
        }
        assert gallery.read_bytes() == before
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        match = client.post("/identify", json={"items": ["the cat sat on the mat"]}).json()["matches"][0]
        assert match["nearest"] == "ann"  # the served gallery is the previous one too
        monkeypatch.setattr(pairsim.gallery, "save_file", real_save)
        assert (
            client.post(
                "/enroll", json={"identity": "bob", "items": ["the cat sat on the mat"]}, headers=write
            ).status_code
            == 200
        )
    assert sorted(set(load_gallery(gallery, text_model).names)) == ["ann", "bob"]


def test_batcher_merges_concurrent_requests_into_one_call(text_model) -> None:
    texts = [f"request number {i}" for i in range(8)]
    batcher = Batcher(text_model, window_ms=60_000, max_items=8)  # waits until 8 inputs are queued: one call
    try:
        barrier = threading.Barrier(8)

        def one(text: str) -> torch.Tensor:
            barrier.wait()
            return batcher.encode("a", [text])

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, texts))
        assert batcher.calls == 1
        assert torch.allclose(torch.cat(results), text_model.encode_a(texts), atol=1e-6)
    finally:
        batcher.close()


def test_batcher_isolates_a_failing_request(image_model, faces: list[str]) -> None:
    batcher = Batcher(image_model, window_ms=60_000, max_items=2)
    try:
        with ThreadPoolExecutor(2) as pool:
            good = pool.submit(batcher.encode, "a", [faces[0]])
            bad = pool.submit(batcher.encode, "a", ["/no/such/image.png"])
            assert torch.allclose(good.result(), image_model.encode_a([faces[0]]), atol=1e-6)
            with pytest.raises(Exception, match=r"image\.png"):
                bad.result()
    finally:
        batcher.close()
