"""Shared fixtures of the test suite: tiny component configs, sample inputs, a tiny local BERT.

No test reaches a model hub: the hub is switched off for the whole session before anything imports
``huggingface_hub``, and transformer towers use a tiny random BERT written to a temporary directory
(with the real all-MiniLM-L6-v2 tokenizer from ``../shared``; the tests that need it are skipped, with a
reason, where ``../shared`` is absent). Real data and weights are found in ``$PAIRSIM_SHARED_DIR`` or
``<repo>/../shared``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: its constants are read once
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the models here are tiny: one intra-op thread is faster than two spinning on shared CI cores (~40% less time)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PAIRSIM_SHARED_DIR") or REPO.parent / "shared")
MINILM = SHARED / "models" / "all-MiniLM-L6-v2"
EFFICIENTNET_LITE0 = SHARED / "models" / "efficientnet_lite0" / "model.safetensors"

# The smallest config of every registered tower that still runs its real code path. A tower registered
# without a row here fails tests/towers/test_tower_contract.py::test_every_tower_has_a_tiny_config.
# The transformer's "model" is filled in with the tiny BERT directory by the ``tower_config`` fixture.
# Test modules get these through fixtures (``tower_config``, ``texts``, ...), never ``from conftest import``:
# other test folders may have a conftest.py of their own, and the module name "conftest" is then ambiguous.
TINY_TOWER_CONFIGS: dict[str, dict[str, Any]] = {
    "cnn": {"name": "cnn", "arch": "koch", "width": 0.25, "out_dim": 8, "image_size": [72, 72]},
    "lstm": {"name": "lstm", "embed_dim": 8, "hidden_dim": 8},
    "mlp": {"name": "mlp", "hidden": [8], "out_dim": 8, "image_size": [12, 12]},
    "timm": {"name": "timm", "model": "efficientnet_lite0", "out_dim": 8, "image_size": [64, 64]},
    "torchvision": {"name": "torchvision", "model": "resnet18", "out_dim": 8, "image_size": [64, 64]},
    "transformer": {"name": "transformer", "model": None, "out_dim": 8},
    "pair_tokens": {"name": "pair_tokens", "model": None, "max_length": 16},  # a cross-encoder's side (token ids)
}
TEXTS = [
    "How old are you?",
    "what is your age",
    "The cat sat on the mat.",
    "a dog runs in the park",
]


def image_items() -> list[Any]:
    """Four images of different sizes and kinds (the towers resize and convert them)."""
    rng = np.random.default_rng(0)
    return [
        rng.random((40, 48, 3)),  # float numpy array in [0, 1], (H, W, C)
        rng.random((30, 30)) > 0.5,  # bool numpy array, (H, W)
        torch.rand(3, 50, 44, generator=torch.Generator().manual_seed(0)),  # tensor (C, H, W)
        Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)),  # PIL RGB image
    ]


def write_pngs(directory: Path, n: int = 3, size: int = 40) -> list[str]:
    """``n`` random RGB PNG files in ``directory``; returns their paths."""
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        path = directory / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (size, size + i, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    if not (MINILM / "config.json").is_file():
        pytest.skip(f"all-MiniLM-L6-v2 not found at {MINILM} (set PAIRSIM_SHARED_DIR)")
    return MINILM


@pytest.fixture(scope="session")
def efficientnet_lite0_weights() -> Path:
    if not EFFICIENTNET_LITE0.is_file():
        pytest.skip(f"EfficientNet-Lite0 weights not found at {EFFICIENTNET_LITE0} (set PAIRSIM_SHARED_DIR)")
    return EFFICIENTNET_LITE0


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer, 32-wide BERT saved as a local model directory, with MiniLM's tokenizer."""
    if not (MINILM / "tokenizer_config.json").is_file():
        pytest.skip(f"the all-MiniLM-L6-v2 tokenizer is needed for the tiny BERT, not found at {MINILM}")
    from transformers import AutoTokenizer, BertConfig, BertModel

    directory = tmp_path_factory.mktemp("tiny-bert")
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    with torch.random.fork_rng():  # the same tiny BERT every run, without touching the tests' random state
        torch.manual_seed(0)
        BertModel(cfg).save_pretrained(directory)
    AutoTokenizer.from_pretrained(MINILM, trust_remote_code=False).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_tower_configs() -> dict[str, dict[str, Any]]:
    """The TINY_TOWER_CONFIGS table (a copy), for the test that every registered tower has a row."""
    return copy.deepcopy(TINY_TOWER_CONFIGS)


