"""The plots write real, non-blank PNG files, and pick the right hardest pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pairsim.errors import DataError
from pairsim.metrics.plots import (
    hardest_pair_indices,
    plot_curves,
    plot_hardest_pairs,
    plot_roc,
    plot_score_histograms,
)

RNG = np.random.default_rng(0)
LABELS = np.array([1, 0] * 10)
SCORES = RNG.normal(LABELS * 1.0, 1.0)


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 0  # something was drawn


def test_curves(tmp_path: Path) -> None:
    history: list[dict[str, Any]] = [{"step": s, "epoch": (s - 1) // 5, "loss": 1 / s} for s in range(1, 11)]
    history += [{"epoch": 0, "val_roc_auc": 0.8, "val_loss": 0.6, "val_n_pairs": 500, "val_median_rank": 7.0}]
    history += [{"epoch": 1, "val_roc_auc": 0.9, "val_loss": 0.5, "val_n_pairs": 500, "val_median_rank": 5.0}]
    assert_png(plot_curves(history, tmp_path / "curves.png"))
    assert_png(plot_curves(history, tmp_path / "picked.png", val_keys=["val_median_rank"]))
    assert_png(plot_curves([{"epoch": 0, "val_eer": 0.1}], tmp_path / "val_only.png"))


def test_curves_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no 'loss' or 'val_\\*' values"):
        plot_curves([{"step": 1, "lr": 0.1}], tmp_path / "c.png")
    with pytest.raises(DataError, match="neither 'step' nor 'epoch'"):
        plot_curves([{"loss": 0.3}], tmp_path / "c.png")
    with pytest.raises(DataError, match="not in history"):
        plot_curves([{"epoch": 0, "val_eer": 0.1}], tmp_path / "c.png", val_keys=["val_f1"])
    with pytest.raises(DataError, match="history entry 0 is a list"):
        plot_curves([[1, 2]], tmp_path / "c.png")  # type: ignore[list-item]


def test_roc_and_histograms(tmp_path: Path) -> None:
    assert_png(plot_roc(SCORES, LABELS, higher_is_similar=True, path=tmp_path / "roc.png"))
    assert_png(plot_roc(-SCORES, LABELS, higher_is_similar=False, path=tmp_path / "roc_dist.png"))
    assert_png(plot_score_histograms(SCORES, LABELS, higher_is_similar=True, threshold=0.5, path=tmp_path / "hist.png"))
    with pytest.raises(DataError, match="all similar"):
        plot_roc([0.1, 0.2], [1, 1], higher_is_similar=True, path=tmp_path / "x.png")
    with pytest.raises(DataError, match="one label per score"):
        plot_score_histograms([0.1, 0.2], [1], higher_is_similar=True, path=tmp_path / "x.png")


def test_hardest_pairs_order_by_hand() -> None:
    # Threshold 0.5. Pair 0 is dissimilar but scores 0.4 above it (hardness 0.4); pair 1 similar, 0.3
    # below (0.3); pairs 2 and 3 are right by 0.1 (hardness -0.1, input order kept).
    scores, labels = [0.9, 0.2, 0.6, 0.4], [0, 1, 1, 0]
    order = hardest_pair_indices(scores, labels, higher_is_similar=True, threshold=0.5, n=4)
    assert order.tolist() == [0, 1, 2, 3]
    distance = [-s for s in scores]
    assert hardest_pair_indices(distance, labels, higher_is_similar=False, threshold=-0.5, n=2).tolist() == [0, 1]


def test_hardest_pairs_of_image_arrays_paths_and_loaded_items(tmp_path: Path) -> None:
    arrays = [RNG.random((12, 12)) for _ in range(20)]
    assert_png(
        plot_hardest_pairs(arrays, arrays[::-1], SCORES, LABELS, higher_is_similar=True, path=tmp_path / "a.png", n=4)
    )
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray((arrays[i] * 255).astype(np.uint8)).convert("RGB").save(paths[-1])
    assert_png(
        plot_hardest_pairs(
            [str(p) for p in paths], paths, [0.9, 0.1, 0.5], [0, 1, 1], higher_is_similar=True, path=tmp_path / "p.png"
        )
    )
    loaded: list[int] = []

    def load(index: int) -> np.ndarray:
        loaded.append(index)
        return arrays[index]

    plot_hardest_pairs(
        list(range(20)),
        list(range(20)),
        SCORES,
        LABELS,
        higher_is_similar=True,
        path=tmp_path / "l.png",
        n=3,
        load=load,
    )
    assert len(loaded) == 6  # 3 pairs, 2 items each, all through the loader


def test_hardest_pairs_of_texts(tmp_path: Path) -> None:
    texts_a = ["How do I learn Python quickly and well enough to get a job as a developer?"] * 20
    texts_b = ["What is the best way to learn Python?"] * 20
    assert_png(
        plot_hardest_pairs(
            texts_a, texts_b, -SCORES, LABELS, higher_is_similar=False, path=tmp_path / "t.png", n=3, threshold=0.0
        )
    )


def test_hardest_pairs_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="need one of each per pair"):
        plot_hardest_pairs(["a"], ["b", "c"], [0.1, 0.2], [1, 0], higher_is_similar=True, path=tmp_path / "x.png")
    with pytest.raises(DataError, match="image file not found"):
        plot_hardest_pairs(
            ["missing.png", "a"], ["b", "c"], [0.1, 0.2], [1, 0], higher_is_similar=True, path=tmp_path / "x.png"
        )
    with pytest.raises(DataError, match="positive integer"):
        plot_hardest_pairs(
            ["a"], ["b"], [0.1], [1], higher_is_similar=True, threshold=0.5, n=0, path=tmp_path / "x.png"
        )
    with pytest.raises(DataError, match="all similar"):  # no threshold given: calibration needs both classes
        plot_hardest_pairs(["a"], ["b"], [0.1], [1], higher_is_similar=True, path=tmp_path / "x.png")


def test_a_plot_is_never_written_into_a_fifo(tmp_path: Path) -> None:
    """Plots follow the output-path policy: a FIFO at the path is refused, not opened (which would block)."""
    import os

    os.mkfifo(tmp_path / "roc.png")
    with pytest.raises(DataError, match=r"^plot .*roc\.png is a FIFO \(named pipe\); expected a regular file"):
        plot_roc(np.array([0.1, 0.9]), np.array([0, 1]), higher_is_similar=True, path=tmp_path / "roc.png")
    assert (tmp_path / "roc.png").is_fifo()
