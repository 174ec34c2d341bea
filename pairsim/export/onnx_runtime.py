"""Running an ONNX export with onnxruntime (``--backend onnx``): the same API and verdicts as PairModel.

Preprocessing stays the towers' own (each tower is rebuilt from the saved config on the ``meta`` device,
so no weights are allocated, and reads its tokenizer / vocabulary from the export); the towers' maths
runs in onnxruntime; scores come from the model's own head, rebuilt with its saved parameters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from pairsim.errors import ConfigError, ModelFileError
from pairsim.export.onnx import FORMAT_VERSION, HEAD_FILE, MANIFEST


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("--backend onnx needs onnxruntime: pip install 'pairsim[onnx]'") from None
    return onnxruntime


class OnnxTower:
    """A tower's preprocessing (its own code) in front of its ONNX graph.

    Args:
        tower: The tower rebuilt from config (meta device) with its assets loaded.
        session: The onnxruntime session of its graph.
        input_names: The graph's inputs, in order.
        out_dim: Embedding size.
    """

    def __init__(self, tower: Any, session: Any, input_names: list[str], out_dim: int) -> None:
        self.tower = tower
        self.session = session
        self.input_names = input_names
        self.out_dim = out_dim
        self.modality = tower.modality
        self.config = tower.config

    def __getattr__(self, name: str) -> Any:
        # the tower's own input handling (item_key, preprocess, input checks) applies unchanged
        return getattr(self.tower, name)

    def __call__(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        feed = {name: batch[name].cpu().numpy() for name in self.input_names}
        return torch.from_numpy(self.session.run(None, feed)[0])  # (B, D)


class OnnxPairModel:
    """A pair model exported by :func:`pairsim.export.onnx.export_onnx`, run with onnxruntime.

    Offers the scoring API of :class:`~pairsim.model.PairModel` (``encode_unique``, ``encode_a``,
    ``encode_b``, ``score``, ``is_similar``, ``head``, ``config``, ``tower_a``).

    Example:
        >>> model = OnnxPairModel.load("runs/quora/onnx")  # doctest: +SKIP
        >>> model.score(["how old are you"], ["what is your age"])  # doctest: +SKIP
        tensor([0.8...])
    """

    def __init__(
        self, config: Any, head: Any, tower_a: OnnxTower, tower_b: OnnxTower | None, fingerprint: str | None = None
    ) -> None:
        self.config = config
        self.head = head
        self.tower_a = tower_a
        self.tower_b = tower_b
        self._fingerprint = fingerprint

    def fingerprint(self) -> str:
        """The source model's :meth:`PairModel.fingerprint`, recorded at export (galleries check it).

        Raises:
            ModelFileError: The export predates fingerprints.
        """
        if not self._fingerprint:
            raise ModelFileError(
                "this ONNX export records no model fingerprint; export the model again to use a gallery"
            )
        return self._fingerprint

    @property
    def tied(self) -> bool:
        return self.tower_b is None

    @property
    def side_b(self) -> OnnxTower:
        return self.tower_a if self.tower_b is None else self.tower_b

    @classmethod
    def load(cls, directory: str | Path, *, threads: int | None = None) -> OnnxPairModel:
        """Open an export folder.

        Args:
            directory: The folder ``export_onnx`` wrote.
            threads: onnxruntime intra-op threads (None: onnxruntime's default).

        Raises:
            ModelFileError: Not an export folder, or a file is missing or corrupt.
        """
        from pairsim.heads import HEADS
        from pairsim.model import PairModelConfig
        from pairsim.towers import TOWERS

        ort = _onnxruntime()
        root = Path(directory)
        try:
            manifest = json.loads((root / MANIFEST).read_text())
            head_spec = json.loads((root / HEAD_FILE).read_text())
        except (OSError, ValueError) as err:
            raise ModelFileError(f"{root} is not a pairsim ONNX export ({MANIFEST} / {HEAD_FILE}: {err})") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(f"{root / MANIFEST}: unsupported format_version {manifest.get('format_version')!r}")
        try:
            config = PairModelConfig.from_dict(manifest["model"], where=f"{MANIFEST}:model")
        except ConfigError as err:
            raise ModelFileError(str(err)) from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads

        def side(key: str, tower_config: Any) -> OnnxTower:
            spec = manifest["sides"][key]
            with torch.device("meta"):  # the tower's modules are never run: no weights allocated
                tower = TOWERS.get(tower_config.name)(tower_config)
            tower.load_assets(root / spec["assets"])
            try:
                session = ort.InferenceSession(str(root / spec["file"]), options, providers=["CPUExecutionProvider"])
            except Exception as err:  # onnxruntime raises its own exception types for a bad file
                raise ModelFileError(f"cannot load {root / spec['file']}: {err}") from None
            return OnnxTower(tower, session, list(spec["inputs"]), int(spec["out_dim"]))

        tower_a = side("a", config.tower)
        tower_b = None if config.tower_b is None else side("b", config.tower_b)
        head = HEADS.get(config.head.name)(config.head)
        head.load_state_dict({k: torch.tensor(v) for k, v in head_spec["parameters"].items()}, strict=True)
        return cls(config, head.eval(), tower_a, tower_b, manifest.get("fingerprint"))

    @torch.inference_mode()
    def encode_unique(
        self,
        items: Sequence[Any],
        *,
        side: str = "a",
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """As :meth:`PairModel.encode_unique`: distinct inputs' embeddings ``(U, D)`` and each input's row ``(N,)``."""
        tower = self.tower_a if side == "a" else self.side_b
        keys = [tower.item_key(x) for x in items]
        first: dict[Any, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        unique = list(first.values())
        if tower.modality == "text":  # length-sorted batches pad less
            unique.sort(key=lambda i: len(str(items[i])), reverse=True)
        out = torch.empty(len(unique), tower.out_dim)  # (U, D)
        for start in range(0, len(unique), batch_size):
            idx = unique[start : start + batch_size]
            out[start : start + len(idx)] = tower(tower.preprocess([items[i] for i in idx]))  # (b, D)
            if progress:
                progress(len(idx))
        row = {keys[i]: r for r, i in enumerate(unique)}
        return out, torch.tensor([row[k] for k in keys], dtype=torch.long)  # (U, D), (N,)

    def encode_a(self, items: Sequence[Any], *, batch_size: int = 64, **kwargs: Any) -> torch.Tensor:
        """Raw side-a inputs -> ``(N, D)`` embeddings."""
        embeddings, index = self.encode_unique(items, side="a", batch_size=batch_size, **kwargs)
        return embeddings[index]  # (N, D)

    def encode_b(self, items: Sequence[Any], *, batch_size: int = 64, **kwargs: Any) -> torch.Tensor:
        """Raw side-b inputs -> ``(N, D)`` embeddings."""
        embeddings, index = self.encode_unique(items, side="b", batch_size=batch_size, **kwargs)
        return embeddings[index]  # (N, D)

    @torch.inference_mode()
    def score(self, items_a: Sequence[Any], items_b: Sequence[Any], *, batch_size: int = 64) -> torch.Tensor:
        """Score raw pairs -> ``(N,)`` with the model's head."""
        if len(items_a) != len(items_b):
            raise ValueError(f"score needs as many a-items as b-items, got {len(items_a)} and {len(items_b)}")
        return self.head(self.encode_a(items_a, batch_size=batch_size), self.encode_b(items_b, batch_size=batch_size))

    def is_similar(self, scores: torch.Tensor) -> torch.Tensor:
        """Same / different decisions at the exported threshold."""
        if self.config.threshold is None:
            raise ValueError("this model has no calibrated threshold (train it with a validation split)")
        return self.head.is_similar(scores, self.config.threshold)


def load_model(path: str | Path, *, backend: str = "torch", device: str | None = None) -> Any:
    """A scoring model for the command line: a PairModel (``torch``) or an :class:`OnnxPairModel` (``onnx``).

    Args:
        path: A saved model directory (torch) or an ONNX export folder (onnx).
        backend: ``torch`` or ``onnx``.
        device: Torch device for the torch backend.
    """
    if backend == "onnx":
        return OnnxPairModel.load(path)
    if backend != "torch":
        raise ConfigError(f"--backend: expected torch or onnx, got {backend!r}")
    from pairsim.model import PairModel

    return PairModel.from_pretrained(path, device=device)
