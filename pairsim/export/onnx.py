"""ONNX export, one graph per distinct tower: preprocessed inputs -> final embeddings.

``export_onnx(model, out)`` writes::

    out/pairsim_onnx.json   manifest: format version, the full model config, each side's graph and inputs
    out/head.json           the head: kind, direction, threshold, config and parameters (scores outside Python)
    out/tower_a.onnx        side a (and side b when the model is tied)
    out/tower_a/            the tower's tokenizer / vocabulary files (text towers)
    out/tower_b.onnx        side b of an untied model, with out/tower_b/
    out/head.onnx           a cross-encoder's transformer (the head's own network), joint input -> logits

Graphs include pooling, projection and normalisation and have a dynamic batch axis (and a dynamic sequence
axis for text). :mod:`pairsim.export.onnx_runtime` runs them with onnxruntime. With ``optimize`` (the default), a
tower that declares :meth:`~pairsim.towers.Tower.onnx_fusion` (transformers) gets onnxruntime's fused kernels
(:mod:`pairsim.export.onnx_optimize`); ``quantize="int8"`` then quantizes its matrix products.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from pairsim.config import to_dict
from pairsim.errors import ConfigError
from pairsim.export.target import check_target
from pairsim.manifest import sha256_bytes
from pairsim.safe_io import atomic_dir

if TYPE_CHECKING:
    from pairsim.model import PairModel
    from pairsim.towers import Tower

MANIFEST = "pairsim_onnx.json"
HEAD_FILE = "head.json"
HEAD_GRAPH = "head.onnx"  # the network inside a head (a cross-encoder's transformer), where it has one
FORMAT_VERSION = 1
OPSET = 17


class TowerGraph(nn.Module):
    """Positional inputs (in ``input_names`` order) -> ``tower(batch)``, as the exporters want."""

    def __init__(self, tower: Tower, input_names: list[str]) -> None:
        super().__init__()
        self.tower = tower
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.tower(dict(zip(self.input_names, inputs, strict=True)))  # (B, D)


def check_exportable(tower: Tower) -> None:
    """Raise ConfigError (one line) if ``tower``'s kind cannot be exported to ONNX."""
    if tower.onnx_unsupported:
        raise ConfigError(f"ONNX export: tower {tower.config.name!r} is not supported ({tower.onnx_unsupported})")


def sample_items(tower: Tower) -> list[Any]:
    """Two inputs of different lengths / sizes to trace a tower with (batch of 2, so no axis is fixed at 1)."""
    if tower.modality == "text":
        return ["a short text", "a somewhat longer text for tracing the graph"]
    return [np.zeros((40, 48, 3), dtype=np.float32), np.ones((30, 30, 3), dtype=np.float32)]


def _dynamic_axes(tower: Tower, batch: dict[str, torch.Tensor]) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {}
    for name, value in batch.items():
        axes[name] = {0: "batch", 1: "sequence"} if tower.modality == "text" and value.dim() == 2 else {0: "batch"}
    axes["embeddings"] = {0: "batch"}
    return axes


class Truncated(torch.nn.Module):
    """A tower graph whose output keeps the first ``dim`` dimensions, L2-renormalised when asked (``truncate_dim``)."""

    def __init__(self, graph: torch.nn.Module, dim: int, renormalise: bool) -> None:
        super().__init__()
        self.graph, self.dim, self.renormalise = graph, dim, renormalise
        self.input_names = getattr(graph, "input_names", None)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = self.graph(*inputs)[..., : self.dim]  # (B, dim)
        return torch.nn.functional.normalize(out, dim=-1) if self.renormalise else out


def export_tower(
    tower: Tower,
    path: Path,
    *,
    opset: int = OPSET,
    truncate_dim: int | None = None,
    renormalise: bool = False,
    optimize: bool = False,
) -> list[str]:
    """Export one tower to ``path``; returns the graph's input names (keys of ``tower.preprocess``'s batch).

    ``optimize``: fuse the graph with onnxruntime's transformer optimizer where the tower declares it
    (:meth:`~pairsim.towers.Tower.onnx_fusion`), keeping the fused graph only if it gives the same output on the
    tracing sample (:func:`pairsim.export.onnx_optimize.fuse`).

    Raises:
        ConfigError: The tower's kind cannot be exported.
    """
    check_exportable(tower)
    was_training = tower.training
    device = tower.device  # the graph is traced on the CPU; the tower goes back afterwards
    tower.eval()
    batch = {k: v.cpu() for k, v in tower.preprocess(sample_items(tower)).items()}
    graph = tower.onnx_graph()  # None: the tower's forward traces as written
    names = list(getattr(graph, "input_names", None) or batch)
    module = graph if graph is not None else TowerGraph(tower, names)
    if truncate_dim is not None:  # the graph gives what encode gives: the model's truncate_dim
        module = Truncated(module, truncate_dim, renormalise)
    module = module.cpu().eval()
    try:
        with warnings.catch_warnings(), tower.onnx_tracing():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow on fixed config values
            torch.onnx.export(
                module,
                tuple(batch[k] for k in names),
                str(path),
                input_names=names,
                output_names=["embeddings"],
                dynamic_axes=_dynamic_axes(tower, {k: batch[k] for k in names}),
                opset_version=opset,
                dynamo=False,  # the TorchScript exporter: seconds instead of minutes, and handles these towers
            )
    finally:
        tower.train(was_training)
        tower.to(device)
    fusion = tower.onnx_fusion() if optimize else None
    if fusion is not None:
        from pairsim.export.onnx_optimize import fuse

        fuse(path, fusion, {k: batch[k].numpy() for k in names})
    return names


