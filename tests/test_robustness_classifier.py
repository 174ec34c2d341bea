"""``benchmarks/robustness.py`` classifies honestly: each kind of bad end is reported as such, not as clear."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from robustness import Trial, execute

from pairsim.errors import DataError


def _raise(error: BaseException) -> None:
    raise error


def test_a_one_line_error_naming_the_input_is_clear() -> None:
    trial = Trial(call=lambda: _raise(DataError("a.txt: line 2 is blank")), expect=["a.txt", "line 2"])
    assert execute(trial) == ("clear", "pairsim: error: a.txt: line 2 is blank")


def test_missing_or_forbidden_words_are_vague() -> None:
    outcome, message = execute(Trial(call=lambda: _raise(DataError("image file not found: .")), expect=["a.txt"]))
    assert outcome == "vague" and "lacks ['a.txt']" in message
    outcome, _ = execute(
        Trial(call=lambda: _raise(DataError("not found: a.txt")), expect=["a.txt"], forbid=["not found"])
    )
    assert outcome == "vague"


def test_other_exceptions_are_tracebacks() -> None:
    assert execute(Trial(call=lambda: _raise(IndexError("max(): empty")))) == ("traceback", "IndexError: max(): empty")


def test_success_on_bad_input_is_silent_unless_the_answer_is_right() -> None:
    assert execute(Trial(call=lambda: 1))[0] == "silent"
    assert execute(Trial(call=lambda: 1, success=lambda out, value: None if value == 1 else "wrong"))[0] == "handled"
    assert execute(Trial(call=lambda: 2, success=lambda out, value: None if value == 1 else "wrong")) == (
        "silent",
        "wrong",
    )


def test_a_changed_or_deleted_file_is_lost_even_with_a_clear_error(tmp_path: Path) -> None:
    keep = tmp_path / "metrics.json"
    keep.write_text("{}")

    def clobber() -> None:
        keep.write_text('{"new": 1}')
        raise DataError("metrics.json: refused")

    assert execute(Trial(call=clobber, expect=["metrics.json"], protect=[keep]))[0] == "lost"
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"1")
    assert execute(Trial(call=lambda: (folder / "a.bin").unlink(), protect=[folder]))[0] == "lost"


def test_planted_code_and_network_use_are_unsafe(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    assert execute(Trial(call=lambda: marker.touch(), marker=marker))[0] == "unsafe"

    def phone_home() -> None:
        socket.create_connection(("192.0.2.1", 443), timeout=1)

    outcome, message = execute(Trial(call=phone_home))
    assert outcome == "unsafe" and message.startswith("tried the network 1 time(s)")
    assert execute(Trial(call=phone_home, network_ok=True))[0] == "traceback"  # refused, not unsafe


@pytest.mark.parametrize(("argv", "outcome"), [(["score", "a", "b", "--model", "m", "--top-k", "-1"], "clear"),
                                               (["score", "a"], "vague")])  # fmt: skip
def test_command_lines_run_through_main(argv: list[str], outcome: str) -> None:
    assert execute(Trial(argv=argv, expect=["--top-k"]))[0] == outcome


def test_sockets_are_restored_after_a_trial() -> None:
    real = socket.socket.connect
    execute(Trial(call=lambda: None))
    assert socket.socket.connect is real
