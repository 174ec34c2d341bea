"""The one loader of every command's model argument (``--model`` of score, encode, enroll, identify; MODEL of eval,
serve, export).

A model argument is a saved pairsim model (a directory or hub id), an ONNX export (``--backend onnx``), or an
off-the-shelf Hugging Face / sentence-transformers encoder (a directory or hub id). An encoder is used as a tied
``transformer`` tower with a ``cosine`` head (pooling, normalisation and length from its ``modules.json`` where it
has one), and one ``pairsim: note:`` line on stderr says so, and what that means for the decision threshold.

Example:
    >>> # model, is_encoder = load_model_arg("../shared/models/all-MiniLM-L6-v2", device="cpu", use="scoring")
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# what an encoder has instead of a calibrated threshold, by use ("scoring": score, encode, identify, serve, export)
THRESHOLD_NOTES = {
    "evaluating": "the decision threshold is calibrated on the recipe's validation split",
    "scoring": "it has no calibrated decision threshold, so no same/different verdict is given (pairsim eval "
    "calibrates one)",
}


def load_model_arg(
    name: str | Path,
    *,
    device: str | None = None,
    allow_unverified: bool = False,
    backend: str = "torch",
    use: str = "scoring",
    threads: int | None = None,
) -> tuple[Any, bool]:
    """The model a command's model argument names, and whether it is an off-the-shelf encoder.

    Args:
        name: A saved pairsim model directory or hub id, an ONNX export (``backend="onnx"``), or a Hugging Face /
            sentence-transformers encoder directory or hub id.
        device: Torch device to move the model to.
        allow_unverified: Load a pairsim model that records no sha256 of its files (a warning line says so).
        backend: ``torch`` or ``onnx``.
        use: What the command does with an encoder, for its note: ``"scoring"`` or ``"evaluating"``.
        threads: onnxruntime's intra-op threads (None or 0: its default); the torch backend's count is set around
            the whole command (:func:`pairsim.cli.args.threads_scope`).

    Returns:
        ``(model, is_encoder)``: a :class:`~pairsim.model.PairModel` (or ONNX twin); ``is_encoder`` is True when it
        was built around an encoder (it has no threshold).

    Raises:
        ModelFileError: A pairsim model directory is missing a file or does not match its config.
        ConfigError: An unknown backend; an encoder directory that ships code.
    """
    from pairsim.errors import ConfigError, ModelFileError

    if backend == "onnx":
        from pairsim.export.onnx_runtime import OnnxPairModel

        return OnnxPairModel.load(name, threads=threads, allow_unverified=allow_unverified), False
    if backend != "torch":
        raise ConfigError(f"--backend: expected torch or onnx, got {backend!r}")
    from pairsim.hub import is_model_dir
    from pairsim.model import PairModel

    text = str(name)
    path = Path(text).expanduser()
    if not path.exists() and HUB_ID.match(text):  # a hub id: a pairsim model, else an encoder
        try:
            return PairModel.from_pretrained(text, device=device, allow_unverified=allow_unverified), False
        except ModelFileError as err:
            if "format_version" not in str(err):
                raise
        return encoder_model(text, None, device=device, use=use), True
    if is_model_dir(path) or not is_encoder_dir(path):
        return PairModel.from_pretrained(path, device=device, allow_unverified=allow_unverified), False
    return encoder_model(text, path, device=device, use=use), True


def is_encoder_dir(path: Path) -> bool:
    """Whether ``path`` is a Hugging Face / sentence-transformers directory (asked after pairsim's own format): a
    ``modules.json``, or a ``config.json`` holding a JSON object with a ``model_type``. A ``config.json`` that is not
    such an object (a damaged pairsim model, say) is left to pairsim's loader, whose message names what is wrong."""
    if not path.is_dir():
        return False
    if (path / "modules.json").is_file():
        return True
    config = path / "config.json"
    if not config.is_file():
        return False
    from pairsim.jsonio import read_json_bounded

    try:
        data = read_json_bounded(config)
    except Exception:  # unreadable JSON: pairsim's loader says so in one line
        return False
    return isinstance(data, dict) and "model_type" in data


def encoder_model(name: str, path: Path | None, *, device: str | None = None, use: str = "scoring") -> Any:
    """A tied transformer tower + cosine head around an off-the-shelf encoder, with one stderr line saying so.

    Args:
        name: The argument as given (for the note).
        path: The local directory, or None for a hub id.
        device: Torch device.
        use: ``"scoring"`` or ``"evaluating"`` (what the note says of the threshold).
    """
    from pairsim.config import from_dict
    from pairsim.manifest import reject_remote_code
    from pairsim.model import PairModel, PairModelConfig

    if path is not None:  # a local directory: refuse shipped code; transformers reads only that directory
        reject_remote_code(path)
    config = from_dict(
        PairModelConfig,
        {
            "tower": {"name": "transformer", "model": str(path) if path is not None else name},
            "head": {"name": "cosine"},
        },
        where="encoder",
    )
    model = PairModel.from_config(config)
    model.eval()
    if device:
        model = model.to(device)
    tower = model.tower_a.config
    normalised = "L2-normalised" if tower.normalize else "not normalised"
    print(
        f"pairsim: note: {name} is a Hugging Face / sentence-transformers encoder, not a pairsim model: {use} "
        f"it as a tied transformer tower ({tower.pooling} pooling, {normalised}, max {tower.max_length} tokens; "
        f"from its modules.json where it has one) with a cosine head; {THRESHOLD_NOTES[use]}",
        file=sys.stderr,
    )
    return model
