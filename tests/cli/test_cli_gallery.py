"""``pairsim enroll`` / ``pairsim identify``: a gallery of identities (one folder each), extended without
retraining; each probe gets its best identity, or ``unknown`` past the model's threshold."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

from pairsim.errors import ConfigError
from pairsim.model import PairModel


def _people(
    root: Path, digits: list[Any], per_person: int = 2, classes: tuple[int, ...] = (0, 1, 2)
) -> dict[str, list[str]]:
    """``root/digit<c>/`` with ``per_person`` PNGs of digit ``c``, for each class: identity -> enrolled paths."""
    people: dict[str, list[str]] = {}
    for c in classes:
        folder = root / f"digit{c}"
        folder.mkdir(parents=True)
        for d in [d for d in digits if d.label == c][:per_person]:
            shutil.copy(d.path, folder)
            people.setdefault(folder.name, []).append(str(folder / Path(d.path).name))
    return people


def _gallery(path: Path) -> tuple[list[str], torch.Tensor]:
    with safe_open(path, framework="pt") as f:
        return json.loads(f.metadata()["identities"]), f.get_tensor("embeddings")


def _identified(out: str) -> list[tuple[str, str, float]]:
    """The rows of identify's TSV as (probe, identity, score); ``known`` must say whether identity names one."""
    lines = out.splitlines()
    assert lines[0] == "probe\tidentity\tscore\tknown\texact"
    rows = [line.split("\t") for line in lines[1:]]
    assert all(known == ("false" if who == "unknown" else "true") for _, who, _, known, _ in rows)
    assert all(exact == "true" for *_, exact in rows)  # a small gallery is searched exactly
    return [(p, who, float(score)) for p, who, score, _, _ in rows]


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def enrolled(model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path) -> dict[str, Any]:
    people = _people(tmp_path / "people", digit_pngs)
    gallery = tmp_path / "gallery.safetensors"
    result = cli("enroll", tmp_path / "people", "--model", model_dir, "--gallery", gallery)
    assert result.code == 0, result.err
    return {"people": people, "gallery": gallery, "out": result.out}


def test_enroll_writes_one_row_per_example(enrolled: dict[str, Any], model_dir: Path) -> None:
    assert enrolled["out"] == f"enrolled 3 identities (6 examples); gallery {enrolled['gallery']} holds 3 identities\n"
    names, rows = _gallery(enrolled["gallery"])
    people = enrolled["people"]
    assert names == [name for name in sorted(people) for _ in people[name]]
    model = PairModel.from_pretrained(model_dir)
    expected = model.encode_b([path for name in sorted(people) for path in people[name]])
    assert rows.shape == (6, model.tower_a.out_dim) and torch.allclose(rows, expected, atol=1e-6)


def test_identify_finds_the_enrolled_person(
    enrolled: dict[str, Any], model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any]
) -> None:
    people = enrolled["people"]
    enrolled_paths = {p for paths in people.values() for p in paths}
    # probes: an enrolled picture of each person, and new pictures of the same digits
    known = [people[name][0] for name in sorted(people)]
    new = [
        d.path
        for d in digit_pngs
        if d.label in (0, 1, 2) and Path(d.path).name not in {Path(p).name for p in enrolled_paths}
    ][:4]
    result = cli("identify", *known, *new, "--model", model_dir, "--gallery", enrolled["gallery"])
    assert result.code == 0, result.err
    rows = _identified(result.out)
    assert [r[0] for r in rows] == [*known, *new]
    for (_, who, score), name in zip(rows[:3], sorted(people), strict=True):
        assert who == name and score == pytest.approx(0.0, abs=1e-3)  # its own picture: distance 0

    # new pictures: the identity whose closest example is nearest, as the model itself ranks them
    model = PairModel.from_pretrained(model_dir)
    names, gallery = _gallery(enrolled["gallery"])
    dist = torch.cdist(model.encode_a(new), gallery)  # (P, N), euclidean: lower is more similar
    threshold = model.config.threshold
    for (probe, who, score), row in zip(rows[3:], dist, strict=True):
        best = int(row.argmin())
        nearest = float(row[best])
        assert score == pytest.approx(nearest, abs=1e-5)
        # The CLI encoded the probes in another batch: float32 noise (~1e-6) may swap identities that are tied
        # within 1e-4, or move a distance tied with the threshold across it. Every other case is exact.
        tied = {n for d, n in zip(row.tolist(), names, strict=True) if d - nearest <= 1e-4}
        allowed = ({names[best]} if len(tied) == 1 else tied) if nearest <= threshold else {"unknown"}
        if abs(nearest - threshold) <= 1e-4:
            allowed |= tied | {"unknown"}
        assert who in allowed, probe  # one identity, exactly as computed here, unless a float32 tie


