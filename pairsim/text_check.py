"""Texts a model cannot read: one warning line (or, strictly, one error) wherever inputs are encoded.

An empty text, or one whose every word is out of the tower's vocabulary, gives the tower nothing to read:
every empty text encodes to the same vector (two empty texts score 1.000 "same"), and two different texts of
unknown words can as well. The tower says which texts are such (:meth:`pairsim.towers.TextTower.text_kinds`,
it owns the tokenizer); :func:`report_texts` turns that into one line, called from
:meth:`pairsim.scoring.PairScoring.encode_unique`, which every command and ``PairModel.score`` / ``encode_a`` /
``encode_b`` reach. The line is a :class:`TextInputWarning` (the command line prints it as
``pairsim: warning: ...``); with ``strict`` (``--strict-text``, ``strict_text=True`` or
``model.strict_text = True``) it is a :class:`~pairsim.errors.DataError` instead.

Example:
    >>> from pairsim.towers.lstm import LSTMConfig, LSTMTower
    >>> tower = LSTMTower(LSTMConfig(name="lstm", embed_dim=4, hidden_dim=4))
    >>> tower.adapt(["a cat"])
    >>> report_texts(tower, ["a cat", "", "qwerty"], where="a.txt", lines=True, strict=True)
    Traceback (most recent call last):
    ...
    pairsim.errors.DataError: a.txt: 2 of 3 texts give the model nothing to read: 1 empty or blank (line 2), 1 with no word it knows (line 3); such texts encode alike, so their scores mean nothing
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from pairsim.errors import DataError

SHOWN_LINES = 5  # line numbers named per kind


class TextInputWarning(UserWarning):
    """Some texts give the model nothing to read (empty, or no known word); their scores mean nothing."""


def _numbers(positions: list[int], unit: str) -> str:
    shown = ", ".join(str(p + 1) for p in positions[:SHOWN_LINES])
    more = ", ..." if len(positions) > SHOWN_LINES else ""
    return f"{unit}{'s' if len(positions) > 1 else ''} {shown}{more}"


def describe_texts(kinds: Sequence[str | None], *, where: str, lines: bool = False) -> str | None:
    """The one-line report of ``kinds`` (see :meth:`~pairsim.towers.TextTower.text_kinds`), None when all are fine.

    Args:
        kinds: Per input: ``"empty"``, ``"unknown"`` or None.
        where: What the inputs are (a file name, "side-a inputs").
        lines: Number them as lines of a file (else as items).

    Returns:
        The message, or None.
    """
    unit = "line" if lines else "item"
    empty = [i for i, kind in enumerate(kinds) if kind == "empty"]
    unknown = [i for i, kind in enumerate(kinds) if kind == "unknown"]
    if not empty and not unknown:
        return None
    parts = [f"{len(empty)} empty or blank ({_numbers(empty, unit)})"] if empty else []
    parts += [f"{len(unknown)} with no word it knows ({_numbers(unknown, unit)})"] if unknown else []
    bad = len(empty) + len(unknown)
    verb = "gives" if bad == 1 else "give"
    return (
        f"{where}: {bad} of {len(kinds)} texts {verb} the model nothing to read: {', '.join(parts)}; "
        "such texts encode alike, so their scores mean nothing"
    )


def report_texts(
    tower: Any,
    items: Sequence[Any],
    *,
    where: str,
    lines: bool = False,
    strict: bool = False,
    first: Sequence[int] | None = None,
    rows: Sequence[int] | None = None,
    features: Sequence[Any] | None = None,
) -> None:
    """Warn (or, with ``strict``, raise) once about the texts among ``items`` that ``tower`` cannot read.

    Args:
        tower: A text tower (anything with ``text_kinds``; other towers are skipped).
        items: The raw inputs, in their order.
        where: What they are, for the message.
        lines: Number them as lines of a file.
        strict: Raise instead of warning.
        first, rows: From :meth:`~pairsim.towers.Tower.distinct`: each distinct text is checked once.
        features: The tower's ``tokenize`` output for the distinct texts, when the caller has it (saves a pass).

    Raises:
        DataError: With ``strict``, when any text is empty or has no known word.
    """
    if getattr(tower, "modality", None) != "text" or not items:
        return
    if first is None or rows is None:
        first, rows = range(len(items)), range(len(items))
    texts = [str(items[i]) for i in first]
    distinct = tower.text_kinds(texts) if features is None else tower.text_kinds(texts, features=features)
    message = describe_texts([distinct[r] for r in rows], where=where, lines=lines)
    if message is None:
        return
    if strict:
        raise DataError(message)
    warnings.warn(message + " (strict_text / --strict-text makes this an error)", TextInputWarning, stacklevel=2)
