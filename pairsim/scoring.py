"""Scoring raw inputs with a pair model: the part :class:`~pairsim.model.PairModel` and its ONNX runtime twin
(:class:`~pairsim.export.onnx_runtime.OnnxPairModel`) share.

A class using :class:`PairScoring` has ``tower_a``, ``tower_b`` (None when tied), ``head``, ``config`` (with
``threshold``) and ``device``; it may override :meth:`PairScoring._run` (how one preprocessed batch goes
through a tower). Everything else here is the same for both runtimes: distinct inputs are encoded once,
texts in length-sorted batches, and the head scores the pairs. No embedding or score leaves here that is
NaN or infinite: :func:`check_finite` raises one error naming the input (or pair) instead, so every command
and the service inherit the check.

Example:
    >>> # model = PairModel.from_pretrained("runs/stsb/model")  # or OnnxPairModel.load("export/")
    >>> # scores = model.score(["a cat"], ["a kitten"]); model.is_similar(scores)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from pairsim.errors import ConfigError, DataError
from pairsim.text_check import report_texts


def _quote(item: Any, limit: int = 60) -> str:
    text = str(item) if isinstance(item, str) else f"a {type(item).__name__}"
    return repr(text[:limit] + "..." if len(text) > limit else text)


def check_finite(
    values: torch.Tensor, *, what: str, names: Callable[[int], str] | None = None, kind: str | None = None
) -> torch.Tensor:
    """Return ``values`` if every row is finite, else raise one error naming the first row with NaN / infinity.

    Args:
        values: ``(N,)`` scores or ``(N, D)`` embeddings.
        what: What a row is, for the message ("side-a input", "pair").
        names: Row index -> how to name it (default: its 1-based number).
        kind: What a value is (default: "score" for ``(N,)``, "embedding" for ``(N, D)``).

    Returns:
        ``values`` unchanged.

    Raises:
        DataError: ``"<what> <name>: the model gave a non-finite ..."``.

    Example:
        >>> check_finite(torch.tensor([0.5, float("nan")]), what="pair")
        Traceback (most recent call last):
        ...
        pairsim.errors.DataError: pair 2: the model gave a non-finite score (nan); refused, nothing is written for it
    """
    finite = torch.isfinite(values)
    if finite.all():
        return values
    rows = finite.reshape(values.shape[0], -1).all(dim=1)  # (N,)
    row = int((~rows).nonzero()[0])
    kind = kind or ("score" if values.dim() == 1 else "embedding")
    bad = values[row].reshape(-1)
    value = float(bad[~torch.isfinite(bad)][0])
    name = names(row) if names else str(row + 1)
    raise DataError(f"{what} {name}: the model gave a non-finite {kind} ({value}); refused, nothing is written for it")


def _input_name(items: Sequence[Any], index: int) -> str:
    return f"{index + 1} {_quote(items[index])}"


class PairScoring:
    """Raw inputs -> embeddings -> scores, for any object with towers, a head, a config and a device."""

    tower_a: Any
    tower_b: Any
    head: Any
    config: Any
    device: torch.device
    # refuse empty texts and texts with no known word (a DataError) instead of warning about them; see
    # pairsim.text_check. Set it on a model, or pass strict_text= to encode_a / encode_b / score / encode_unique
    strict_text: bool = False
    # inference precision: auto, fp32 or bf16 (pairsim.device.resolve_precision); None: $PAIRSIM_PRECISION, else fp32
    precision: str | None = None

    @property
    def tied(self) -> bool:
        """One tower for both sides (siamese)."""
        return self.tower_b is None

    @property
    def side_b(self) -> Any:
        """The tower used for side b (``tower_a`` when tied)."""
        return self.tower_a if self.tower_b is None else self.tower_b

    def tower_for(self, side: str) -> Any:
        """The tower that encodes ``side`` ("a" or "b")."""
        return self.tower_a if side == "a" else self.side_b

    @property
    def embedding_dim(self) -> int:
        """The size of the embeddings the model gives: the config's ``truncate_dim`` when set, else the towers'."""
        return getattr(self.config, "truncate_dim", None) or self.tower_a.out_dim

    def _run(self, tower: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """One preprocessed batch through ``tower`` -> ``(b, D)`` float32 on the CPU, in the precision
        :attr:`precision` asks for (:func:`pairsim.device.inference_precision`)."""
        from pairsim.device import inference_precision

        with inference_precision(self.precision, self.device):
            return tower(batch).float().cpu()  # (b, D)

    @torch.inference_mode()
    def encode_unique(
        self,
        items: Sequence[Any],
        *,
        side: str = "a",
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
        where: str | None = None,
        lines: bool = False,
        strict_text: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of the distinct inputs only, and which row each input uses.

        Texts the tower cannot read (empty, or no known word) get one :class:`~pairsim.text_check.TextInputWarning`
        line counting them, or a DataError under ``strict_text``.

        Args:
            items: Raw inputs of one side (repeats allowed).
            side: "a" or "b" (the tower that encodes them).
            batch_size: Inputs per encoding batch.
            progress: Called with the number of inputs encoded after each batch.
            where: What the inputs are in messages (a file name); None: "side-a inputs".
            lines: Name inputs by line number (they were read one per line from ``where``).
            strict_text: Refuse unreadable texts instead of warning; None: :attr:`strict_text`.

        Returns:
            ``(embeddings (U, D), index (N,))`` with ``embeddings[index[i]]`` the embedding of ``items[i]``:
            memory grows with the number of distinct inputs, not of inputs.

        Raises:
            ConfigError: ``batch_size`` is not a positive integer.
            DataError: An input is not of the tower's modality, or its embedding is NaN / infinite (named); with
                ``strict_text``, a text is empty or has no word the tower knows.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive integer, got {batch_size!r}")  # else rows stay empty
        tower = self.tower_for(side)
        where = where or f"side-{side} inputs"
        tower.check_items(items, where=where, lines=lines)
        first, rows = tower.distinct(items)  # (U,) first index of each distinct input, (N,) row of each input
        strict = self.strict_text if strict_text is None else strict_text
        order = list(range(len(first)))
        features = None
        if tower.modality == "text" and hasattr(tower, "token_lengths"):
            # one tokenizer pass serves the text check, the length order and every batch (padded to its longest)
            texts = [str(items[i]) for i in first]
            features = tower.tokenize(texts)
            lengths = tower.token_lengths(texts, features=features)
            order.sort(key=lambda r: lengths[r], reverse=True)  # token-length-sorted batches pad least
        elif tower.modality == "text":  # a tower without token ids: sort by characters
            order.sort(key=lambda r: len(str(items[first[r]])), reverse=True)
        report_texts(
            tower, items, where=where, lines=lines, strict=strict, first=first, rows=rows.tolist(), features=features
        )
        out = torch.empty(len(first), self.embedding_dim)  # (U, D)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            if features is not None:
                batch = tower.collate([features[r] for r in chunk])
            else:
                batch = tower.preprocess([items[first[r]] for r in chunk])
            embedded = self._run(tower, batch)  # (b, D)
            check_finite(embedded, what=f"side-{side} input", names=lambda j: _input_name(items, first[chunk[j]]))  # noqa: B023
            out[chunk] = embedded
            if progress:
                progress(len(chunk))
        return out, rows  # (U, D), (N,)

    def encode_a(
        self,
        items: Sequence[Any],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
        strict_text: bool | None = None,
    ) -> torch.Tensor:
        """Raw side-a inputs -> ``(N, D)`` embeddings on the CPU; what a side takes is as :meth:`score` says.

        Repeated inputs are encoded once; texts are batched by length. Empty texts and texts with no known word
        are counted in one warning (an error with ``strict_text``, see :meth:`encode_unique`).
        """
        embeddings, index = self.encode_unique(
            items, side="a", batch_size=batch_size, progress=progress, strict_text=strict_text
        )
        return embeddings[index]  # (N, D)

    def encode_b(
        self,
        items: Sequence[Any],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
        strict_text: bool | None = None,
    ) -> torch.Tensor:
        """Raw side-b inputs -> ``(N, D)`` embeddings (with ``tower_a`` when tied); as :meth:`encode_a`."""
        embeddings, index = self.encode_unique(
            items, side="b", batch_size=batch_size, progress=progress, strict_text=strict_text
        )
        return embeddings[index]  # (N, D)

    @torch.inference_mode()
    def score(
        self, items_a: Sequence[Any], items_b: Sequence[Any], *, batch_size: int = 64, strict_text: bool | None = None
    ) -> torch.Tensor:
        """Score raw pairs ``(items_a[i], items_b[i])`` -> ``(N,)``; see ``head.higher_is_similar``.

        Each side takes what its tower reads (:mod:`pairsim.towers.modality`): strings for a text tower; for an
        image tower, image file paths, PIL images, ``uint8`` / ``bool`` arrays ``(H, W)`` or ``(H, W, C)``, float
        arrays with values in [0, 1], or tensors of the same. Anything else is one ValueError naming the argument,
        the item, what it is and what was expected (e.g. sklearn's ``load_digits().images`` are floats 0-16:
        pass ``images / 16``).

        Empty texts and texts with no known word score alike whatever they are: one warning line per side
        counts them, or, with ``strict_text`` (default :attr:`strict_text`), a DataError refuses them.

        Args:
            items_a: Side-a inputs, one per pair.
            items_b: Side-b inputs, as many as ``items_a``.
            batch_size: Inputs per encoding batch.
            strict_text: Refuse unreadable texts instead of warning; None: :attr:`strict_text`.

        Returns:
            ``(N,)`` scores on the CPU.

        Raises:
            DataError: (a ValueError) the inputs break the contract above, or the two lists differ in length.

        Example:
            >>> # model.score(["a cat sits"], ["a kitten sits"])        # a text model
            >>> # model.score(digits[:2] / 16, digits[2:4] / 16)        # an image model, floats in [0, 1]
        """
        a, ia = self.encode_unique(items_a, side="a", batch_size=batch_size, where="items_a", strict_text=strict_text)
        b, ib = self.encode_unique(items_b, side="b", batch_size=batch_size, where="items_b", strict_text=strict_text)
        if len(ia) != len(ib):  # after the inputs' own checks, which name one input given instead of a list
            raise DataError(
                f"items_a and items_b: expected as many inputs each (pair i is items_a[i] with items_b[i]), got "
                f"{len(ia)} and {len(ib)}"
            )
        scores = self.head(a[ia].to(self.device), b[ib].to(self.device)).float().cpu()  # (N, D), (N, D) -> (N,)
        return check_finite(scores, what="pair")

    def is_similar(self, scores: torch.Tensor) -> torch.Tensor:
        """Same / different decisions at the calibrated threshold."""
        if self.config.threshold is None:
            raise ValueError("this model has no calibrated threshold (train it with a validation split)")
        return self.head.is_similar(scores, self.config.threshold)
