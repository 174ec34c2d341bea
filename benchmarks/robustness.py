"""Robustness table: every bad input, planted file and failing command of issues 8 and 22, run for real, and how each ends.

Each case (``benchmarks/robustness_cases_*.py``, every such file is read) sets up files in its own temporary folder, runs one
``pairsim`` command in this process (``pairsim.cli.main``, the console script's entry point) or one API call,
and is classified by what actually happened:

* **clear**: exit code 2, exactly one line ``pairsim...: error: ...`` on stderr that contains the words
  the case expects (the bad input's name and what was expected), no traceback, and every earlier file
  byte-identical (for an API call: a one-line ``PairsimError`` with those words).
* **handled**: the command succeeds and its answer is right (a byte-order mark stripped, a model recovered).
* **vague**: a one-line error that lacks the expected words, or an error that is not one line / not exit 2.
* **traceback**: an exception other than ``PairsimError`` escaped.
* **silent**: the command succeeded with a wrong or meaningless answer.
* **lost**: an earlier file (a finished run's model or metrics, a user's file) changed or disappeared.
* **unsafe**: code planted in a file ran, or a local load tried the network (sockets are patched to refuse).

Tiny models are built by the script (a 1-epoch digits CNN trained with ``pairsim train``, an LSTM and a
2-layer BERT with a made-up vocabulary), so the run needs no ``../shared`` assets and takes about a minute.

Run from the repository root::

    PYTHONPATH=. python benchmarks/robustness.py --out benchmarks/robustness.md

``--only NAME ...`` runs some cases; ``--list`` prints them. The exit code is 0 whatever the outcomes
(the table is the result); 1 only if the script itself fails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import re
import shlex
import socket
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from robustness_context import Trial  # noqa: E402  (the folder is on the path just above)

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

OUTCOMES = ("clear", "handled", "vague", "traceback", "silent", "lost", "unsafe")

_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d ")


@dataclass
class Row:
    case: str
    group: str
    command: str
    outcome: str
    message: str
    seconds: float


def _snapshot(paths: list[Path]) -> dict[str, bytes | None]:
    """Bytes of every file under ``paths`` (None for a missing path)."""
    out: dict[str, bytes | None] = {}
    for root in paths:
        if root.is_file():
            out[str(root)] = root.read_bytes()
        elif root.is_dir():
            out[str(root)] = b"<dir>"
            for p in sorted(root.rglob("*")):
                out[str(p)] = p.read_bytes() if p.is_file() else b"<dir>"
        else:
            out[str(root)] = None
    return out


class _NoNetwork:
    """Refuse and count every outgoing connection while active."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def __enter__(self) -> _NoNetwork:
        self._connect, self._create = socket.socket.connect, socket.create_connection

        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.attempts.append(repr(args[1:2] or args[:1]))
            raise OSError("network disabled by benchmarks/robustness.py")

        socket.socket.connect = lambda sock, address: refuse(sock, address)  # type: ignore[method-assign]
        socket.create_connection = lambda address, *a, **k: refuse(address)  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: Any) -> None:
        socket.socket.connect, socket.create_connection = self._connect, self._create  # type: ignore[method-assign]


_TMP: list[str] = []  # the run's temporary folder, shown as $TMP


def _shorten(text: str, limit: int = 180) -> str:
    for tmp in _TMP:
        text = text.replace(tmp, "$TMP")
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def execute(trial: Trial) -> tuple[str, str]:
    """Run one trial and classify its end: ``(outcome, message)``."""
    from pairsim.cli import main
    from pairsim.errors import PairsimError

    before = _snapshot(trial.protect)
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    value: Any = None
    crashed = ""
    cwd = os.getcwd()
    with _NoNetwork() as net:
        try:
            if trial.cwd is not None:
                os.chdir(trial.cwd)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                if trial.argv is not None:
                    try:
                        code = main([str(a) for a in trial.argv])
                    except SystemExit as exit_:
                        code = exit_.code if isinstance(exit_.code, int) else 1
                else:
                    assert trial.call is not None
                    try:
                        value = trial.call()
                        code = 0
                    except PairsimError as error:
                        print(f"pairsim: error: {error}", file=sys.stderr)
                        code = 2
        except BaseException as error:  # anything else escaping is a traceback for the user
            if isinstance(error, KeyboardInterrupt):
                raise
            crashed = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()[-1]
        finally:
            os.chdir(cwd)
    stderr = err.getvalue()
    # progress log lines ("HH:MM:SS training ...") are not error output; every other line counts
    lines = [line for line in stderr.splitlines() if line.strip() and not _LOG_LINE.match(line)]
    message = lines[-1] if lines else ""

    if trial.marker is not None and trial.marker.exists():
        return "unsafe", "planted code ran (its marker file was written); " + _shorten(crashed or message)
    if net.attempts and not trial.network_ok:
        return "unsafe", f"tried the network {len(net.attempts)} time(s); " + _shorten(crashed or message)
    after = _snapshot(trial.protect)
    changed = [k for k in before if after.get(k) != before[k]] + [k for k in after if k not in before]
    if changed:
        return (
            "lost",
            f"changed: {Path(changed[0]).name}{' +' + str(len(changed) - 1) if len(changed) > 1 else ''}; "
            + (_shorten(crashed or message, 120)),
        )
    if crashed:
        return "traceback", _shorten(crashed)
    if "Traceback (most recent call last)" in stderr:
        return "traceback", _shorten(message)
    if code == 0:
        problem = trial.success(out.getvalue(), value) if trial.success else "succeeded (exit 0) on bad input"
        return (
            ("handled", _shorten(out.getvalue().splitlines()[-1] if out.getvalue() else "ok"))
            if problem is None
            else (
                "silent",
                _shorten(problem),
            )
        )
    one_line = len(lines) == 1 and ": error: " in message
    if code == 2 and one_line:
        low = message.lower()
        missing = [w for w in trial.expect if not any(alt.lower() in low for alt in w.split("|"))]
        bad = [w for w in trial.forbid if w.lower() in low]
        wrong = trial.check_message(message) if trial.check_message else None
        if wrong:
            bad.append(wrong)
        if not missing and not bad:
            return "clear", _shorten(message)
        why = (f"lacks {missing}" if missing else "") + (f" says {bad}" if bad else "")
        return "vague", _shorten(f"{message} [{why.strip()}]")
    return "vague", _shorten(f"exit {code}, {len(lines)} stderr line(s): {message}")


