"""The one name policy for identities (issue 22): the same rule for enroll folders, the service and the API."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pairsim.errors import DataError, ModelFileError
from pairsim.gallery import Gallery, read_gallery, save_gallery
from pairsim.names import MAX_NAME_LENGTH, check_identity, identity_problem
from pairsim.search import GalleryIndex

GOOD = ["ann", "Ann Lee", "José", "李雷", "s7", "o'brien", "x" * MAX_NAME_LENGTH, "unknown person", "😀"]
BAD = {
    "": "is empty",
    "   ": "is only whitespace",
    "x" * (MAX_NAME_LENGTH + 1): f"is {MAX_NAME_LENGTH + 1} characters long",
    "x" * 9_000_000: "is 9000000 characters long",  # the 9 MB names over HTTP
    "ann\tlee": "holds a control character, U+0009 (tab)",
    "ann\nlee": "holds a control character, U+000A (newline)",
    "ann\x00": "holds a control character, U+0000 (NUL)",
    "\x1b[31mred": "holds a control character, U+001B (escape)",
    "a\u200bnn": "holds an invisible format character (zero-width, byte-order mark or bidirectional control), "
    "U+200B (zero width space)",
    "\u202enna": "U+202E (right-to-left override)",
    "ann\u2066": "U+2066 (left-to-right isolate)",
    "\ufeffann": "U+FEFF (zero width no-break space)",
    "ann\u2028lee": "holds a line separator, U+2028",
    "ann\u00a0lee": "holds a space other than the plain space U+0020, U+00A0 (no-break space)",
    "\u3164": "holds an invisible filler character, U+3164 (hangul filler)",
    "ann ": "starts or ends with a space",
    " ann": "starts or ends with a space",
    "unknown": "is the label identify prints for no match",
    "UNKNOWN": "is the label identify prints for no match",
    "\uff55\uff4e\uff4b\uff4e\uff4f\uff57\uff4e": "is the label identify prints for no match",  # full-width
}


@pytest.mark.parametrize("name", GOOD)
def test_valid_names_pass_unchanged(name: str) -> None:
    assert identity_problem(name) is None and check_identity(name) == name


@pytest.mark.parametrize("name, problem", list(BAD.items()), ids=[repr(n[:12]) for n in BAD])
def test_invalid_names_are_one_line_naming_the_problem(name: str, problem: str) -> None:
    with pytest.raises(DataError) as info:
        check_identity(name, where="enroll: identity")
    message = str(info.value)
    assert problem in message and message.startswith("enroll: identity ") and "\n" not in message
    assert len(message) < 400  # a 9 MB name is quoted by a prefix only
    assert f"expected a name of 1 to {MAX_NAME_LENGTH} visible characters" in message


def test_non_text_is_refused() -> None:
    with pytest.raises(DataError, match="identity int: is a int, not text"):
        check_identity(7)


def _gallery(names: list[str]) -> Gallery:
    return Gallery(names=names, embeddings=torch.ones(len(names), 4), fingerprint="f00d")


@pytest.mark.parametrize("name", ["unknown", "ann\tlee", "a\u200bnn", "x" * 200])
def test_save_gallery_refuses_a_bad_name_and_keeps_the_file(name: str, tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    save_gallery(path, _gallery(["ann"]))
    before = path.read_bytes()
    with pytest.raises(DataError, match=r"^identity '"):
        save_gallery(path, _gallery(["ann", name]))
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["g.safetensors"]


def test_a_gallery_written_with_a_bad_name_says_which_and_unenroll_can_remove_it(tmp_path: Path) -> None:
    import json

    from safetensors.torch import save_file

    from pairsim.cli import main

    path = tmp_path / "g.safetensors"  # as an older pairsim (or a hand-made file) wrote it
    meta = {"identities": json.dumps(["ann", "Unknown", "ann\nlee"]), "model_fingerprint": "f00d"}
    save_file({"embeddings": torch.ones(3, 4)}, path, metadata=meta)
    with pytest.raises(ModelFileError) as info:
        read_gallery(path)
    assert str(info.value) == (
        f"cannot read gallery {path}: identity 'Unknown' is the label identify prints for no match (remove it with "
        "pairsim unenroll, then enroll it again under a valid name)"
    )
    assert main(["unenroll", "Unknown", "ann\nlee", "--gallery", str(path)]) == 0
    assert read_gallery(path).names == ["ann"]


def test_the_in_memory_gallery_of_the_service_refuses_bad_names() -> None:
    from pairsim.heads import HEADS

    head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
    index = GalleryIndex(["ann"], torch.ones(1, 4), head=head, threshold=0.5)
    with pytest.raises(DataError, match="enroll: identity 'unknown': is the label identify prints for no match"):
        index.add("unknown", torch.ones(1, 4))
    assert index.names == ["ann"]
