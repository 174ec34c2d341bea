"""Start-up: a command imports only what its model needs (benchmarks/startup.py measures the time it saves).

Each check runs in a fresh interpreter (``sys.modules`` of this test process holds whatever other tests loaded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HEAVY = ["transformers", "torchvision", "sentence_transformers", "datasets", "pandas", "sklearn", "matplotlib", "scipy"]


def loaded_after(code: str, cwd: Path) -> dict[str, bool]:
    """Run ``code`` in a fresh interpreter; which of the heavy libraries (and torch) it left in ``sys.modules``."""
    report = f"\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {[*HEAVY, 'torch']!r}}}))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code + report], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_pairsim_and_the_command_line_load_no_torch(tmp_path: Path) -> None:
    loaded = loaded_after("import pairsim, pairsim.cli\npairsim.cli.build_parser()", tmp_path)
    assert not any(loaded.values()), loaded


def test_the_registries_name_every_tower_without_importing_one(tmp_path: Path) -> None:
    code = (
        "from pairsim import TOWERS, HEADS\n"
        "assert set(TOWERS.names()) >= {'cnn', 'lstm', 'mlp', 'timm', 'torchvision', 'transformer'}\n"
        "assert 'transformer' in TOWERS and 'cosine' in HEADS"
    )
    loaded = loaded_after(code, tmp_path)
    assert not any(loaded[m] for m in HEAVY), loaded


def test_scoring_with_a_cnn_loads_neither_transformers_nor_torchvision(
    make_model: Callable[..., Any], tmp_path: Path
) -> None:
    """``pairsim score`` of two image pairs with a saved CNN model: torch, and none of the heavy libraries."""
    from PIL import Image

    make_model("cnn", head="euclidean").save_pretrained(tmp_path / "model")
    for i in range(4):
        Image.new("L", (8, 8), 40 * i).save(tmp_path / f"d{i}.png")
    (tmp_path / "a.txt").write_text("d0.png\nd1.png\n")
    (tmp_path / "b.txt").write_text("d2.png\nd3.png\n")
    code = (
        "from pairsim.cli import main\n"
        "assert main(['score', 'a.txt', 'b.txt', '--model', 'model', '--device', 'cpu']) == 0"
    )
    loaded = loaded_after(code, tmp_path)
    assert loaded["torch"] and not any(loaded[m] for m in HEAVY), loaded


def test_a_text_model_loads_no_torchvision(make_model: Callable[..., Any], tmp_path: Path) -> None:
    """An LSTM text model needs torch alone: neither torchvision nor transformers nor the data libraries.

    (A ``transformer`` tower imports transformers, and transformers 5 itself imports torchvision and sklearn
    whenever they are installed, from its modeling_utils and generation modules: not pairsim's to avoid.)
    """
    make_model("lstm").save_pretrained(tmp_path / "model")
    code = (
        "from pairsim import PairModel\n"
        "model = PairModel.from_pretrained('model')\n"
        "assert model.score(['how old are you'], ['what is your age']).shape == (1,)"
    )
    loaded = loaded_after(code, tmp_path)
    assert loaded["torch"] and not any(loaded[m] for m in HEAVY), loaded
