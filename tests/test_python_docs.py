"""docs/python.md runs as written: its ``python`` blocks are executed in order, in one namespace, in a fresh
working folder (their ``runs/...`` output directories land there), with ``PAIRSIM_DATA_DIR`` pointing at the
shipped data; each example's run directory is checked afterwards."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "python.md"
RUNS = ["mrpc_python", "stsb_python", "digits_python", "captions_python", "omniglot_python"]


def python_blocks() -> list[str]:
    """The page's ```python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def _shared() -> Path:
    env = os.environ.get("PAIRSIM_DATA_DIR")
    data = Path(env) if env else REPO.parent / "shared" / "data"
    if not (data.is_dir() and (data.parent / "models" / "all-MiniLM-L6-v2").is_dir()):
        pytest.skip("the shipped data and MiniLM are not here (set PAIRSIM_DATA_DIR to ../shared/data)")
    return data.resolve()


def test_the_page_has_one_example_per_task_kind() -> None:
    blocks = python_blocks()
    assert len(blocks) == 1 + len(RUNS)
    for run in RUNS:
        assert sum(f'"runs/{run}"' in block for block in blocks) == 1, run


def test_every_python_block_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _shared()
    monkeypatch.setenv("PAIRSIM_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "docs_python"}
    for number, block in enumerate(python_blocks()):
        exec(compile(block, f"docs/python.md block {number}", "exec"), namespace)  # the page's own code
    for run in RUNS:
        out = tmp_path / "runs" / run
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["steps"] == 4, run
        assert (out / "model" / "config.json").is_file() and (out / "recipe.yaml").is_file(), run
    assert 0.0 <= namespace["result"].metrics["test"]["oneshot_accuracy"] <= 1.0


def test_the_hf_dataset_recipe_block_reads_a_saved_stsb_copy(tmp_path: Path) -> None:
    import datasets
    import yaml

    from pairsim.recipe import Recipe

    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/python.md has no yaml block"
    data = yaml.safe_load(block.group(1))["data"]

    def rows(split: str) -> dict[str, list[Any]]:
        return {"sentence1": [f"{split} a{i}" for i in range(40)], "sentence2": [f"{split} b{i}" for i in range(40)],
                "score": [i / 40 for i in range(40)]}  # fmt: skip

    parts = datasets.DatasetDict({n: datasets.Dataset.from_dict(rows(n)) for n in ("train", "validation", "test")})
    parts.save_to_disk(str(tmp_path / "data" / "stsb"))
    recipe = Recipe.from_dict({"model": {"tower": {"name": "lstm"}}, "loss": {"name": "cosent"},
                               "data": {**data, "path": str(tmp_path / data["path"])}})  # fmt: skip
    from pairsim.data import load_dataset

    splits = load_dataset(recipe.data)
    scores = rows("validation")["score"]
    assert splits.val.a == rows("validation")["sentence1"] and len(splits.train) == 40
    assert splits.val.scores == scores and splits.val.labels == [float(s >= 0.8) for s in scores]
