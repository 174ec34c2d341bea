"""``pairsim enroll --index`` records an approximate index beside the gallery; ``identify`` says whether its
search was exact; ``unenroll`` tombstones rows of that index, which are never returned again."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsim.cli import main
from pairsim.gallery import read_gallery
from pairsim.search.index_file import index_path

pytest.importorskip("faiss", reason="the faiss extra is not installed: pip install 'pairsim[faiss]'")

TEXTS = {
    "ann": "how old are you",
    "bob": "the cat sat on the mat",
    "cy": "a dog runs in the park",
    "dee": "what time is it now",
    "eve": "I like green apples",
}


def test_cli_enroll_records_the_index_and_identify_says_whether_it_was_exact(
    text_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = tmp_path / "people"
    for name, text in TEXTS.items():
        (people / name).mkdir(parents=True)
        (people / name / "x.txt").write_text(text + "\n", encoding="utf-8")
    gallery = tmp_path / "g.safetensors"
    common = ["--model", str(text_model_dir), "--gallery", str(gallery)]
    assert main(["enroll", str(people), *common, "--index", "hnsw", "--on-disk"]) == 0
    saved = read_gallery(gallery)
    assert saved.search["index"] == "hnsw" and saved.search["on_disk"] and index_path(gallery).is_file()
    capsys.readouterr()
    assert main(["identify", "--text", TEXTS["eve"], *common]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split("\t")[-1] == "exact" and row.split("\t")[1:2] == ["eve"] and row.endswith("\tfalse")
    assert main(["identify", "--text", TEXTS["eve"], *common, "--index", "exact"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("\ttrue")
    assert main(["unenroll", "eve", "--gallery", str(gallery)]) == 0
    assert main(["enroll", str(people / "ann"), *common]) == 2  # not a folder of identities: nothing changes
    capsys.readouterr()
    assert main(["identify", "--text", TEXTS["eve"], *common]) == 0
    assert capsys.readouterr().out.splitlines()[1].split("\t")[1] != "eve"


def test_the_index_choices_are_the_searchs_backends() -> None:
    from pairsim.cli.gallery import INDEX_CHOICES
    from pairsim.search.index import BACKENDS

    assert INDEX_CHOICES == BACKENDS  # spelled out in the CLI so that building its parser imports no torch
