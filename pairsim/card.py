"""The model card (``README.md``) written into a saved model directory."""

from __future__ import annotations

from typing import Any, Protocol


class Described(Protocol):
    """What a card describes: a model's config, tower sharing, head and embedding size (a PairModel has them)."""

    config: Any
    tied: bool
    head: Any
    tower_a: Any


def model_card(model: Described, metrics: dict[str, Any] | None = None) -> str:
    """A short README.md describing the model, its direction and threshold, and how to use it.

    Args:
        model: The model being saved.
        metrics: Optional metric name -> value rows for a table.

    Returns:
        Markdown text with a Hugging Face metadata header.
    """
    c = model.config
    towers = (
        f"tied `{c.tower.name}` tower (siamese)"
        if model.tied
        else (
            f"untied towers: `{c.tower.name}` for side a, `{c.tower_b.name}` for side b (pseudo-siamese)"  # type: ignore[union-attr]
        )
    )
    direction = "higher = more similar" if model.head.higher_is_similar else "lower = more similar (a distance)"
    lines = [
        "---", "library_name: pairsim", "tags: [pairsim, similarity, siamese]", "---", "",
        "# pairsim pair model", "",
        f"- Towers: {towers}, embeddings of size {model.tower_a.out_dim}.",
        f"- Head: `{c.head.name}` ({direction}).",
        f"- Decision threshold: {c.threshold if c.threshold is not None else 'not calibrated'}"
        " (chosen on the validation split). Label 1 = similar.",
        "", "## Use", "", "```python", "from pairsim import PairModel", "",
        'model = PairModel.from_pretrained("path/to/this/dir")',
        "scores = model.score(inputs_a, inputs_b)", "same = model.is_similar(scores)", "```", "",
        "or `pairsim score a.txt b.txt --model path/to/this/dir`.",
    ]  # fmt: skip
    if metrics:
        lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
    return "\n".join(lines) + "\n"
