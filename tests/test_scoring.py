"""Tests of pairsim.scoring's encoding path for text towers: one tokenizer pass, token-length-sorted batches,
the same embeddings as encoding each text alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

TEXTS = [
    "a cat",
    "a much longer sentence about a dog that runs after a ball in the park",
    "",
    "a cat",
    "the bird sings",
    "one two three four five six",
]


@pytest.mark.parametrize("tower", ["transformer", "lstm"])
def test_text_encoding_tokenises_each_distinct_text_once(
    make_model: Callable[..., Any], tower: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model(tower).eval()
    t = model.tower_a
    alone = torch.cat([t(t.preprocess([x])) for x in dict.fromkeys(TEXTS)]).detach()  # (U, D) one text a batch
    seen: list[str] = []
    real = type(t).tokenize
    monkeypatch.setattr(type(t), "tokenize", lambda self, texts: seen.extend(texts) or real(self, texts))
    with pytest.warns(UserWarning, match="empty"):
        out = model.encode_a(TEXTS, batch_size=2)  # (N, D)
    assert sorted(seen) == sorted(dict.fromkeys(TEXTS))  # the text check, the order and the batches: one pass
    index = list(dict.fromkeys(TEXTS))
    torch.testing.assert_close(out, alone[[index.index(x) for x in TEXTS]], atol=1e-5, rtol=0)


def test_batches_follow_token_length(make_model: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Longest first by tokens, so each batch pads to nearly its own rows' length."""
    model = make_model("transformer").eval()
    widths: list[list[int]] = []
    real = model._run

    def run(tower: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        widths.append(batch["attention_mask"].sum(1).tolist())
        return real(tower, batch)

    monkeypatch.setattr(model, "_run", run)
    texts = [" ".join(["word"] * n) for n in (3, 9, 1, 7, 5, 2)]
    model.encode_a(texts, batch_size=2)
    flat = [n for batch in widths for n in batch]
    assert flat == sorted(flat, reverse=True) and len(widths) == 3
