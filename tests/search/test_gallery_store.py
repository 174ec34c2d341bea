"""Gallery files: pairsim unenroll removes identities without re-encoding; writes keep other metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from pairsim.cli import main
from pairsim.errors import DataError
from pairsim.gallery import Gallery, read_gallery, save_gallery, writer_lock


def make_gallery(path: Path) -> torch.Tensor:
    rows = torch.arange(12, dtype=torch.float32).reshape(4, 3)  # (4, 3)
    names = ["ann", "bob", "ann", "cy"]
    save_file({"embeddings": rows}, path, metadata={"identities": json.dumps(names), "model_fingerprint": "abc123"})
    return rows


def test_unenroll_removes_rows_and_keeps_the_rest_and_the_metadata(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    rows = make_gallery(path)
    assert main(["unenroll", "ann", "--gallery", str(path)]) == 0
    kept = read_gallery(path)
    assert kept.names == ["bob", "cy"] and torch.equal(kept.embeddings, rows[[1, 3]])
    with safe_open(path, framework="pt") as f:
        assert f.metadata()["model_fingerprint"] == "abc123"  # the model's fingerprint survives
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unenroll_of_an_unknown_identity_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.safetensors"
    make_gallery(path)
    before = path.read_bytes()
    assert main(["unenroll", "bob", "zed", "--gallery", str(path)]) == 2
    err = capsys.readouterr().err
    assert "identity 'zed' is not in" in err and err.count("\n") == 1
    assert path.read_bytes() == before
    assert main(["unenroll", "x", "--gallery", str(tmp_path / "none.safetensors")]) == 2


def test_unenroll_of_everyone_leaves_an_empty_gallery_identify_refuses(tmp_path: Path) -> None:
    from pairsim.errors import ModelFileError

    path = tmp_path / "g.safetensors"
    make_gallery(path)
    assert main(["unenroll", "ann", "bob", "cy", "--gallery", str(path)]) == 0
    assert read_gallery(path, allow_empty=True).names == []
    with pytest.raises(ModelFileError, match="it is empty"):
        read_gallery(path)


def test_save_gallery_creates_a_file_pairsim_identify_reads(tmp_path: Path) -> None:
    path = tmp_path / "new.safetensors"
    save_gallery(path, Gallery(names=["a", "b"], embeddings=torch.eye(2), fingerprint="f"))
    gallery = read_gallery(path)
    assert gallery.names == ["a", "b"] and torch.equal(gallery.embeddings, torch.eye(2))


def test_a_corrupt_gallery_is_one_line(tmp_path: Path) -> None:
    from pairsim.errors import ModelFileError

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFileError, match="cannot read gallery"):
        read_gallery(bad)
    mismatched = tmp_path / "m.safetensors"
    save_file({"embeddings": torch.ones(2, 3)}, mismatched, metadata={"identities": json.dumps(["a"])})
    with pytest.raises(ModelFileError, match="1 identities for 2 embeddings"):
        read_gallery(mismatched)


@pytest.mark.parametrize("planted", ["link", "fifo"])
def test_the_writer_lock_never_follows_a_link_or_opens_a_fifo(planted: str, tmp_path: Path) -> None:
    lock = tmp_path / ".g.safetensors.lock"
    target = tmp_path / "created_by_lock"
    os.symlink(target, lock) if planted == "link" else os.mkfifo(lock)  # an open of a FIFO would block forever
    kind = "a symbolic link" if planted == "link" else "a FIFO"
    with pytest.raises(DataError, match=f"gallery lock {lock} is {kind}"), writer_lock(tmp_path / "g.safetensors"):
        pass
    assert not target.exists()
    with writer_lock(tmp_path / "h.safetensors"):  # a normal lock is created and taken
        assert (tmp_path / ".h.safetensors.lock").is_file()
