"""Publishing a pair model on the Hugging Face hub (``model.push_to_hub`` and ``pairsim push``).

The uploaded folder is exactly what :meth:`PairModel.save_pretrained` writes (so
``PairModel.from_pretrained("user/repo")`` loads it back), with the model card carrying the run's
metrics and its plots (copied under ``plots/``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from pairsim.errors import DataError, PairsimError
from pairsim.jsonio import read_json_bounded

PLOTS_DIR = "plots"


class Savable(Protocol):
    """What publishing needs of a model: it writes its own folder (a :class:`~pairsim.model.PairModel` does)."""

    def save_pretrained(self, directory: str | Path, *, metrics: dict[str, Any] | None = None) -> Path: ...


class PushError(PairsimError):
    """The hub refused or could not be reached (one line: the repository and the hub's answer)."""


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalar entries of a (nested) metrics dict, nested keys joined with ``_`` (lists are left out).

    Example:
        >>> flatten_metrics({"best_epoch": 2, "test": {"auc": 0.9, "roc": [1, 2]}})
        {'best_epoch': 2, 'test_auc': 0.9}
    """
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=f"{name}_"))
        elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
            flat[name] = value
    return flat


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A training run's ``metrics.json``, flattened for the model card.

    Raises:
        DataError: The file is missing or not a JSON object.
    """
    path = Path(path)
    data = read_json_bounded(path, what=f"metrics file {path}")
    if not isinstance(data, dict):
        raise DataError(f"metrics file {path}: expected a JSON object of metrics")
    return flatten_metrics(data)


def stage(
    model: Savable, folder: Path, *, metrics: Mapping[str, Any] | None = None, plots: Iterable[str | Path] = ()
) -> Path:
    """Write the folder that is uploaded: ``save_pretrained`` output, plots under ``plots/``, linked in the card.

    Args:
        model: The model.
        folder: Where to write (must not exist yet).
        metrics: Scalar metrics for the model card.
        plots: Image files (``.png``) shown in the model card.

    Returns:
        ``folder``.
    """
    model.save_pretrained(folder, metrics=dict(metrics) if metrics else None)
    plots = [Path(p) for p in plots]
    missing = [p for p in plots if not p.is_file()]
    if missing:
        raise DataError(f"plot file not found: {missing[0]}")
    if plots:
        (folder / PLOTS_DIR).mkdir()
        lines = ["", "## Plots", ""]
        for plot in plots:
            shutil.copyfile(plot, folder / PLOTS_DIR / plot.name)
            lines += [f"![{plot.stem}]({PLOTS_DIR}/{plot.name})", ""]
        with open(folder / "README.md", "a", encoding="utf-8") as card:
            card.write("\n".join(lines))
    return folder


def push_to_hub(
    model: Savable,
    repo_id: str,
    *,
    metrics: Mapping[str, Any] | None = None,
    plots: Iterable[str | Path] = (),
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload pairsim model",
) -> str:
    """Create (or reuse) the hub repository ``repo_id`` and upload the saved model to it.

    Args:
        model: The model to publish.
        repo_id: ``user/name`` on the hub.
        metrics: Scalar metrics shown in the model card.
        plots: Image files shown in the model card.
        private: Create the repository private (None: the hub's default).
        token: A hub token (None: the logged-in user's).
        commit_message: Message of the upload commit.

    Returns:
        The URL of the commit.

    Raises:
        PushError: The hub could not be reached or refused the upload.

    Example:
        >>> model.push_to_hub("me/quora-duplicates", metrics={"test_auc": 0.91})  # doctest: +SKIP
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="pairsim-push-") as tmp:
        folder = stage(model, Path(tmp) / "model", metrics=metrics, plots=plots)
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            info = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message)
        except Exception as err:  # network, auth, a refused name: huggingface_hub raises many types
            raise PushError(f"push to {repo_id!r} failed: {' '.join(str(err).split())[:300]}") from err
    return str(getattr(info, "commit_url", info))
