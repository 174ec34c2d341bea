"""``pairsim score A B --model DIR [--top-k K] [--out FILE]``: image paths and texts, pairwise and ranked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim.model import PairModel
from pairsim.towers.cnn import CNNTower
from pairsim.towers.lstm import LSTMTower


def _rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = text.splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def test_score_image_pairs(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    a, b = digit_pngs[:6], digit_pngs[6:12]
    result = cli(
        "score",
        write_lines("a.txt", [d.path for d in a]),
        write_lines("b.txt", [d.path for d in b]),
        "--model",
        model_dir,
        "--device",
        "cpu",
    )
    assert result.code == 0, result.err
    header, rows = _rows(result.out)
    assert header == ["score", "same"] and len(rows) == 6

    model = PairModel.from_pretrained(model_dir)
    expected = model.score([d.array for d in a], [d.array for d in b])  # the arrays the PNGs were saved from
    assert [float(r[0]) for r in rows] == pytest.approx(expected.tolist(), abs=2e-6)
    same = model.is_similar(expected)
    for row, decided, value in zip(rows, same.tolist(), expected.tolist(), strict=True):
        if abs(value - model.config.threshold) > 1e-5:  # within float32 noise of the threshold either side is right
            assert row[1] == ("same" if decided else "different")


def test_score_out_writes_the_same_table_to_a_file(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path
) -> None:
    a = write_lines("a.txt", [d.path for d in digit_pngs[:4]])
    b = write_lines("b.txt", [d.path for d in digit_pngs[4:8]])
    printed = cli("score", a, b, "--model", model_dir)
    written = cli("score", a, b, "--model", model_dir, "--out", tmp_path / "scores.tsv")
    assert written.code == 0 and written.out == ""
    assert (tmp_path / "scores.tsv").read_text() == printed.out
    assert not list(tmp_path.glob(".*.tmp"))


def test_top_k_ranks_every_b_line_for_each_a_line(
    model_dir: Path, digit_pngs: list[Any], write_lines: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    a, b = digit_pngs[:3], digit_pngs[3:10]  # 3 queries, 7 candidates: counts may differ with --top-k
    result = cli(
        "score",
        write_lines("a.txt", [d.path for d in a]),
        write_lines("b.txt", [d.path for d in b]),
        "--model",
        model_dir,
        "--top-k",
        "2",
    )
    assert result.code == 0, result.err
    header, rows = _rows(result.out)
    assert header == ["a_line", "rank", "b_line", "score", "same"]
    assert [(r[0], r[1]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2"), ("3", "1"), ("3", "2")]

    model = PairModel.from_pretrained(model_dir)  # euclidean: lower is more similar
    dist = torch.cdist(model.encode_a([d.array for d in a]), model.encode_b([d.array for d in b]))  # (3, 7)
    for i in range(3):
        mine = [r for r in rows if r[0] == str(i + 1)]
        chosen = [int(r[2]) - 1 for r in mine]
        nearest = dist[i].sort().values  # (7,)
        assert [float(r[3]) for r in mine] == pytest.approx(nearest[:2].tolist(), abs=2e-5)
        assert dist[i][chosen].tolist() == pytest.approx(nearest[:2].tolist(), abs=2e-5)  # the 2 nearest, in order
        for rank, index in enumerate(chosen):  # and exactly argsort's lines wherever no float32 tie could swap them
            if min(abs(nearest[rank] - nearest[j]) for j in range(7) if j != rank) > 1e-4:
                assert index == int(dist[i].argsort()[rank])

    # K larger than B is cut to B
    result = cli(
        "score",
        write_lines("a1.txt", [a[0].path]),
        write_lines("b2.txt", [b[0].path, b[1].path]),
        "--model",
        model_dir,
        "--top-k",
        "5",
    )
    assert result.code == 0 and len(result.out.splitlines()) == 1 + 2


def test_repeated_lines_are_encoded_once(
    model_dir: Path,
    digit_pngs: list[Any],
    write_lines: Callable[..., Path],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    featurized: list[Any] = []
    real = CNNTower.featurize

    def spy(self: Any, items: Any) -> Any:
        featurized.extend(items)
        return real(self, items)

    monkeypatch.setattr(CNNTower, "featurize", spy)
    three = [d.path for d in digit_pngs[:3]]
    a = [three[i % 3] for i in range(30)]  # 30 lines, 3 distinct
    b = [digit_pngs[3].path] * 30
    result = cli("score", write_lines("a.txt", a), write_lines("b.txt", b), "--model", model_dir)
    assert result.code == 0, result.err
    assert sorted(featurized) == sorted([*three, digit_pngs[3].path])  # 3 distinct a-lines + 1 distinct b-line
    _, rows = _rows(result.out)
    assert len(rows) == 30 and all(rows[i] == rows[i % 3] for i in range(30))  # repeats get the same score


def test_score_texts(
    text_model_dir: Path,
    write_lines: Callable[..., Path],
    cli: Callable[..., Any],
    texts: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    featurized: list[str] = []
    real = LSTMTower.tokenize  # text towers tokenise in preprocess (featurize adds the training token cache)
    monkeypatch.setattr(LSTMTower, "tokenize", lambda self, items: featurized.extend(items) or real(self, items))
    a = [texts[0], texts[2], texts[0], texts[0]]
    b = [texts[1], texts[3], texts[1], "a brand new question?"]
    result = cli("score", write_lines("a.txt", a), write_lines("b.txt", b), "--model", text_model_dir)
    assert result.code == 0, result.err
    assert sorted(featurized) == sorted([texts[0], texts[2], texts[1], texts[3], "a brand new question?"])
    header, rows = _rows(result.out)
    assert header == ["score", "same"] and len(rows) == 4

    model = PairModel.from_pretrained(text_model_dir)
    expected = model.score(a, b).tolist()
    assert [float(r[0]) for r in rows] == pytest.approx(expected, abs=2e-6)
    for row, value in zip(rows, expected, strict=True):  # cosine, threshold 0.5 (a float32 tie may go either way)
        if abs(value - 0.5) > 1e-5:
            assert row[1] == ("same" if value >= 0.5 else "different")
    assert rows[0] == rows[2]


def test_score_without_a_threshold_prints_scores_only(
    make_model: Callable[..., Any],
    tmp_path: Path,
    write_lines: Callable[..., Path],
    cli: Callable[..., Any],
    texts: list[str],
) -> None:
    uncalibrated = make_model("lstm").save_pretrained(tmp_path / "uncalibrated")
    a, b = write_lines("a.txt", texts[:2]), write_lines("b.txt", texts[2:])
    header, rows = _rows(cli("score", a, b, "--model", uncalibrated).out)
    assert header == ["score"] and len(rows) == 2 and all(len(r) == 1 for r in rows)
    header, rows = _rows(cli("score", a, b, "--model", uncalibrated, "--top-k", "1").out)
    assert header == ["a_line", "rank", "b_line", "score"] and len(rows) == 2


def test_relative_image_paths_resolve_against_the_input_files_folder(
    model_dir: Path, digit_pngs: list[Any], cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``pair_table`` resolves a table's relative image paths against the table's folder."""
    folder = Path(digit_pngs[0].path).parent
    a, b = digit_pngs[:4], digit_pngs[4:8]
    relative = (folder / "rel_a.txt", folder / "rel_b.txt")
    for path, items in zip(relative, (a, b), strict=True):
        path.write_text("".join(f"{Path(d.path).name}\n" for d in items))
    absolute = (tmp_path / "abs_a.txt", tmp_path / "abs_b.txt")
    for path, items in zip(absolute, (a, b), strict=True):
        path.write_text("".join(f"{d.path}\n" for d in items))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the images' folder nor the model's
    by_name = cli("score", *relative, "--model", model_dir)
    assert by_name.code == 0, by_name.err
    assert by_name.out == cli("score", *absolute, "--model", model_dir).out


def test_empty_and_unknown_lines_get_one_warning_line_per_file(
    text_model_dir: Path, write_lines: Callable[..., Path], cli: Callable[..., Any], texts: list[str]
) -> None:
    a = write_lines("a.txt", ["", texts[0], "zebra quux"])
    b = write_lines("b.txt", ["", texts[1], "florp blarg"])
    result = cli("score", a, b, "--model", text_model_dir)
    assert result.code == 0
    warnings = result.err.splitlines()
    assert warnings == [
        f"pairsim: warning: {a}: 2 of 3 texts give the model nothing to read: 1 empty or blank (line 1), 1 with "
        "no word it knows (line 3); such texts encode alike, so their scores mean nothing (strict_text / "
        "--strict-text makes this an error)",
        warnings[1],
    ] and warnings[1].startswith(f"pairsim: warning: {b}: 2 of 3 texts")
    strict = cli("score", a, b, "--model", text_model_dir, "--strict-text")
    assert strict.code == 2 and strict.out == ""
    assert strict.err.startswith(f"pairsim: error: {a}: 2 of 3 texts") and len(strict.err.splitlines()) == 1