def test_identify_says_unknown_when_nothing_is_close_enough(
    enrolled: dict[str, Any], model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    strict = PairModel.from_pretrained(model_dir)
    assert not strict.head.higher_is_similar  # a distance
    strict.config.threshold = -1.0  # below every distance: outside the head's score range, refused (issue 22)
    with pytest.raises(ConfigError, match="outside the euclidean head's score range"):
        strict.save_pretrained(tmp_path / "strict")
    strict.config.threshold = 0.0  # only a distance of exactly 0 matches
    strict.save_pretrained(tmp_path / "strict")
    probe = [d.path for d in digit_pngs if d.label == 1][2]  # a picture of digit 1 that was not enrolled
    result = cli("identify", probe, "--model", tmp_path / "strict", "--gallery", enrolled["gallery"])
    assert result.code == 0, result.err
    assert [(p, who) for p, who, _ in _identified(result.out)] == [(probe, "unknown")]


def test_enrolling_a_new_person_needs_no_retraining(
    enrolled: dict[str, Any], model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    model_before = _digest(model_dir)
    names_before, rows_before = _gallery(enrolled["gallery"])
    newcomer = _people(tmp_path / "newcomers", digit_pngs, classes=(3,))
    result = cli("enroll", tmp_path / "newcomers", "--model", model_dir, "--gallery", enrolled["gallery"])
    assert result.code == 0, result.err
    assert result.out.endswith(f"gallery {enrolled['gallery']} holds 4 identities\n")
    names, rows = _gallery(enrolled["gallery"])
    assert names == [*names_before, "digit3", "digit3"]
    assert torch.equal(rows[:6], rows_before)  # the people enrolled before are untouched
    assert _digest(model_dir) == model_before  # the model did not change

    probe = newcomer["digit3"][1]
    result = cli("identify", probe, "--model", model_dir, "--gallery", enrolled["gallery"])
    assert [who for _, who, _ in _identified(result.out)] == ["digit3"]

    # enrolling someone again replaces their examples instead of adding duplicates
    shutil.rmtree(tmp_path / "newcomers" / "digit3")
    again = _people(tmp_path / "newcomers", digit_pngs, per_person=3, classes=(3,))
    assert cli("enroll", tmp_path / "newcomers", "--model", model_dir, "--gallery", enrolled["gallery"]).code == 0
    names, _ = _gallery(enrolled["gallery"])
    assert names == [*names_before, *["digit3"] * len(again["digit3"])]


def test_gallery_errors(enrolled: dict[str, Any], model_dir: Path, cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "empty" / "nobody").mkdir(parents=True)
    result = cli("enroll", tmp_path / "empty", "--model", model_dir, "--gallery", tmp_path / "g.safetensors")
    assert result.code == 2
    assert (
        result.err == f"pairsim: error: enroll: {tmp_path / 'empty'}/nobody/ has no examples (images or .txt files)\n"
    )

    result = cli("identify", tmp_path / "missing.png", "--model", model_dir, "--gallery", enrolled["gallery"])
    assert result.code == 2
    assert result.err.startswith(f"pairsim: error: identify: probe file not found: {tmp_path / 'missing.png'}")

    result = cli("identify", enrolled["people"]["digit0"][0], "--model", model_dir, "--gallery", tmp_path / "none.st")
    assert result.code == 2 and result.err.startswith(f"pairsim: error: cannot read gallery {tmp_path / 'none.st'}")
    assert len(result.err.splitlines()) == 1


def _one_line(result: Any) -> str:
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pairsim: error: ") and "Traceback" not in result.err, result.err
    return lines[0].removeprefix("pairsim: error: ")


def test_a_gallery_of_another_model_is_refused(
    enrolled: dict[str, Any], model_dir: Path, cli: Callable[..., Any], tmp_path: Path
) -> None:
    other = PairModel.from_pretrained(model_dir)
    with torch.no_grad():
        next(other.tower_a.parameters()).add_(0.01)  # same architecture and size, other weights
    other.save_pretrained(tmp_path / "other")
    gallery = enrolled["gallery"]
    before = gallery.read_bytes()
    probe = enrolled["people"]["digit0"][0]
    expected = (
        f"gallery {gallery} was enrolled with another model (its fingerprint differs); use the model it was "
        "enrolled with, or enroll the people again with this one"
    )
    assert _one_line(cli("identify", probe, "--model", tmp_path / "other", "--gallery", gallery)) == expected
    people = tmp_path / "people"  # the enrolled fixture's folders
    assert _one_line(cli("enroll", people, "--model", tmp_path / "other", "--gallery", gallery)) == expected
    assert gallery.read_bytes() == before


def _write(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    from safetensors.torch import save_file

    save_file(tensors, path, metadata=metadata)
    return path


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("wrong-size", "embeddings of size {wrong}, but the model gives size {size}"),
        ("empty", "it is empty (enroll someone first)"),
        ("no-identities", "no identities in its metadata; expected a gallery written by pairsim enroll"),
        ("count-mismatch", "3 identities for 2 embeddings"),
        ("no-embeddings", "no 'embeddings' tensor (it holds ['rows']); expected a gallery written by pairsim enroll"),
        ("nan", "its embeddings hold NaN or infinite values"),
        ("no-fingerprint", "no model fingerprint (written by an older pairsim?); enroll the people again"),
        ("garbage", "not a safetensors file"),
        ("directory", "it is a directory (expected a .safetensors file written by pairsim enroll)"),
    ],
)
def test_broken_galleries_are_one_line(
    kind: str, problem: str, enrolled: dict[str, Any], model_dir: Path, cli: Callable[..., Any], tmp_path: Path
) -> None:

    model = PairModel.from_pretrained(model_dir)
    fingerprint, size = model.fingerprint(), model.tower_a.out_dim
    problem = problem.format(wrong=size + 1, size=size)
    meta = {"identities": json.dumps(["a", "b"]), "model_fingerprint": fingerprint}
    path = tmp_path / f"{kind}.safetensors"
    if kind == "wrong-size":
        _write(path, {"embeddings": torch.zeros(2, size + 1)}, meta)
    elif kind == "empty":
        _write(path, {"embeddings": torch.zeros(0, size)}, {**meta, "identities": "[]"})
    elif kind == "no-identities":
        _write(path, {"embeddings": torch.zeros(2, size)}, {"model_fingerprint": fingerprint})
    elif kind == "count-mismatch":
        _write(path, {"embeddings": torch.zeros(2, size)}, {**meta, "identities": json.dumps(["a", "b", "c"])})
    elif kind == "no-embeddings":
        _write(path, {"rows": torch.zeros(2, size)}, meta)
    elif kind == "nan":
        _write(path, {"embeddings": torch.full((2, size), float("nan"))}, meta)
    elif kind == "no-fingerprint":
        _write(path, {"embeddings": torch.zeros(2, size)}, {"identities": meta["identities"]})
    elif kind == "garbage":
        path.write_bytes(b"\x00\x01 not a gallery at all")
    else:
        path.mkdir()
    probe = enrolled["people"]["digit0"][0]
    message = _one_line(cli("identify", probe, "--model", model_dir, "--gallery", path))
    if kind == "directory":
        assert message == f"cannot read gallery {path}: {problem}"
        message = _one_line(cli("enroll", tmp_path / "people", "--model", model_dir, "--gallery", path))
        assert message == f"--gallery {path} is a directory; expected a .safetensors file name"
    else:
        assert message.startswith(f"cannot read gallery {path}: {problem}")


# -- issue 22: hidden folders, the name policy, unambiguous rows ----------------------------------------------
def test_enroll_skips_hidden_folders_and_files_with_one_note(
    model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    people = tmp_path / "people"
    _people(people, digit_pngs, per_person=1, classes=(0,))
    (people / ".ipynb_checkpoints").mkdir()
    shutil.copy(digit_pngs[5].path, people / ".ipynb_checkpoints" / "face-checkpoint.png")
    (people / "digit0" / "._face.png").write_bytes(b"\x00\x05\x16\x07 macOS resource fork, not an image")
    (people / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    gallery = tmp_path / "g.safetensors"
    result = cli("enroll", people, "--model", model_dir, "--gallery", gallery)
    assert result.code == 0, result.err
    assert result.err == (
        f"pairsim: note: enroll: skipped 3 hidden entries in {people}: .DS_Store, .ipynb_checkpoints/, "
        "digit0/._face.png (names starting with '.' are never classes or identities)\n"
    )
    assert _gallery(gallery)[0] == ["digit0"]


@pytest.mark.parametrize(
    ("folder", "problem"),
    [
        ("unknown", "'unknown': is the label identify prints for no match"),
        ("Unknown", "'Unknown': is the label identify prints for no match"),
        ("ann\tlee", "'ann\\tlee': holds a control character, U+0009 (tab)"),
        ("ann\nlee", "'ann\\nlee': holds a control character, U+000A (newline)"),
        ("a\u200dnn", "holds an invisible format character"),
        ("x" * 200, "is 200 characters long"),
    ],
)
def test_enroll_refuses_folder_names_the_name_policy_refuses(
    folder: str, problem: str, model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    people = tmp_path / "people"
    _people(people, digit_pngs, per_person=1, classes=(0,))
    (people / folder).mkdir()
    shutil.copy(digit_pngs[1].path, people / folder)
    gallery = tmp_path / "g.safetensors"
    message = _one_line(cli("enroll", people, "--model", model_dir, "--gallery", gallery))
    assert message.startswith(f"enroll: a folder in {people}: ") and problem in message
    assert not gallery.exists()


def test_identify_rows_stay_one_line_of_five_fields_whatever_the_probe_path(
    enrolled: dict[str, Any], model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    probes = []
    for i, name in enumerate(["tab\there.png", "new\nline.png", "back\\slash.png", "esc\x1b[2J.png"]):
        probes.append(tmp_path / name)
        shutil.copy(digit_pngs[i].path, probes[-1])
    result = cli("identify", *probes, "--model", model_dir, "--gallery", enrolled["gallery"])
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 5 and all(len(line.split("\t")) == 5 for line in lines)
    escaped = [str(tmp_path) + "/" + n for n in ["tab\\there.png", "new\\nline.png", "back\\\\slash.png",
                                                  "esc\\x1b[2J.png"]]  # fmt: skip
    assert [line.split("\t")[0] for line in lines[1:]] == escaped


NFC, NFD = "Jos\u00e9", "Jose\u0301"  # José, as one character and as e + combining acute: they show alike


def test_look_alike_spellings_are_one_identity_from_enroll_to_unenroll(
    model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    def folder(root: Path, name: str, i: int) -> Path:
        (root / name).mkdir(parents=True)
        shutil.copy(digit_pngs[i].path, root / name)
        return root

    gallery = tmp_path / "g.safetensors"
    twins = folder(folder(tmp_path / "twins", NFC, 0), NFD, 1)  # the probe's two folders: refused, naming both
    message = _one_line(cli("enroll", twins, "--model", model_dir, "--gallery", gallery))
    assert "'Jos\\xe9'" in message and "'Jose\\u0301'" in message and "spellings of one identity" in message
    assert not gallery.exists()
    selector = folder(tmp_path / "vs", "ann\ufe0f", 0)  # "ann" + a variation selector shows as "ann"
    assert "variation selector" in _one_line(cli("enroll", selector, "--model", model_dir, "--gallery", gallery))

    people = folder(folder(tmp_path / "people", NFD, 0), "ann", 1)  # a macOS folder name is NFD
    assert cli("enroll", people, "--model", model_dir, "--gallery", gallery).code == 0
    assert _gallery(gallery)[0] == [NFC, "ann"]  # stored in NFC form
    message = _one_line(
        cli("enroll", folder(tmp_path / "again", "JOSÉ", 2), "--model", model_dir, "--gallery", gallery)
    )
    assert "'JOSÉ': is another spelling of 'José', already enrolled" in message
    assert cli("enroll", folder(tmp_path / "nfc", NFC, 2), "--model", model_dir, "--gallery", gallery).code == 0
    assert _gallery(gallery)[0] == ["ann", NFC]  # the same spelling re-enrolled: replaced, not added

    result = cli("unenroll", NFD, "josé", "--gallery", gallery)  # two spellings of one identity: it goes once
    assert result.code == 0 and result.out.startswith("removed 1 identities (1 rows)"), result
    assert _gallery(gallery)[0] == ["ann"]
    assert "'Jose' is not in" in _one_line(cli("unenroll", "Jose", "--gallery", gallery))  # never another person
    probe = digit_pngs[1].path
    rows = _identified(cli("identify", probe, "--model", model_dir, "--gallery", gallery).out)
    assert [who for _, who, _ in rows] in (["ann"], ["unknown"])


def test_a_gallery_written_with_both_spellings_is_refused_and_unenroll_removes_the_exact_one(
    model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path
) -> None:
    from safetensors.torch import save_file

    model = PairModel.from_pretrained(model_dir, device="cpu")
    gallery = tmp_path / "g.safetensors"  # as an older pairsim wrote it, names as the folders spelled them
    rows = model.encode_b([d.path for d in digit_pngs[:3]])
    meta = {"identities": json.dumps([NFC, NFD, "ann"]), "model_fingerprint": model.fingerprint()}
    save_file({"embeddings": rows.contiguous()}, gallery, metadata=meta)
    message = _one_line(cli("identify", digit_pngs[0].path, "--model", model_dir, "--gallery", gallery))
    assert "identities 'Jos\\xe9' and 'Jose\\u0301' are spellings of one name" in message
    assert "could mean any of" in _one_line(cli("unenroll", "JOSÉ", "--gallery", gallery))  # ambiguous: nothing goes
    assert cli("unenroll", NFC, "--gallery", gallery).code == 0  # the exact spelling only
    assert _gallery(gallery)[0] == [NFC, "ann"]  # the NFD one is left, saved in NFC form
    assert cli("identify", digit_pngs[0].path, "--model", model_dir, "--gallery", gallery).code == 0
