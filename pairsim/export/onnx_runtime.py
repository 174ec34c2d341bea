"""Running an ONNX export with onnxruntime (``--backend onnx``): the same API and verdicts as PairModel.

Preprocessing stays the towers' own (each tower is rebuilt from the saved config on the ``meta`` device,
so no weights are allocated, and reads its tokenizer / vocabulary from the export); the towers' maths
runs in onnxruntime; scores come from the model's own head, rebuilt with its saved parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pairsim.errors import ConfigError, ModelFileError
from pairsim.export.onnx import FORMAT_VERSION, HEAD_FILE, MANIFEST
from pairsim.jsonio import loads_bounded, read_json_bounded
from pairsim.manifest import ASSET_DIRS
from pairsim.scoring import PairScoring


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


class OnnxPairModel(PairScoring):
    """A pair model exported by :func:`pairsim.export.onnx.export_onnx`, run with onnxruntime.

    Offers the scoring API of :class:`~pairsim.model.PairModel` through the same
    :class:`~pairsim.scoring.PairScoring` (``encode_unique``, ``encode_a``, ``encode_b``, ``score``,
    ``is_similar``), with the head on the CPU.

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
        self.device = torch.device("cpu")  # onnxruntime's CPU provider; the head runs here too

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

    @classmethod
    def load(
        cls, directory: str | Path, *, threads: int | None = None, allow_unverified: bool = False
    ) -> OnnxPairModel:
        """Open an export folder, under the saved-model loader's rule (:func:`pairsim.manifest.read_files`): no
        links, every file read is listed in the manifest's sha256 map and matches it, the graphs, head and
        tokenizer files are read from the verified bytes, JSON is bounded.

        Args:
            directory: The folder ``export_onnx`` wrote.
            threads: onnxruntime intra-op threads (None: onnxruntime's default).
            allow_unverified: Open an export whose manifest records no sha256 map (exports of an older
                pairsim), logging one warning line.

        Raises:
            ModelFileError: Not an export folder, or a file is missing, unlisted, changed or corrupt.
        """
        from pairsim.heads import HEADS
        from pairsim.manifest import asset_copy, read_files
        from pairsim.model import PairModelConfig
        from pairsim.towers import TOWERS

        ort = _onnxruntime()
        root = Path(directory).expanduser()
        if (root / MANIFEST).is_symlink():
            raise ModelFileError(f"{root / MANIFEST} is a symbolic link; an export must hold its own files")
        if not (root / MANIFEST).is_file():
            raise ModelFileError(f"{root} is not a pairsim ONNX export ({root / MANIFEST} not found)")
        manifest = read_json_bounded(root / MANIFEST, error=ModelFileError)
        if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
            version = manifest.get("format_version") if isinstance(manifest, dict) else None
            raise ModelFileError(f"{root / MANIFEST}: unsupported format_version {version!r}")
        sides = _sides(manifest, root / MANIFEST)
        graphs = sorted({spec["file"] for spec in sides.values()})
        files, assets, _ = read_files(
            root, manifest, required=[*graphs, HEAD_FILE], manifest=MANIFEST, allow_unverified=allow_unverified
        )
        head_spec = loads_bounded(files[HEAD_FILE], what=str(root / HEAD_FILE), error=ModelFileError)
        try:
            config = PairModelConfig.from_dict(manifest["model"], where=f"{MANIFEST}:model")
        except ConfigError as err:
            raise ModelFileError(str(err)) from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads

        def side(key: str, tower_config: Any, copy: Path) -> OnnxTower:
            spec = sides[key]
            with torch.device("meta"):  # the tower's modules are never run: no weights allocated
                tower = TOWERS.get(tower_config.name)(tower_config)
            tower.load_assets(copy / spec["assets"])
            try:  # from the verified bytes: a graph cannot pull in files by path (external data)
                session = ort.InferenceSession(files[spec["file"]], options, providers=["CPUExecutionProvider"])
            except Exception as err:  # onnxruntime raises its own exception types for a bad file
                raise ModelFileError(f"cannot load {root / spec['file']}: {' '.join(str(err).split())}") from None
            return OnnxTower(tower, session, list(spec["inputs"]), int(spec["out_dim"]))

        with asset_copy(root, assets) as copy:
            tower_a = side("a", config.tower, copy)
            tower_b = None if config.tower_b is None else side("b", config.tower_b, copy)
        head = HEADS.get(config.head.name)(config.head)
        head.bind(tower_a.out_dim)
        parameters = head_spec.get("parameters") if isinstance(head_spec, dict) else None
        try:
            state = {k: torch.tensor(v, dtype=torch.float32) for k, v in dict(parameters or {}).items()}
            head.load_state_dict(state, strict=True)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ModelFileError(
                f"{root / HEAD_FILE}: parameters do not fit the {config.head.name} head: {err}"
            ) from None
        for name, value in state.items():
            if not bool(torch.isfinite(value).all()):
                raise ModelFileError(f"{root / HEAD_FILE}: parameter {name!r} holds NaN or infinity; refused")
        try:
            head.check_threshold(config.threshold, where=f"{MANIFEST}:model.threshold")
        except ConfigError as err:
            raise ModelFileError(str(err)) from None
        return cls(config, head.eval(), tower_a, tower_b, manifest.get("fingerprint"))


