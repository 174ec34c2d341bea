"""The README's Quickstart runs as written: its bash lines, then its Python block, in a fresh folder laid out as
the repository (``recipes/``) beside ``shared/`` (the local data and models the README names as ``../shared``)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def section(title: str) -> str:
    """The README's text under ``## title``, up to the next ``## `` heading."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of ``language`` in ``text``."""
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_quickstart_has_its_commands_and_code() -> None:
    quickstart = section("Quickstart")
    assert len(blocks(quickstart, "bash")) == 1 and len(blocks(quickstart, "python")) == 1
    assert "images_a" in blocks(quickstart, "python")[0] and "load_digits" in blocks(quickstart, "python")[0]


@pytest.mark.slow
def test_quickstart_runs_as_written(tmp_path: Path, shared_dir: Path, minilm_path: Path) -> None:
    quickstart = section("Quickstart")
    work = tmp_path / "pairsim"
    work.mkdir()
    (work / "recipes").symlink_to(REPO / "recipes")
    (tmp_path / "shared").symlink_to(shared_dir)  # ../shared from the working folder, as in a checkout
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2"}
    for line in blocks(quickstart, "bash")[0].splitlines():
        command = line.split("#", 1)[0].strip()
        if not command:
            continue
        argv = shlex.split(command)
        assert argv[0] == "pairsim"  # run the same command with this interpreter
        done = subprocess.run([sys.executable, "-m", *argv], cwd=work, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    code = blocks(quickstart, "python")[0]
    done = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("[0 1 2 3] [0 1 2 3] tensor([")  # the digits of each pair, then their scores
    assert lines[0].count("True") >= 3  # the trained model (test accuracy ~0.98) calls same digits the same
    assert (work / "my-model" / "config.json").is_file()
    similarity = float(re.search(r"tensor\(\[([0-9.]+)\]\)", lines[-1]).group(1))
    assert 0.5 < similarity <= 1.0  # MiniLM: the two sentences say nearly the same
