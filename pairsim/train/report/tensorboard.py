"""``train.report_to: [tensorboard]``: event files in ``OUTPUT_DIR/tensorboard`` (``tensorboard --logdir``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pairsim.train.report.base import Reporter


class TensorBoardReporter(Reporter):
    """Scalars and plot images written with ``torch.utils.tensorboard.SummaryWriter`` to ``OUTPUT_DIR/tensorboard``;
    a resumed run adds an event file to the same folder (TensorBoard reads them as one run)."""

    module = "tensorboard"
    extra = "tensorboard"

    def open(self, trainer: Any) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = trainer.work / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.logdir))

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, global_step=step)

    def images(self, paths: list[Path], step: int) -> None:
        import numpy as np
        from PIL import Image

        for path in paths:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
            self.writer.add_image(f"plots/{path.stem}", pixels, global_step=step, dataformats="HWC")

    def close(self, trainer: Any, metrics: dict[str, Any]) -> None:
        self.writer.close()
