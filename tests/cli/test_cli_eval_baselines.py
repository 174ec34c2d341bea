"""Baselines without training: ``pairsim eval --untrained RECIPE`` and ``pairsim eval ST_DIR RECIPE`` (an
off-the-shelf sentence-transformers directory evaluated as a tied transformer tower + cosine head)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ANIMALS = ["cat", "dog", "horse", "bird", "fish", "cow", "goat", "sheep", "duck", "frog"]


def _text_recipe(tmp_path: Path, minilm: Path) -> Path:
    """A tiny text-pair table (paraphrase = 1) and a recipe naming MiniLM, untrained, with a cosine head."""
    lines = ["left,right,same"]
    for i, animal in enumerate(ANIMALS * 3):
        other = ANIMALS[(i + 3) % len(ANIMALS)]
        lines.append(f"the {animal} sleeps {i},a {animal} is sleeping {i},1")
        lines.append(f"the {animal} runs {i},the {other} swims away {i},0")
    table = tmp_path / "pairs.csv"
    table.write_text("\n".join(lines) + "\n")
    recipe = {
        "model": {"tower": {"name": "transformer", "model": str(minilm)}, "head": {"name": "cosine"}},
        "loss": {"name": "contrastive"},
        "data": {"name": "pair_table", "path": str(table), "column_a": "left", "column_b": "right", "label": "same",
                 "cache_dir": str(tmp_path / "hf")},
        "train": {"device": "cpu", "speed": {"threads": 1}},
        "eval": {"plots": False, "batch_size": 16},
        "output_dir": str(tmp_path / "run"),
    }  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_untrained_recipe_and_sentence_transformers_dir_give_the_same_metrics(
    tmp_path: Path, minilm_path: Path, cli: Callable[..., Any]
) -> None:
    recipe = _text_recipe(tmp_path, minilm_path)
    untrained = cli("eval", "--untrained", recipe, "--out", tmp_path / "untrained")
    assert untrained.code == 0, untrained.err
    encoder = cli("eval", minilm_path, recipe, "--out", tmp_path / "encoder")
    assert encoder.code == 0, encoder.err
    note = [line for line in encoder.err.splitlines() if line.startswith("pairsim: note:")]
    assert len(note) == 1
    assert "tied transformer tower (mean pooling, L2-normalised" in note[0] and "cosine head" in note[0]
    assert "threshold is calibrated on the recipe's validation split" in note[0]
    a = json.loads((tmp_path / "untrained" / "metrics.json").read_text())
    b = json.loads((tmp_path / "encoder" / "metrics.json").read_text())
    assert a == b and a["roc_auc"] > 0.5  # MiniLM tells paraphrases from unrelated sentences


def test_untrained_digits_recipe_writes_metrics_and_plots(tmp_path: Path, cli: Callable[..., Any]) -> None:
    repo = Path(__file__).resolve().parents[2]
    result = cli("eval", "--untrained", repo / "recipes" / "digits_pairs.yaml", "model.tower.width=0.25",
                 "eval.episodes=0", "eval.pairs=40", f"output_dir={tmp_path / 'run'}", "--threads", "1")  # fmt: skip
    assert result.code == 0, result.err
    out = tmp_path / "run" / "eval-untrained"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_pairs"] == 40 and metrics["threshold"] is not None
    assert (out / "test_roc.png").stat().st_size > 1000
    assert not (tmp_path / "run" / "model").exists()  # nothing trained, nothing saved as a model