def export_head_graph(model: PairModel, path: Path, *, opset: int = OPSET) -> list[str]:
    """Export the network inside the head (:meth:`~pairsim.heads.Head.onnx_graph`: a cross-encoder's
    transformer) to ``path``; returns its input names (dynamic batch and sequence axes)."""
    module, sample = model.head.onnx_graph()  # type: ignore[misc]
    was_training, device = model.head.training, model.device
    module = module.cpu().eval()
    names = list(sample)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                tuple(sample[k].cpu() for k in names),
                str(path),
                input_names=names,
                output_names=["logits"],
                dynamic_axes={**{k: {0: "batch", 1: "sequence"} for k in names}, "logits": {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    finally:
        model.head.train(was_training)
        model.head.to(device)
    return names


def head_spec(model: PairModel) -> dict[str, Any]:
    """What a runtime needs to score two embeddings: kind, direction, threshold, config and parameters (those of
    a head with a graph of its own live in that graph, :data:`HEAD_GRAPH`)."""
    head = model.head
    graph = head.onnx_graph() is not None
    return {
        "kind": model.config.head.name,
        "higher_is_similar": head.higher_is_similar,
        "threshold": model.config.threshold,
        "best": head.best,
        "config": to_dict(model.config.head),
        "parameters": {} if graph else {k: v.detach().cpu().tolist() for k, v in head.state_dict().items()},
    }


def export_onnx(
    model: PairModel, out: str | Path, *, quantize: Literal["int8"] | None = None, optimize: bool = True
) -> Path:
    """Export every distinct tower of ``model`` plus the head's description to the folder ``out``.

    Args:
        model: The pair model (tied: one graph; untied: two).
        out: Output folder: new, empty, or an earlier ONNX export (replaced whole once everything is written).
        quantize: ``"int8"`` for onnxruntime dynamic int8 quantization of the matrix products (CPU; convolutions
            stay float32, :func:`pairsim.export.onnx_optimize.quantize_int8`), or None for float32.
        optimize: Fuse transformer towers' graphs into onnxruntime's kernels (attention, LayerNorm, GELU) before
            any quantization; False: standard ONNX operators only, for runtimes other than onnxruntime.

    Returns:
        The folder.

    Raises:
        ConfigError: A tower cannot be exported, or an unknown ``quantize``.
        DataError: ``out`` holds other files.

    Example:
        >>> export_onnx(PairModel.from_pretrained("runs/quora/model"), "runs/quora/onnx")  # doctest: +SKIP
    """
    if quantize not in (None, "int8"):
        raise ConfigError(f"--quantize: expected int8, got {quantize!r}")
    if quantize:
        from pairsim.export.onnx_optimize import quantize_int8
    for tower in model.distinct_towers:
        check_exportable(tower)
    target = Path(out).expanduser()
    check_target(target, MANIFEST, "ONNX export")
    with atomic_dir(target) as tmp:  # the earlier export stays whole until this one is complete
        sides: dict[str, dict[str, Any]] = {}
        for side, tower in (("a", model.tower_a), ("b", model.tower_b)):
            if tower is None:
                sides["b"] = sides["a"]
                continue
            file = f"tower_{side}.onnx"
            names = export_tower(tower, tmp / file, truncate_dim=model.config.truncate_dim,
                                 renormalise=model.head.faiss_normalize, optimize=optimize)  # fmt: skip
            if quantize:
                quantize_int8(tmp / file)
            (tmp / f"tower_{side}").mkdir()
            tower.save_assets(tmp / f"tower_{side}")
            sides[side] = {"file": file, "assets": f"tower_{side}", "inputs": names, "modality": tower.modality,
                           "out_dim": model.embedding_dim}  # fmt: skip
        head_graph = None
        if model.head.onnx_graph() is not None:  # a cross-encoder: the transformer reading both texts
            head_graph = {"file": HEAD_GRAPH, "inputs": export_head_graph(model, tmp / HEAD_GRAPH)}
            if quantize:
                quantize_int8(tmp / HEAD_GRAPH)
        (tmp / HEAD_FILE).write_text(json.dumps(head_spec(model), indent=2))
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": to_dict(model.config),
            "tied": model.tied,
            "quantize": quantize,
            "optimize": optimize,
            "sides": sides,
            "head_graph": head_graph,
            "fingerprint": model.fingerprint(),  # the source model's, so its galleries work with this export
            # every other file, checked on load like a saved model's (pairsim.manifest.read_files)
            "sha256": {p.relative_to(tmp).as_posix(): sha256_bytes(p.read_bytes()) for p in files},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, allow_nan=False))  # last
    return target
