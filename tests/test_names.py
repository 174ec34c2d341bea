"""The one name policy for identities (issue 22): the same rule for enroll folders, the service and the API."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import torch

from pairsim.errors import DataError, ModelFileError
from pairsim.gallery import Gallery, read_gallery, save_gallery
from pairsim.names import (
    MAX_NAME_LENGTH,
    check_identity,
    check_new_identity,
    find_identity,
    identity_key,
    identity_problem,
    skeleton,
)
from pairsim.search import GalleryIndex

GOOD = ["ann", "Ann Lee", "José", "李雷", "s7", "o'brien", "x" * MAX_NAME_LENGTH, "unknown person", "😀"]
# real names in several scripts, with their combining marks (Hindi vowel signs and virama, Hebrew points,
# Vietnamese stacked accents, Thai vowels and tone marks, Tamil, Korean, Arabic, Greek, Cyrillic, Armenian)
SCRIPTS = ["मनोज कुमार", "क्षत्रिय", "प्रियंका", "שָׁלוֹם", "יִצְחָק", "محمد", "فاطمة", "Nguyễn Thị Minh Khai",
           "สมชาย", "தமிழ்செல்வன்", "김민준", "山田太郎", "Ελένη", "Дмитрий", "Արամ", "Zoë", "Søren", "Ꮳ"]  # fmt: skip
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
    # look-alikes of "unknown" (probe finding 2): Cyrillic, Greek, Armenian and Cherokee letters read as Latin
    "unkn\u043ewn": "looks like 'unknown', the label identify prints for no match",  # Cyrillic o
    "UNKN\u041eWN": "looks like 'unknown'",  # Cyrillic capital O
    "U\u039d\u039aNOWN": "looks like 'unknown'",  # Greek capital Nu, Kappa
    "\u057dnkn\u0585wn": "looks like 'unknown'",  # Armenian seh, oh
    "UN\u13e6NO\u13b3N": "looks like 'unknown'",  # Cherokee tso, la
    "un\uabb6now\u0578": "looks like 'unknown'",  # Cherokee small tso, Armenian vo
    # invisible or mark-only names (probe finding 3)
    "ann\ufe0f": "holds a variation selector",
    "\u845b\U000e0100": "holds a variation selector (it shows as nothing, so the name looks like one without it), "
    "U+E0100",
    "\U000e0100": "holds a variation selector",
    "\ue000": "holds a private-use character",
    "ann\U000f0000": "holds a private-use character",
    "ann\u0378": "holds a character Unicode has not assigned, U+0378",
    "\u0301": "has no visible base character (only combining marks)",
    "\u0301\u0300": "has no visible base character",
    "\u0301ann": "starts with a combining mark, U+0301 (combining acute accent)",
    "A" + "\u0300" * 20: "holds more than 4 combining marks in a row",
}


@pytest.mark.parametrize("name", GOOD)
def test_valid_names_pass_unchanged(name: str) -> None:
    assert identity_problem(name) is None and check_identity(name) == name


@pytest.mark.parametrize("name", SCRIPTS)
def test_real_names_in_many_scripts_pass(name: str) -> None:
    assert identity_problem(name) is None and check_identity(name) == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize("name", ["true", "false", "True", "unknowns", "nknown", "\u043e\u043b\u044f", "Κώστας"])
def test_names_that_do_not_read_as_the_no_match_label_pass(name: str) -> None:
    assert identity_problem(name) is None


def test_the_look_alike_table_covers_the_letters_of_the_labels() -> None:
    assert skeleton("UNKN\u041eWN") == skeleton("\u057dnkn\u0585wn") == "unknown"
    assert skeleton("\u03a4\u0433\u057d\u0435") == "true"  # Greek Tau, Cyrillic ghe, Armenian seh, Cyrillic ie
    assert skeleton("\u03dc\u0430\u04cf\u0455\u0435") == "false"  # Greek digamma, Cyrillic a, palochka, dze, ie


def test_names_come_back_in_nfc_form_and_spellings_share_one_key() -> None:
    assert check_identity("Jose\u0301") == "Jos\u00e9" == check_identity("Jos\u00e9")
    assert identity_key("Jose\u0301") == identity_key("JOS\u00c9") == identity_key("jos\u00e9")
    assert identity_key("\ufb01ona") == identity_key("Fiona")  # the fi ligature
    assert identity_key("Jose") != identity_key("Jos\u00e9")  # no accent: another name


def test_find_identity_matches_the_stored_spelling_never_another_person() -> None:
    stored = ["Jos\u00e9", "ann", "Jose"]
    assert find_identity(stored, "Jose\u0301") == "Jos\u00e9" and find_identity(stored, "JOSÉ") == "Jos\u00e9"
    assert find_identity(stored, "Jose") == "Jose" and find_identity(stored, "ANN") == "ann"
    assert find_identity(stored, "bob") is None
    old = ["Jos\u00e9", "Jose\u0301"]  # an older gallery holding both: the exact one, else refused naming both
    assert find_identity(old, "Jose\u0301") == "Jose\u0301" and find_identity(old, "Jos\u00e9") == "Jos\u00e9"
    with pytest.raises(DataError, match=r"could mean any of 'Jos\\xe9', 'Jose\\u0301'"):
        find_identity(old, "jos\u00e9")


def test_enrolling_a_second_spelling_is_refused_naming_both() -> None:
    check_new_identity(["Jos\u00e9"], "Jos\u00e9")  # the same spelling: re-enrolled
    with pytest.raises(DataError) as info:
        check_new_identity(["Jos\u00e9", "ann"], "ANN")
    assert str(info.value).startswith("enroll: identity 'ANN': is another spelling of 'ann', already enrolled")


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


def test_the_in_memory_gallery_stores_nfc_refuses_a_second_spelling_and_removes_by_key() -> None:
    from pairsim.heads import HEADS

    head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
    index = GalleryIndex(["ann"], torch.ones(1, 4), head=head, threshold=0.5)
    index.add("Jose\u0301", torch.ones(2, 4))
    assert index.names == ["ann", "Jos\u00e9", "Jos\u00e9"]
    with pytest.raises(DataError, match="is another spelling of 'ann', already enrolled"):
        index.add("Ann", torch.ones(1, 4))
    with pytest.raises(DataError, match="holds a variation selector"):
        index.add("ann\ufe0f", torch.ones(1, 4))
    assert index.remove("JOSÉ") == 2 and index.names == ["ann"]
    with pytest.raises(DataError, match="is not enrolled"):
        index.remove("Jose")


def test_galleries_store_nfc_read_older_nfd_names_as_nfc_and_refuse_two_spellings(tmp_path: Path) -> None:
    import json

    from safetensors.torch import save_file

    path = tmp_path / "g.safetensors"
    save_gallery(path, _gallery(["Jose\u0301", "ann"]))
    assert read_gallery(path).names == ["Jos\u00e9", "ann"]
    with pytest.raises(DataError, match=r"identities 'Jos\\xe9' and 'Jose\\u0301' are spellings of one name"):
        save_gallery(path, _gallery(["Jos\u00e9", "Jose\u0301"]))
    meta = {"identities": json.dumps(["Jose\u0301", "ann"]), "model_fingerprint": "f00d"}  # an older file, NFD
    save_file({"embeddings": torch.ones(2, 4)}, path, metadata=meta)
    assert read_gallery(path).names == ["Jos\u00e9", "ann"]
    meta["identities"] = json.dumps(["Ann", "ann"])
    save_file({"embeddings": torch.ones(2, 4)}, path, metadata=meta)
    with pytest.raises(ModelFileError, match="identities 'Ann' and 'ann' are spellings of one name"):
        read_gallery(path)
    assert read_gallery(path, check_names=False).names == ["Ann", "ann"]  # what unenroll reads
