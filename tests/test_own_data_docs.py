"""docs/own_data.md followed as written, on the shipped data: its YAML blocks are read from the page, the only
change being where ``../shared/data`` lives (and a datasets cache folder under the test's tmp folder).

* the MRPC table through ``pair_table`` trains (a few seeded steps of a tiny BERT) to exactly the numbers of
  ``recipes/mrpc_minilm.yaml`` on ``data: {name: mrpc}``;
* the AT&T faces as an image-pair CSV (built here from the pairs the ``att_faces`` recipe evaluates, with
  ``impostor`` labels and paths relative to the CSV) score exactly as the recipe's own evaluation of them;
* the graded, image-folder and caption blocks load; every ``pair_table`` field is in the field table;
* the "first hour" commands parse as ``pairsim`` commands, and their sweep keys load into the recipe they name.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from pairsim.data import load_dataset
from pairsim.data.sources.pair_table import PairTableSource
from pairsim.data.types import LabelledItems, PairTable
from pairsim.evaluate import evaluate_split
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "own_data.md"
SHARED_DATA = "../shared/data"


def _data_dir() -> Path:
    env = os.environ.get("PAIRSIM_DATA_DIR")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate.resolve()
    pytest.skip("the shipped data is not here (set PAIRSIM_DATA_DIR)")


def doc_block(name: str, data_dir: Path | str) -> dict[str, Any]:
    """The YAML block after ``<!-- own-data: NAME -->``, with ``../shared/data`` pointing at ``data_dir``."""
    match = re.search(rf"<!-- own-data: {re.escape(name)} -->\n```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/own_data.md has no block {name!r}"
    return yaml.safe_load(match.group(1).replace(SHARED_DATA, str(data_dir)))


def test_every_pair_table_field_is_documented() -> None:
    table = DOC.read_text().split("## `pair_table`: every field")[1].split("\n## ")[0]
    for field in dataclasses.fields(PairTableSource.Config):
        assert f"`{field.name}`" in table, field.name


def test_mrpc_table_trains_to_the_numbers_of_the_mrpc_recipe(tmp_path: Path, tiny_bert_dir: Path) -> None:
    data_dir = _data_dir()
    tiny = ["train.epochs=1", "train.schedule.max_steps=3", "train.batch_size=8", "train.device=cpu", "train.speed.threads=1",
            "eval.plots=false", f"model.tower.model={tiny_bert_dir}", "model.tower.backbone_config=null",
            f"data.path={data_dir / 'mrpc'}"]  # fmt: skip
    named = Recipe.load(REPO / "recipes" / "mrpc_minilm.yaml", [*tiny, f"output_dir={tmp_path / 'named'}"])
    raw = named.to_dict()
    raw["data"] = {**doc_block("text-binary", data_dir)["data"], "cache_dir": str(tmp_path / "hf")}
    raw["output_dir"] = str(tmp_path / "table")
    table = Recipe.from_dict(raw)
    first = Trainer(named, progress=False).run()
    second = Trainer(table, progress=False).run()
    assert first["steps"] == second["steps"] == 3
    assert second["test"] == first["test"] and second["history"] == first["history"]
    assert 0.0 < first["test"]["roc_auc"] < 1.0


def test_image_pair_csv_scores_as_the_att_faces_recipe(tmp_path: Path) -> None:
    data_dir = _data_dir()
    faces = data_dir / "att_faces"
    recipe = Recipe.load(
        REPO / "recipes" / "att_faces.yaml", [f"data.path={faces}", "eval.pairs=60", "eval.episodes=0"]
    )
    splits = load_dataset(recipe.data)
    torch.manual_seed(0)
    model = PairModel.from_config(recipe.model)
    named = {split: evaluate_split(model, getattr(splits, split), recipe.eval, split=split, calibrate=True)
             for split in ("val", "test")}  # fmt: skip

    # the docs' CSVs: the same pairs, paths relative to the CSV's folder, 1 = impostor
    folder = tmp_path / "att_faces"
    folder.mkdir()
    for subject in faces.iterdir():
        if subject.is_dir():
            (folder / subject.name).symlink_to(subject, target_is_directory=True)
    for split, (_, scored) in {**named, "train": named["val"]}.items():
        lines = ["left,right,impostor"]
        for a, b, y in zip(scored.items_a, scored.items_b, scored.labels.tolist(), strict=True):
            rel_a, rel_b = (Path(p).relative_to(faces).as_posix() for p in (a, b))
            lines.append(f"{rel_a},{rel_b},{int(1 - y)}")
        (folder / f"pairs_{split}.csv").write_text("\n".join(lines) + "\n")
    data = {**doc_block("image-pairs", tmp_path)["data"], "cache_dir": str(tmp_path / "hf")}
    tables = load_dataset(data)
    for split in ("val", "test"):
        table = getattr(tables, split)
        assert isinstance(table, PairTable) and table.modality == "image"
        metrics, scored = evaluate_split(model, table, recipe.eval, split=split, calibrate=True)
        assert torch.equal(scored.labels, named[split][1].labels)
        assert metrics == named[split][0]


def test_graded_block_loads_a_sick_style_table(tmp_path: Path) -> None:
    sick = tmp_path / "data" / "sick"
    sick.mkdir(parents=True)
    for split, n in (("train", 30), ("dev", 6), ("test", 6)):
        rows = [f"{split} left {i},{split} right {i},{1 + i % 5}" for i in range(n)]
        (sick / f"{split}.csv").write_text("\n".join(["sentence_A,sentence_B,relatedness_score", *rows]) + "\n")
    data = doc_block("text-graded", tmp_path)["data"]
    data = {k: (str(tmp_path / v) if isinstance(v, str) and v.startswith("data/") else v) for k, v in data.items()}
    splits = load_dataset({**data, "cache_dir": str(tmp_path / "hf")})
    assert [len(t) for _, t in splits.items()] == [30, 6, 6]
    assert splits.train.scores is not None
    assert splits.train.labels == [float(s >= 4.0) for s in splits.train.scores]


def test_image_folder_and_caption_blocks_load() -> None:
    data_dir = _data_dir()
    folder = load_dataset(doc_block("image-folder", data_dir)["data"])
    assert all(isinstance(t, LabelledItems) for _, t in folder.items())
    classes = [set(t.labels) for _, t in folder.items()]
    assert sum(len(c) for c in classes) == 40 and not (classes[0] & classes[1] or classes[0] & classes[2])
    captions = load_dataset(copy.deepcopy(doc_block("captions", data_dir)["data"]))
    assert all(len(t) > 0 for _, t in captions.items())


def test_first_hour_commands_parse_and_their_sweep_keys_load() -> None:
    import shlex

    from pairsim.cli import build_parser
    from pairsim.train.sweep.space import SearchSpace

    match = re.search(r"<!-- own-data: first-hour -->\n```bash\n(.*?)```", DOC.read_text(), re.S)
    assert match, "docs/own_data.md has no first-hour block"
    commands = [shlex.split(line, comments=True) for line in match.group(1).splitlines()]
    commands = [c for c in commands if c and c[0] == "pairsim"]
    assert [c[1] for c in commands] == ["eval", "eval", "train", "sweep"]
    for argv in commands:
        args = build_parser().parse_args(argv[1:])
        if args.command == "sweep":
            assert args.budget == "30m" and len(args.tries) == 2
            space = SearchSpace.parse({}, args.tries)
            fixed = list(args.overrides)
            space.check(lambda extra, fixed=fixed: Recipe.load(REPO / "recipes" / "mrpc_minilm.yaml", [*fixed, *extra]))
            assert space.grid_size() == 6