def _command(trial: Trial, tiny: list[str]) -> str:
    argv = [str(a) for a in (trial.argv or [])]
    if tiny and all(t in argv for t in tiny):
        at = argv.index(tiny[0])
        argv = [*argv[:at], "$TINY", *[a for a in argv[at:] if a not in tiny]]
    text = trial.shown or "pairsim " + " ".join(a if a == "$TINY" else shlex.quote(a) for a in argv)
    return _shorten(text.replace(str(REPO) + "/", ""), 200)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def write_table(rows: list[Row], path: Path, *, command: str, seconds: float, tiny: list[str]) -> None:
    counts = {o: sum(r.outcome == o for r in rows) for o in OUTCOMES}
    lines = [
        "# Robustness: how each bad input of issues 8 and 22 ends",
        "",
        f"Measured {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} on {_cpu()}, Python {platform.python_version()}, "
        f"{len(rows)} cases in {seconds:.0f} s (wall), with:",
        "",
        f"    {command}",
        "",
        "Outcomes: **clear** = exit 2, one stderr line naming the input and what was expected, no traceback, "
        "earlier files intact; **handled** = succeeds with the right answer; **vague** = an error that misses "
        "the expected words or is not one line; **traceback**; **silent** = exit 0 with a wrong answer; "
        "**lost** = an earlier file changed; **unsafe** = planted code ran or a local load tried the network. "
        "`$TMP/cNN` is the case's temporary folder; `$TINY` stands for the overrides that make a 1-epoch digits run: "
        f"`{' '.join(tiny)}`.",
        "",
        "Totals: " + ", ".join(f"{o} {n}" for o, n in counts.items() if n),
        "",
        "| group | case | command | outcome | message |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.group} | {r.case} | `{r.command}` | **{r.outcome}** | {r.message} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import importlib

    import robustness_context as cases_module

    for module in sorted(Path(__file__).resolve().parent.glob("robustness_cases_*.py")):
        importlib.import_module(module.stem)  # each file registers its cases

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/robustness.md"), help="Markdown table to write")
    parser.add_argument("--only", nargs="*", help="run only these cases")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    cases = sorted(cases_module.CASES, key=lambda c: cases_module.GROUPS.index(c[1]))  # the order
    if args.list:
        for name, group, _ in cases:
            print(f"{group:24s} {name}")
        return 0
    if args.only:
        cases = [c for c in cases if c[0] in set(args.only)]
    start = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pairsim-robustness-") as tmp_name:
        tmp = Path(tmp_name)
        _TMP[:] = [str(tmp.resolve()), str(tmp)]
        ctx = cases_module.Context(tmp)
        for index, (name, group, make) in enumerate(cases):
            case_dir = tmp / f"c{index:02d}"  # a neutral name, so no expected word is found in a path
            case_dir.mkdir()
            t0 = time.perf_counter()
            try:
                trial = make(ctx, case_dir)
            except cases_module.Skip as why:
                rows.append(Row(name, group, "-", "skipped", str(why), 0.0))
                continue
            outcome, message = execute(trial)
            rows.append(Row(name, group, _command(trial, cases_module.TINY), outcome, message,
                            time.perf_counter() - t0))  # fmt: skip
            print(f"{outcome:9s} {time.perf_counter() - t0:5.1f}s  {name}: {rows[-1].message}", flush=True)
    seconds = time.perf_counter() - start
    command = "PYTHONPATH=. python benchmarks/robustness.py" + (f" --out {args.out}" if args.out else "")
    write_table(rows, args.out, command=command, seconds=seconds, tiny=cases_module.TINY)
    totals = ", ".join(f"{o} {sum(r.outcome == o for r in rows)}" for o in (*OUTCOMES, "skipped"))
    print(f"{len(rows)} cases in {seconds:.0f} s: {totals}; table in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
