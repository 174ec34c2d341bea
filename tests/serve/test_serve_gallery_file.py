"""The served gallery follows its file: another process's unenroll / enroll / delete is seen by the next request,
and of concurrent deletes of one identity exactly one removes it while the others get 404."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from pairsim.cli import main
from pairsim.errors import DataError
from pairsim.gallery import Gallery, read_gallery, save_gallery
from pairsim.serve.app import create_app
from pairsim.serve.served_gallery import file_stamp

GHOST, ANN = "the cat sat on the mat", "how old are you"


def identify(client: Any, text: str) -> dict[str, Any]:
    r = client.post("/identify", json={"items": [text]})
    assert r.status_code == 200, r.text
    return r.json()["matches"][0]


def test_an_identity_unenrolled_by_the_cli_never_matches_again(
    text_model, serve, write: dict[str, str], tmp_path: Path
) -> None:
    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery) as client:
        for name, text in (("ghost", GHOST), ("ann", ANN)):
            assert client.post("/enroll", json={"identity": name, "items": [text]}, headers=write).status_code == 200
        match = identify(client, GHOST)
        assert match["identity"] == "ghost" and match["known"] is True
        assert main(["unenroll", "ghost", "--gallery", str(gallery)]) == 0  # another process changes the file
        match = identify(client, GHOST)
        assert match["identity"] != "ghost" and match["nearest"] == "ann"
        assert client.get("/info").json()["gallery"] == {"identities": 1, "rows": 1}
        # an enroll by the server after the CLI's change keeps that change (it starts from the file)
        assert client.post("/enroll", json={"identity": "bob", "items": ["a dog"]}, headers=write).status_code == 200
        assert sorted(read_gallery(gallery).names) == ["ann", "bob"]


def test_a_same_size_rewrite_in_place_and_a_deleted_file_are_seen(
    text_model, serve, write: dict[str, str], tmp_path: Path
) -> None:
    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery) as client:
        for name, text in (("ann", ANN), ("bob", GHOST)):
            assert client.post("/enroll", json={"identity": name, "items": [text]}, headers=write).status_code == 200
        assert identify(client, GHOST)["identity"] == "bob"
        before = os.stat(gallery)
        old = read_gallery(gallery)
        swapped = tmp_path / "swapped.safetensors"  # same rows, names swapped: the same size, byte for byte
        save_gallery(swapped, Gallery(names=["bob", "ann"], embeddings=old.embeddings, fingerprint=old.fingerprint))
        assert swapped.stat().st_size == before.st_size
        stamp = file_stamp(gallery)
        with open(gallery, "r+b") as f:  # rewritten in place: same inode, same size, old modification time
            f.write(swapped.read_bytes())
        os.utime(gallery, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = file_stamp(gallery)
        assert stamp is not None and after is not None
        assert after[:4] == stamp[:4] and after[5] != stamp[5]  # only the change time and the header hash tell
        assert identify(client, GHOST)["identity"] == "ann"

        gallery.unlink()  # a deleted gallery is empty: nobody is known any more
        r = client.post("/identify", json={"items": [GHOST]})
        assert r.status_code == 409 and "empty" in r.json()["error"]
        assert client.get("/info").json()["gallery"] == {"identities": 0, "rows": 0}
        assert client.post("/enroll", json={"identity": "cy", "items": [ANN]}, headers=write).status_code == 200
        assert read_gallery(gallery).names == ["cy"]


def test_an_unreadable_or_foreign_gallery_file_is_an_error_not_the_old_names(
    make_model, text_model, serve, write: dict[str, str], tmp_path: Path
) -> None:
    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery) as client:
        assert client.post("/enroll", json={"identity": "ghost", "items": [GHOST]}, headers=write).status_code == 200
        good = gallery.read_bytes()
        gallery.write_bytes(b"not a gallery")
        for r in (client.post("/identify", json={"items": [GHOST]}),
                  client.post("/enroll", json={"identity": "x", "items": ["y"]}, headers=write)):  # fmt: skip
            assert r.status_code == 503 and "cannot be used" in r.json()["error"], r.text
        assert "cannot be used" in client.get("/info").json()["gallery"]["error"]
        assert gallery.read_bytes() == b"not a gallery"  # the failed enroll wrote nothing
        other = make_model("lstm", head="cosine", threshold=0.5)
        torch.nn.init.normal_(next(other.tower_a.parameters()))
        save_gallery(gallery, Gallery(names=["eve"], embeddings=torch.ones(1, 8), fingerprint=other.fingerprint()))
        r = client.post("/identify", json={"items": [GHOST]})
        assert r.status_code == 503 and "another model" in r.json()["error"]
        gallery.write_bytes(good)  # fixed: served again
        assert identify(client, GHOST)["identity"] == "ghost"


def test_of_concurrent_deletes_one_removes_and_the_others_get_404(
    text_model, live_server, token: str, write: dict[str, str], tmp_path: Path
) -> None:
    url = live_server(create_app(text_model, gallery=tmp_path / "g.safetensors", token=token))
    for name in ("ann", "bob"):
        r = httpx.post(f"{url}/enroll", json={"identity": name, "items": [ANN, name]}, headers=write, timeout=60)
        assert r.status_code == 200

    def delete(barrier: threading.Barrier) -> httpx.Response:
        barrier.wait()  # all 8 at once
        return httpx.delete(f"{url}/identities/ann", headers=write, timeout=60)

    for _ in range(3):  # repeated rounds: the interleaving differs each time
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(delete, [threading.Barrier(8)] * 8))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [404] * 7, [r.text for r in responses]
        assert [r.json() for r in responses if r.status_code == 200] == [{"identity": "ann", "removed_rows": 2}]
        assert all(r.json() == {"error": "identity 'ann' is not enrolled"} for r in responses if r.status_code == 404)
        assert read_gallery(tmp_path / "g.safetensors").names == ["bob", "bob"]
        r = httpx.post(f"{url}/enroll", json={"identity": "ann", "items": [ANN, "ann"]}, headers=write, timeout=60)
        assert r.status_code == 200


def test_a_folder_or_fifo_at_the_gallery_path_is_a_503_never_opened(
    text_model, serve, write: dict[str, str], tmp_path: Path
) -> None:
    """Probe finding 6: a directory gave 500 IsADirectoryError, a FIFO hung every request (and SIGTERM)."""
    gallery = tmp_path / "g.safetensors"
    with serve(text_model, gallery=gallery) as client:
        assert client.post("/enroll", json={"identity": "ann", "items": [ANN]}, headers=write).status_code == 200
        for kind, plant in (("a directory", os.mkdir), ("a FIFO (named pipe)", os.mkfifo)):
            gallery.unlink() if gallery.is_file() else gallery.rmdir()
            plant(gallery)
            message = (
                f"the gallery cannot be used: gallery {gallery} is {kind}; expected a regular file (a safetensors "
                "gallery)"
            )
            assert client.get("/info").json()["gallery"] == {"error": message}  # /info itself still answers
            for r in (client.post("/identify", json={"items": [ANN]}),
                      client.post("/enroll", json={"identity": "bob", "items": [GHOST]}, headers=write)):  # fmt: skip
                assert r.status_code == 503 and r.json()["error"] == message, r.text
        os.unlink(gallery)
        link = tmp_path / "link.safetensors"
        os.symlink(tmp_path / "pipe", link)
        os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DataError, match=r"link.safetensors is a symbolic link to a FIFO \(named pipe\); expected"):
        create_app(text_model, gallery=link)  # at start: the user's error, not a hang
