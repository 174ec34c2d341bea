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

from pairsim.cli import encode, evaluate, export, gallery, push, score, serve, sweep, train, unenroll
from pairsim.errors import PairsimError
from pairsim.text_check import TextInputWarning

COMMANDS = (train, evaluate, score, encode, gallery, unenroll, export, push, serve, sweep)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line ``pairsim CMD: error: ...`` (exit 2) like every other error."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pairsim", description="Learn and score the similarity of pairs.")
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pairsim`` console script. Returns the exit code."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():  # restored after the command (main is also called in-process)
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
