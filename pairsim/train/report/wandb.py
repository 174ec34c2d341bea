"""``train.report_to: [wandb]``: a Weights & Biases run, offline (files under the run directory) unless
``WANDB_MODE`` says otherwise."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pairsim.train.report.base import Reporter


class WandbReporter(Reporter):
    """History, throughput and test metrics (``run.log``; the test metrics also in the summary), the recipe as the
    run's config, the plots as images.

    The mode is ``WANDB_MODE`` or "offline" (``wandb sync OUTPUT_DIR/wandb/offline-run-*`` uploads it later); the
    files go to ``OUTPUT_DIR/wandb``; the project is ``WANDB_PROJECT`` or "pairsim". A resumed run continues the
    same wandb run (its id is kept in the checkpoint).
    """

    module = "wandb"
    extra = "wandb"

    def open(self, trainer: Any) -> None:
        import wandb

        ids = trainer.state.setdefault("report_ids", {})
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "pairsim"),
            name=trainer.out.name,
            dir=str(trainer.work),
            mode=os.environ.get("WANDB_MODE", "offline"),
            config=trainer.recipe.to_dict(),
            id=ids.get("wandb"),
            resume="allow" if ids.get("wandb") else None,
        )
        ids["wandb"] = self.run.id

    def scalars(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def images(self, paths: list[Path], step: int) -> None:
        import wandb

        self.run.log({f"plots/{path.stem}": wandb.Image(str(path)) for path in paths}, step=step)

    def close(self, trainer: Any, metrics: dict[str, Any]) -> None:
        for key, value in metrics.get("test", {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.run.summary[f"test/{key}"] = value
        self.run.finish()
