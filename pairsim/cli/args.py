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
import contextlib

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


MAX_THREADS = 1024  # train.speed.threads' upper bound


def thread_count(text: str) -> int:
    """A thread count for ``--threads``: 0 (half the cores, 1 to 4) up to :data:`MAX_THREADS`."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected 0 (half the cores, 1 to 4) to {MAX_THREADS}, got {text!r}")
    return value


def add_threads(parser: argparse.ArgumentParser, *, recipe: bool = True) -> None:
    """``--threads N``: CPU threads for torch (and onnxruntime) while the command runs a model.

    With a recipe (train, eval) it is the override ``train.speed.threads=N`` (see :func:`threads_override`);
    other commands run under :func:`threads_scope`.

    Args:
        parser: The command's parser.
        recipe: Whether the command reads a recipe (the help says which setting it equals).
    """
    default = "default 0: half the cores, 1 to 4" if recipe else "default: PyTorch's own, one per core"
    same = "same as train.speed.threads=N, " if recipe else "0: half the cores, 1 to 4; "
    parser.add_argument(
        "--threads", type=thread_count, default=None, help=f"CPU threads for the model ({same}{default})"
    )


def threads_scope(args: argparse.Namespace) -> contextlib.AbstractContextManager[object]:
    """The torch thread count of ``--threads`` for the whole command (nothing changed without the flag).

    Example:
        >>> with threads_scope(argparse.Namespace(threads=None)):
        ...     pass
    """
    if getattr(args, "threads", None) is None:
        return contextlib.nullcontext()
    from pairsim.train.threads import use_threads

    return use_threads(args.threads)


def runtime_threads(args: argparse.Namespace) -> int | None:
    """The thread count ``--threads`` means for onnxruntime (0: half the cores, 1 to 4), or None without the flag."""
    if getattr(args, "threads", None) is None:
        return None
    from pairsim.train.threads import resolve_threads

    return resolve_threads(args.threads)


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
