"""``train.report_to: [mlflow]``: an MLflow run, in a local store under the run directory unless
``MLFLOW_TRACKING_URI`` names a tracking server or store."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pairsim.train.report.base import Reporter


class MLflowReporter(Reporter):
    """Metrics (history, throughput, test), the recipe's settings as parameters and the plots as artifacts.

    Without ``MLFLOW_TRACKING_URI`` the store is ``OUTPUT_DIR/mlruns`` (MLflow's file store; MLflow 3 asks for
    ``MLFLOW_ALLOW_FILE_STORE=true``, which this sets for the process when it chooses that store). The experiment
    is ``MLFLOW_EXPERIMENT_NAME`` or "pairsim"; the run is named after the output directory. A resumed run continues
    the same MLflow run (its id is kept in the checkpoint).
    """

    module = "mlflow"
    extra = "mlflow"

    def open(self, trainer: Any) -> None:
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        artifacts = None
        if not uri:
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            uri = (trainer.work / "mlruns").as_uri()
            artifacts = (trainer.work / "mlruns" / "artifacts").as_uri()
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "pairsim")
        experiment = self.client.get_experiment_by_name(name)
        exp_id = experiment.experiment_id if experiment else self.client.create_experiment(name, artifacts)
        ids = trainer.state.setdefault("report_ids", {})
        if ids.get("mlflow"):
            self.run_id = ids["mlflow"]
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            self.run_id = self.client.create_run(exp_id, run_name=trainer.out.name).info.run_id
            ids["mlflow"] = self.run_id
            params = _flatten(trainer.recipe.to_dict())
            from mlflow.entities import Param

            self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def scalars(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        metrics = [Metric(tag, value, stamp, step) for tag, value in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def images(self, paths: list[Path], step: int) -> None:
        for path in paths:
            self.client.log_artifact(self.run_id, str(path), artifact_path="plots")

    def close(self, trainer: Any, metrics: dict[str, Any]) -> None:
        self.client.set_terminated(self.run_id)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``.

    Example:
        >>> _flatten({"train": {"lr": 0.1, "speed": {"threads": 2}}, "seed": 1})
        {'train.lr': 0.1, 'train.speed.threads': 2, 'seed': 1}
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
