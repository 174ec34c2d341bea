"""The ``pairsim`` command line: train, eval, score, encode, enroll, identify.

Every user error (bad recipe, missing file, unreadable image, ...) is printed as one line
``pairsim: error: ...`` with exit code 2; nothing is a bare traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
import warnings

from pairsim.cli import (
    encode,
    evaluate,
    export,
    gallery,
    mine,
    push,
    rerank,
    score,
    serve,
    sweep,
    track,
    train,
    unenroll,
)
from pairsim.cli.args import threads_scope
from pairsim.errors import PairsimError
from pairsim.text_check import TextInputWarning

COMMANDS = (train, evaluate, score, encode, gallery, unenroll, export, push, serve, rerank, mine, track, sweep)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line ``pairsim CMD: error: ...`` (exit 2) like every other error."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pairsim", description="Learn and score the similarity of pairs.")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                        help="inference precision of encode / score / eval / identify / serve (default fp32, or "
                             "$PAIRSIM_PRECISION; auto: bf16 where the CPU computes it natively)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: typing.TextIO | None = None,
    line: str | None = None,
) -> None:
    """pairsim's own warnings (e.g. unreadable texts) as one line ``pairsim: warning: ...``; others as Python does."""
    if issubclass(category, TextInputWarning):
        print(f"pairsim: warning: {message}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def late_overrides(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]) -> None:
    """``key=value`` overrides given after an option (``pairsim eval MODEL RECIPE --split val key=value``) join the
    command's overrides, in the order given; any other leftover is argparse's one usage line (exit 2)."""
    late = [a for a in extra if "=" in a and not a.startswith("-")] if hasattr(args, "overrides") else []
    rest = [a for a in extra if a not in late]
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if late:
        args.overrides = [*args.overrides, *late]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pairsim`` console script. Returns the exit code."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    late_overrides(parser, args, extra)
    if args.precision:  # read where models run (pairsim.device.precision_setting); restored after the command
        previous = os.environ.get("PAIRSIM_PRECISION")
        os.environ["PAIRSIM_PRECISION"] = args.precision
        try:
            return _run(args)
        finally:
            if previous is None:
                os.environ.pop("PAIRSIM_PRECISION", None)
            else:
                os.environ["PAIRSIM_PRECISION"] = previous
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings(), threads_scope(args):  # both restored after the command (also in-process)
            warnings.showwarning = _show_warning
            warnings.simplefilter("always", TextInputWarning)  # one line per input file, every run
            return int(args.run(args) or 0)
    except PairsimError as err:
        print(f"pairsim: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the file system refused (permissions, disk full): still one line
        where = f": {err.filename}" if err.filename else ""
        print(f"pairsim: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pairsim: interrupted", file=sys.stderr)
        return 130
