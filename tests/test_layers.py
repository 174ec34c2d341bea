"""The package's floors and its lack of import cycles, as written in pyproject.toml's import-linter contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # import-linter brings tomli on Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
LAYERS = next(c for c in CONTRACTS if c["type"] == "layers")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("pairsim", exclude_type_checking_imports=False)


def _layers() -> tuple[grimp.Layer, ...]:
    def layer(text: str) -> grimp.Layer:
        independent = "|" in text
        return grimp.Layer(*[m.strip() for m in text.replace(":", "|").split("|")], independent=independent)

    return tuple(layer(text) for text in LAYERS["layers"])


def test_contracts_are_kept() -> None:
    """`lint-imports` itself, on this checkout's configuration: no import runs up a floor, no cycle.

    It runs in a process of its own: the linter reconfigures logging, which other tests read.
    """
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True, no_logo=True))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_top_level_module_has_a_floor(graph: grimp.ImportGraph) -> None:
    named = {m for layer in _layers() for m in layer.module_tails}
    top = {m.split(".")[1] for m in graph.modules if m.count(".") >= 1}
    assert top <= named, f"give these a floor in pyproject.toml: {sorted(top - named)}"


def test_an_upward_import_would_break_the_floors(graph: grimp.ImportGraph) -> None:
    """The contract can fail: the data layer importing the evaluator (as two sources once did) is caught."""
    graph.add_import(importer="pairsim.data.sources.omniglot", imported="pairsim.evaluate")
    broken = graph.find_illegal_dependencies_for_layers(layers=_layers(), containers={"pairsim"})
    assert {(d.importer, d.imported) for d in broken} >= {("pairsim.data", "pairsim.evaluate")}


def test_type_checking_imports_count_too(graph: grimp.ImportGraph) -> None:
    """Annotations do not get a pass: no module imports pairsim.model for its types from a floor below it."""
    below_model = ("pairsim.card", "pairsim.push", "pairsim.hub", "pairsim.towers", "pairsim.heads", "pairsim.data")
    importers = graph.find_modules_that_directly_import("pairsim.model")
    assert not [m for m in importers if m.startswith(below_model)]
