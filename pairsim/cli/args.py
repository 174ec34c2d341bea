"""argparse ``type=`` helpers, so a bad number or device on the command line is one usage line, exit 2.

Example:
    >>> positive_int("8")
    8
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive integer, got '0'
"""

from __future__ import annotations

import argparse

from pairsim.errors import ConfigError


def positive_int(text: str) -> int:
    """An integer >= 1 (``--batch-size``, ``--top-k``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def device_name(text: str) -> str:
    """A device name spelled as torch knows it: auto, cpu, cuda, cuda:N or mps (availability is checked later)."""
    from pairsim.device import parse_device

    try:
        parse_device(text, where="device")
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("device: ")) from None
    return text


def add_threads(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: the same as the override ``train.speed.threads=N`` (see :func:`threads_override`)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch, same as train.speed.threads=N (default 0: half the cores, 1 to 4)",
    )


def threads_override(args: argparse.Namespace) -> list[str]:
    """``["train.speed.threads=N"]`` when ``--threads N`` was given, else ``[]``: the recipe's range check applies."""
    return [] if args.threads is None else [f"train.speed.threads={args.threads}"]


def add_allow_unverified(parser: argparse.ArgumentParser) -> None:
    """``--allow-unverified``: load a model directory that records no sha256 of its files (one warning line).

    Every command that loads a model takes it; a model saved by this pairsim never needs it, and a sha256 map
    that is present is checked whatever the flag says.
    """
    parser.add_argument(
        "--allow-unverified",
        action="store_true",
        help="load a model whose config.json records no sha256 of its files (an old save, or the map removed); "
        "its files cannot be checked, a warning line says so",
    )


def add_strict_text(parser: argparse.ArgumentParser) -> None:
    """``--strict-text``: refuse empty texts and texts with no word the model knows (see :mod:`pairsim.text_check`)."""
    parser.add_argument(
        "--strict-text",
        action="store_true",
        help="stop with an error on empty texts and texts with no word the model knows (default: one warning "
        "line counting them; their scores mean nothing)",
    )


def add_truncate_dim(parser: argparse.ArgumentParser) -> None:
    """``--truncate-dim D``: keep the first D dimensions of every embedding (a model trained with the
    ``matryoshka`` loss keeps its quality at its trained sizes)."""
    parser.add_argument(
        "--truncate-dim",
        type=positive_int,
        metavar="D",
        help="keep the first D dimensions of every embedding (renormalised for a cosine head); default: the "
        "model's own truncate_dim, else all",
    )


def apply_truncate_dim(model: object, args: argparse.Namespace) -> None:
    """Set ``--truncate-dim`` on a loaded model (nothing when not given).

    Raises:
        ConfigError: The model is an ONNX export (its graphs were made at one size), or the size does not fit.
    """
    dim = getattr(args, "truncate_dim", None)
    if dim is None:
        return
    setter = getattr(model, "set_truncate_dim", None)
    if setter is None:
        raise ConfigError(
            "--truncate-dim: an ONNX export gives the size it was exported at; export with --truncate-dim"
        )
    setter(dim)
