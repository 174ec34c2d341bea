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
