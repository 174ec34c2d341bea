"""Predicted-vs-gold scatter and the hardest text pairs of both error kinds, alone and from evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pairsim.metrics import plot_graded_scatter, plot_hardest_text_pairs


def _drawn(path: Path) -> None:
    assert path.stat().st_size > 1000
    with Image.open(path) as image:
        assert np.asarray(image.convert("L")).std() > 0


def test_graded_scatter_written(tmp_path: Path) -> None:
    gold = np.linspace(0, 5, 40)
    pred = gold / 5 + np.sin(np.arange(40)) * 0.1
    _drawn(plot_graded_scatter(pred, gold, higher_is_similar=True, path=tmp_path / "s.png"))


def test_hardest_text_pairs_shows_both_error_kinds(tmp_path: Path, monkeypatch: object) -> None:
    from pairsim.metrics import plots_text

    shown: list[str] = []
    real = plots_text.textwrap.fill
    monkeypatch.setattr(plots_text.textwrap, "fill", lambda t, *a, **k: shown.append(t) or real(t, *a, **k))  # type: ignore[attr-defined]
    a = [f"left sentence {i}" for i in range(6)]
    b = [f"right sentence {i}" for i in range(6)]
    scores, labels = [0.9, 0.1, 0.2, 0.8, 0.6, 0.4], [1, 1, 1, 0, 0, 0]  # mistakes: pairs 1, 2 (missed), 3, 4
    path = plot_hardest_text_pairs(a, b, scores, labels, higher_is_similar=True, threshold=0.5,
                                   gold=[5.0, 4.5, 4.0, 0.5, 1.0, 0.0], path=tmp_path / "h.png")  # fmt: skip
    _drawn(path)
    assert shown == [f"{side}: {s} sentence {i}" for i in (1, 2, 3, 4) for side, s in (("A", "left"), ("B", "right"))]