def _sides(manifest: dict[str, Any], where: Path) -> dict[str, dict[str, Any]]:
    """The manifest's ``sides`` (``a``, and ``b``), each ``{file, assets, inputs, out_dim}``, checked.

    ``assets`` must be one of :data:`~pairsim.manifest.ASSET_DIRS` (the folders whose every file is verified):
    a tower never reads a vocabulary from anywhere else (an absolute path, ``..``, another folder).

    Raises:
        ModelFileError: A side is missing or malformed (one line naming the manifest).
    """
    sides = manifest.get("sides")
    ok = isinstance(sides, dict) and "a" in sides and set(sides) <= {"a", "b"}
    for spec in sides.values() if ok else []:
        ok = ok and (
            isinstance(spec, dict)
            and isinstance(spec.get("file"), str)
            and isinstance(spec.get("inputs"), list)
            and all(isinstance(n, str) for n in spec["inputs"])
            and type(spec.get("out_dim")) is int
        )
    if not ok:
        raise ModelFileError(f"{where}: 'sides' must give each side's file, assets, inputs and out_dim")
    for key, spec in sides.items():
        if (
            not isinstance(spec["assets"], str) or spec["assets"] not in ASSET_DIRS
        ):  # the only folders read_files verifies file by file
            raise ModelFileError(
                f"{where}: sides.{key}.assets is {spec['assets']!r}; expected one of the export's own asset "
                f"folders ({', '.join(ASSET_DIRS)})"
            )
    return sides


def load_model(
    path: str | Path, *, backend: str = "torch", device: str | None = None, allow_unverified: bool = False,
    threads: int | None = None,
) -> Any:  # fmt: skip
    """A scoring model for the command line: a PairModel (``torch``) or an :class:`OnnxPairModel` (``onnx``).

    Args:
        path: A saved model directory (torch) or an ONNX export folder (onnx).
        backend: ``torch`` or ``onnx``.
        device: Torch device for the torch backend.
        allow_unverified: Load a model (or export) that records no sha256 of its files (a warning line says so).
        threads: onnxruntime's intra-op threads (None or 0: its default); the torch backend's count is set around
            the whole command (:func:`pairsim.cli.args.threads_scope`).
    """
    if backend == "onnx":
        return OnnxPairModel.load(path, threads=threads, allow_unverified=allow_unverified)
    if backend != "torch":
        raise ConfigError(f"--backend: expected torch or onnx, got {backend!r}")
    from pairsim.model import PairModel

    return PairModel.from_pretrained(path, device=device, allow_unverified=allow_unverified)