@pytest.fixture
def tower_config(request: pytest.FixtureRequest) -> Callable[..., dict[str, Any]]:
    """``tower_config(name, **overrides)``: a fresh copy of the tiny config of tower ``name`` as plain data,
    with ``overrides`` applied (e.g. ``tower_config("cnn", arch="face", image_size=[32, 32])``)."""

    def make(name: str, **overrides: Any) -> dict[str, Any]:
        data = copy.deepcopy(TINY_TOWER_CONFIGS[name])
        if name in ("transformer", "pair_tokens") and data.get("model") is None:
            data["model"] = str(request.getfixturevalue("tiny_bert_dir"))
        data.update(overrides)
        return data

    return make


@pytest.fixture
def texts() -> list[str]:
    """Four short texts (two paraphrases, two unrelated)."""
    return list(TEXTS)


@pytest.fixture
def images() -> list[Any]:
    """Four images of different sizes and kinds: float and bool numpy arrays, a tensor and a PIL image."""
    return image_items()


@pytest.fixture
def pngs(tmp_path: Path) -> Callable[..., list[str]]:
    """``pngs(n=3, size=40)``: paths of ``n`` random RGB PNG files written under ``tmp_path``."""
    return lambda n=3, size=40: write_pngs(tmp_path, n, size)


@pytest.fixture
def sample_items() -> Callable[[str], list[Any]]:
    """``sample_items(modality)``: the four texts or the four images."""
    return lambda modality: list(TEXTS) if modality == "text" else image_items()


@pytest.fixture
def make_model(tower_config: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """``make_model(tower, head=..., tower_b=None, ...)``: a tiny PairModel, vocabularies adapted on TEXTS
    and pretrained backbones loaded (the tiny BERT), seeded so it is the same model every time; a tower giving
    token ids (``pair_tokens``) gets the ``cross_encoder`` head on the tiny BERT unless ``head`` is given."""
    from pairsim.model import PairModel

    def make(
        tower: str, *, head: str | dict[str, Any] = "cosine", tower_b: str | None = None, **model_fields: Any
    ) -> PairModel:
        from pairsim.towers import TOWERS

        if head == "cosine" and TOWERS.get(tower).gives == "tokens":  # a cross-encoder's side: its head reads tokens
            head = {"name": "cross_encoder", "model": tower_config(tower)["model"]}
        data: dict[str, Any] = {
            "tower": tower_config(tower),
            "head": {"name": head} if isinstance(head, str) else head,
            **model_fields,
        }
        if tower_b is not None:
            data["tower_b"] = tower_config(tower_b)
        torch.manual_seed(0)  # after tower_config, which may build the tiny BERT (drawing random numbers)
        model = PairModel.from_config(data, pretrained=False)
        model.adapt(TEXTS, TEXTS)
        model.load_pretrained()  # after adapt, as training does
        return model

    return make


@pytest.fixture
def rehash() -> Callable[[Path], None]:
    """``rehash(saved)``: record the current sha256 of every file of a saved model in its config.json, as an
    attacker who can edit config.json (or an older save) would leave it consistent."""

    def run(saved: Path) -> None:
        config = json.loads((saved / "config.json").read_text())
        config["sha256"] = {
            p.relative_to(saved).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(saved.rglob("*"))
            if p.is_file() and p.name not in ("config.json", "README.md")
        }
        (saved / "config.json").write_text(json.dumps(config))

    return run
