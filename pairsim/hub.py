"""Saving and loading pair models in the Hugging Face layout: ``config.json`` + ``model.safetensors``.

A saved directory holds:

* ``config.json``: format version and the full model config, every tower's config inline (a
  transformer's backbone config included), so loading fetches nothing;
* ``model.safetensors``: the weights (tied tower weights once), no pickle;
* ``tower_a/``, ``tower_b/``: tokenizer / vocabulary files;
* ``README.md``: a model card.

Saving writes a new directory beside the target and swaps it in, so a crash mid-save never leaves a
half-written model where a good one was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pairsim.config import to_dict
from pairsim.errors import ConfigError, ModelFileError

if TYPE_CHECKING:
    from pairsim.model import PairModel

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def _tower_dirs(model: PairModel) -> list[tuple[str, Any]]:
    return [("tower_a", model.tower_a)] + ([] if model.tower_b is None else [("tower_b", model.tower_b)])


def save_pretrained(model: PairModel, directory: str | Path, *, metrics: dict[str, Any] | None = None) -> Path:
    """Save ``model`` to ``directory`` (created or replaced as a whole). Returns the directory."""
    from pairsim import __version__

    target = Path(directory).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        config = {
            "format_version": FORMAT_VERSION,
            "pairsim_version": __version__,
            "model": to_dict(model.config),
        }
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, tmp / WEIGHTS_FILE, metadata={"format": "pt"})
        for sub, tower in _tower_dirs(model):
            (tmp / sub).mkdir()
            tower.save_assets(tmp / sub)
        (tmp / "README.md").write_text(model_card(model, metrics))
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _swap_in(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new``; the old one is removed only once the new one is in place."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def resolve(name_or_path: str | Path, *, revision: str | None = None) -> Path:
    """A local directory for ``name_or_path``: the directory itself, or a hub snapshot downloaded once.

    Raises:
        ModelFileError: Neither a local model directory nor a reachable hub id.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ModelFileError(f"no saved pairsim model at {name!r} (expected a directory with {CONFIG_FILE})")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, revision=revision))
    except Exception as err:  # offline, unknown repo, auth: all mean "cannot get it"
        raise ModelFileError(
            f"{name!r} is not a local directory and could not be fetched from the hub: {err}"
        ) from None


def load_pretrained(
    cls: type[PairModel], name_or_path: str | Path, *, device: str | None = None, revision: str | None = None
) -> PairModel:
    """Rebuild a saved model: config -> towers (no pretrained downloads) -> assets -> strict weights."""
    from pairsim.model import PairModelConfig

    root = resolve(name_or_path, revision=revision)
    config_path = root / CONFIG_FILE
    if not config_path.is_file():
        raise ModelFileError(f"{config_path} not found: not a saved pairsim model")
    try:
        saved = json.loads(config_path.read_text())
    except ValueError as err:
        raise ModelFileError(f"{config_path} is not valid JSON: {err}") from None
    version = saved.get("format_version") if isinstance(saved, dict) else None
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION or "model" not in saved:
        raise ModelFileError(
            f"{config_path}: unsupported format_version {version!r} (this pairsim reads <= {FORMAT_VERSION})"
        )
    try:
        config = PairModelConfig.from_dict(saved["model"], where=f"{config_path.name}:model")
    except ConfigError as err:
        raise ModelFileError(str(err)) from None
    model = cls(config)
    for sub, tower in _tower_dirs(model):
        tower.load_assets(root / sub)
    weights = root / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{weights} not found")
    try:
        state = load_file(weights)
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(f"{weights} is corrupted or not a safetensors file: {err}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise ModelFileError(
            f"{weights} does not match {CONFIG_FILE}: missing {missing[:5]}, unexpected {unexpected[:5]}, "
            f"wrong shape {wrong[:5]}"
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    return model.to(device) if device else model


def model_card(model: PairModel, metrics: dict[str, Any] | None = None) -> str:
    """A short README.md describing the model, its direction and threshold, and how to use it."""
    c = model.config
    towers = (
        f"tied `{c.tower.name}` tower (siamese)"
        if model.tied
        else (
            f"untied towers: `{c.tower.name}` for side a, `{c.tower_b.name}` for side b (pseudo-siamese)"  # type: ignore[union-attr]
        )
    )
    direction = "higher = more similar" if model.head.higher_is_similar else "lower = more similar (a distance)"
    lines = [
        "---", "library_name: pairsim", "tags: [pairsim, similarity, siamese]", "---", "",
        "# pairsim pair model", "",
        f"- Towers: {towers}, embeddings of size {model.tower_a.out_dim}.",
        f"- Head: `{c.head.name}` ({direction}).",
        f"- Decision threshold: {c.threshold if c.threshold is not None else 'not calibrated'}"
        " (chosen on the validation split). Label 1 = similar.",
        "", "## Use", "", "```python", "from pairsim import PairModel", "",
        'model = PairModel.from_pretrained("path/to/this/dir")',
        "scores = model.score(inputs_a, inputs_b)", "same = model.is_similar(scores)", "```", "",
        "or `pairsim score a.txt b.txt --model path/to/this/dir`.",
    ]  # fmt: skip
    if metrics:
        lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
    return "\n".join(lines) + "\n"
