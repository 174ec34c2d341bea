"""Every shipped recipe loads and trains: two optimiser steps on a tiny slice of its data, on the CPU.

Each recipe runs as written except for the overrides below, which shrink the data (a few subjects,
alphabets, images or pairs), the towers (a tiny random BERT instead of MiniLM, narrow CNNs, no timm
weights) and the schedule (2 steps, no per-epoch validation, no plots). Recipes whose data is not on disk
are skipped with the reason; the real data is read from ``$PAIRSIM_DATA_DIR`` or ``<repo>/../shared/data``.
Quora has no offline copy: its recipe reads the fixture in ``tests/fixtures/quora``.

A bad recipe or override is one :class:`ConfigError`, one line, naming the key.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pairsim.data import build_source
from pairsim.errors import ConfigError
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.towers import TOWERS
from pairsim.track.recipe import is_tracking_recipe
from pairsim.train.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
ALL_RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
RECIPES = [p for p in ALL_RECIPES if not is_tracking_recipe(p)]  # pair recipes; tracking ones: tests/track
QUORA_FIXTURE = REPO / "tests" / "fixtures" / "quora"
SILVER_FIXTURE = REPO / "tests" / "fixtures" / "stsb_silver"

COMMON = [
    "train.epochs=1",
    "train.schedule.max_steps=2",
    "train.batch_size=4",
    "train.validation.every_epoch=false",
    "train.device=cpu",
    "train.speed.num_workers=0",
    "eval.pairs=20",
    "eval.episodes=0",
    "eval.plots=false",
]
TINY_BERT = ["model.tower.model={bert}", "model.tower.backbone_config=null"]
# recipe file stem -> overrides that shrink it; a new recipe needs a row here (see test_every_recipe_has_a_row)
TINY: dict[str, list[str]] = {
    "att_faces": [
        "data.subjects=[s1,s2,s3,s4,s5,s6,s7,s8,s9]",
        "data.val_count=2",
        "model.tower.image_size=[32,32]",
        "model.tower.width=0.25",
    ],
    "att_faces_efficientnet": [
        "data.subjects=[s1,s2,s3,s4,s5,s6,s7,s8,s9]",
        "data.test_count=2",
        "data.val_count=2",
        "model.tower.weights=null",
        "model.tower.image_size=[32,32]",
        "model.head.cohort=20",  # of the 5 training subjects' 50 faces
        "sampler.classes_per_batch=2",
        "sampler.samples_per_class=2",
    ],
    "digits_pairs": ["model.tower.width=0.25"],
    "fashion_mnist_cnn": ["data.limit=200", "model.tower.width=0.25"],
    "fashion_mnist_mlp": ["data.limit=200", "model.tower.hidden=[16]", "model.tower.out_dim=16"],
    "fnc1_title_body": [
        "data.limit=60",
        *TINY_BERT,
        "model.tower_b.model={bert}",
        "model.tower_b.backbone_config=null",
    ],
    "flickr8k_caption_image": [
        "data.max_images=30",
        *TINY_BERT,
        "model.tower.out_dim=16",
        "model.tower_b.weights=null",
        "model.tower_b.out_dim=16",
        "model.tower_b.image_size=[64,64]",
    ],
    "mrpc_minilm": ["data.limit=60", *TINY_BERT],
    "omniglot_oneshot": [
        "data.background_alphabets=[Arcadian]",
        "data.evaluation_alphabets=[Angelic]",
        "data.drawers=4",
        "model.tower.width=0.125",
        "model.tower.out_dim=16",
    ],
    "omniglot_protonet": [
        "data.background_alphabets=[Arcadian]",
        "data.evaluation_alphabets=[Angelic]",
        "data.drawers=4",
        "model.tower.width=0.125",
        "sampler.n_way=5",
        "sampler.n_query=2",
    ],
    "quora_pairs": [f"data.path={QUORA_FIXTURE}"],
    "rankiqa": ["data.max_images=30", "data.side=32", "model.tower.weights=null", "model.tower.image_size=[32,32]"],
    "stsb_minilm": ["data.limit=60", *TINY_BERT],
    "stsb_cross_encoder": [
        "data.limit=60",
        "model.tower.model={bert}",
        "model.head.model={bert}",
        "model.head.backbone_config=null",
        "model.head.template=null",
    ],
    "stsb_distilled": [
        f"data.path={SILVER_FIXTURE / 'train.csv'}",
        f"data.val_path={SILVER_FIXTURE / 'val.csv'}",
        f"data.test_path={SILVER_FIXTURE / 'test.csv'}",
        "data.binarize_at=0.4",
        *TINY_BERT,
    ],
}
# the test metric each recipe's data must produce (the one that picks its best model)
HEADLINE = {
    "att_faces": "roc_auc",
    "att_faces_efficientnet": "roc_auc",
    "digits_pairs": "roc_auc",
    "fashion_mnist_cnn": "roc_auc",
    "fashion_mnist_mlp": "roc_auc",
    "flickr8k_caption_image": "t2i_recall@1",
    "fnc1_title_body": "roc_auc",
    "mrpc_minilm": "roc_auc",
    "omniglot_oneshot": "official_accuracy",  # the source's own metrics: the real all_runs.zip
    "omniglot_protonet": "official_accuracy",
    "quora_pairs": "roc_auc",
    "rankiqa": "rank_spearman",  # plus heldout_distortion_rank_spearman from the source
    "stsb_minilm": "spearman",
    "stsb_cross_encoder": "spearman",
    "stsb_distilled": "spearman",
}


def _data_dir() -> Path | None:
    env = os.environ.get("PAIRSIM_DATA_DIR")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def test_every_recipe_has_a_row() -> None:
    assert RECIPES, "no recipes found"
    assert sorted(p.stem for p in RECIPES) == sorted(TINY) == sorted(HEADLINE)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads_as_written(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # recipes name ../shared/... relative to the repository root, as the README runs them
    recipe = Recipe.load(path)
    assert recipe.output_dir == f"runs/{path.stem}"
    # the resolved recipe is a fixed point of YAML round trips (what the trainer writes to recipe.yaml)
    assert Recipe.from_dict(yaml.safe_load(recipe.to_yaml())).to_dict() == recipe.to_dict()
    # the header's command names this file
    assert f"recipes/{path.name}" in path.read_text().split("model:")[0]


RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"
COMMAND = re.compile(r"#\s+(?:[A-Z_][A-Z0-9_]*=\S+\s+)*pairsim train recipes/(\S+\.yaml)(?:\s|$)")
POINTER = re.compile(r'benchmarks/RESULTS\.md \(section "([^"]+)"\)')


@pytest.mark.parametrize("path", ALL_RECIPES, ids=lambda p: p.stem)
def test_recipe_header_is_short_and_points_to_results(path: Path) -> None:
    """A header is what the recipe does, its command, its headline result and where the rest lives (issue 21):
    at most 8 comment lines before the config; history and design notes go to benchmarks/RESULTS.md."""
    lines = path.read_text().splitlines()
    header = lines[: next(i for i, line in enumerate(lines) if not line.startswith("#"))]
    assert 1 <= len(header) <= 8, f"{path.name}: {len(header)} header lines (at most 8)"
    commands = [m.group(1) for line in header if (m := COMMAND.match(line))]
    assert commands == [path.name], f"{path.name}: no '[VAR=value ...] pairsim train recipes/{path.name}' line"
    assert sum(line.startswith("# Result: ") for line in header) == 1, f"{path.name}: no '# Result: ' line"
    sections = POINTER.findall("\n".join(header))
    assert len(sections) == 1, f"{path.name}: no pointer 'benchmarks/RESULTS.md (section \"...\")'"
    headings = [line[4:] for line in RESULTS_MD.read_text().splitlines() if line.startswith("### ")]
    assert any(h.startswith(sections[0]) for h in headings), f"{path.name}: RESULTS.md has no section {sections[0]!r}"


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_trains_two_steps(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.chdir(REPO)
    data_dir = _data_dir()
    if data_dir is not None:
        monkeypatch.setenv("PAIRSIM_DATA_DIR", str(data_dir))
    tiny = TINY[path.stem]
    if any("{bert}" in o for o in tiny):
        bert = request.getfixturevalue("tiny_bert_dir")  # skips, saying why, without ../shared/models
        tiny = [o.format(bert=bert) for o in tiny]
    out = tmp_path / "run"
    overrides = [*COMMON, *tiny, f"output_dir={out}"]
    recipe = Recipe.load(path, overrides)

    source = build_source(recipe.data)
    if not source.present(source.root()):
        pytest.skip(f"{recipe.data.name} data not found in {source.root()} (set PAIRSIM_DATA_DIR)")
    glove = getattr(recipe.model.tower, "glove", None)
    if glove and not Path(glove).is_file():  # the MaLSTM recipe's GloVe file lives in ../shared/models
        overrides.append("model.tower.glove=null")
        recipe = Recipe.load(path, overrides)

    from pairsim.train.trainer import Trainer

    metrics = Trainer(recipe, progress=False).run()

    saved = json.loads((out / "metrics.json").read_text())
    assert saved["steps"] == 2 == metrics["steps"]
    assert saved["history"][-1]["step"] == 2
    assert math.isfinite(saved["history"][-1]["loss"])
    test = saved["test"]
    assert HEADLINE[path.stem] in test
    numbers = {k: v for k, v in _flatten(test).items() if isinstance(v, (int, float))}
    assert numbers and all(math.isfinite(v) for v in numbers.values()), test
    # the resolved recipe loads back; all but the model (whose build fills in vocabularies, pooling, ...) as given
    written, given = Recipe.load(out / "recipe.yaml").to_dict(), Recipe.load(path, overrides).to_dict()
    assert written.pop("model")["tower"]["name"] == given.pop("model")["tower"]["name"]
    assert written == given
    assert load_checkpoint(out / "checkpoints" / "last.pt")["trainer"]["global_step"] == 2

    config = json.loads((out / "model" / "config.json").read_text())["model"]
    assert config["tower"]["name"] == recipe.model.tower.name
    model = PairModel.from_pretrained(out / "model")
    if HEADLINE[path.stem] in ("t2i_recall@1", "rank_spearman"):  # retrieval and ranking calibrate no threshold
        assert config["threshold"] is None
    else:  # verification data: calibrated on val without per-epoch validation, used as is on test
        assert math.isfinite(config["threshold"]) and test["threshold"] == config["threshold"]
        assert model.config.threshold == config["threshold"]


# -- bad recipes and overrides: one ConfigError naming the key ------------------------------------------------
DIGITS = REPO / "recipes" / "digits_pairs.yaml"


def _error(path: Path, overrides: list[str] = ()) -> str:  # type: ignore[assignment]
    with pytest.raises(ConfigError) as info:
        Recipe.load(path, overrides)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


@pytest.mark.parametrize(
    "override, expected",
    [
        ("train.epochz=1", ["train: unknown key 'epochz'", "valid keys:", "epochs"]),
        ("train.epochs=abc", ["train.epochs: expected an integer, got 'abc'"]),
        ("train.lr=fast", ["train.lr: expected a number"]),
        ("train.validation.every_epoch=maybe", ["train.validation.every_epoch: expected true or false"]),
        ("train.optim.optimizer=lion", ["train.optim.optimizer: expected one of 'adamw', 'adam', 'sgd', got 'lion'"]),
        ("model.tower.widht=0.5", ["model.tower: unknown key 'widht'", "width"]),
        ("loss.name=hinge", ["loss.name: unknown loss 'hinge'", "contrastive", "triplet"]),
        ("data.name=imagenet", ["data.name: unknown dataset 'imagenet'", "digits", "omniglot"]),
        ("colour=blue", ["unknown key 'colour'", "output_dir"]),
        ("train.epochs", ["train.epochs", "expected key=value"]),
        ("model.tower.name.kind=cnn", ["model.tower.name", "not a mapping"]),
    ],
)
def test_bad_override_is_one_config_error_naming_the_key(override: str, expected: list[str]) -> None:
    message = _error(DIGITS, [override])
    for part in expected:
        assert part in message


def test_unknown_tower_name_lists_the_valid_towers() -> None:
    message = _error(DIGITS, ["model.tower.name=cnnx"])
    assert "model.tower.name" in message and "'cnnx'" in message
    assert f"valid towers: {', '.join(TOWERS.names())}" in message
    assert {"cnn", "lstm", "transformer"} <= set(TOWERS.names())


def test_missing_recipe_file(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.yaml") == f"recipe not found: {tmp_path / 'nope.yaml'}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("model: {tower: [cnn\n", "invalid YAML at line 2"),
        ("model:\n  tower: {name: cnn}\n head: x: y\n", "invalid YAML at line 3"),
        ("- model\n- loss\n", "expected a mapping with model, loss, data"),
        ("", "expected a mapping"),
    ],
)
def test_invalid_yaml_is_one_line_naming_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    message = _error(path)
    assert message.startswith(f"{path}: ") and expected in message


def test_errors_in_a_recipe_file_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(DIGITS.read_text().replace("epochs: 4", "epochs: four"))
    assert _error(path) == "mine.yaml.train.epochs: expected an integer, got 'four'"
    path.write_text(DIGITS.read_text().replace("data: {name: digits}", "data: {seed: 1}"))
    assert "mine.yaml.data: missing 'name'" in _error(path)


def test_overrides_win_over_the_file_and_parse_as_yaml() -> None:
    recipe = Recipe.load(
        DIGITS,
        [
            "train.epochs=7",
            "train.lr=0.01",
            "eval.plots=false",
            "model.tower_b=null",
            "data.split_by=class",
            "output_dir=somewhere",
        ],
    )
    assert (recipe.train.epochs, recipe.train.lr, recipe.eval.plots) == (7, 0.01, False)
    assert recipe.model.tower_b is None and recipe.data.split_by == "class" and recipe.output_dir == "somewhere"
    assert recipe.train.batch_size == 64  # untouched fields keep the file's values


# -- YAML 1.2 numbers, duplicate keys, alias bombs (issue 22) ---------------------------------------------------
@pytest.mark.parametrize(
    "override, expected",
    [
        ("train.epochs=010", "override 'train.epochs=010': 010 is ambiguous"),  # YAML 1.1: octal 8 epochs
        ("train.schedule.max_steps=1:00", "train.schedule.max_steps: expected an integer, got '1:00'"),  # YAML 1.1: 60
        ("train.speed.bf16=yes", "train.speed.bf16: expected true or false, got 'yes'"),  # YAML 1.1: true
        ("train.epochs=1e3", "train.epochs: expected an integer, got 1000.0 (write 1000)"),
        ("output_dir=007", "write 7 or 0o7, or quote it ('007') for a string"),
    ],
)
def test_overrides_follow_yaml_1_2_numbers(override: str, expected: str) -> None:
    assert expected in _error(DIGITS, [override])


def test_yaml_1_2_numbers_that_are_accepted() -> None:
    recipe = Recipe.load(
        DIGITS, ["train.epochs=0x10", "train.schedule.max_steps=0o10", "output_dir='007'", "train.lr=1e-2"]
    )
    assert (recipe.train.epochs, recipe.train.schedule.max_steps, recipe.output_dir, recipe.train.lr) == (
        16,
        8,
        "007",
        0.01,
    )


def test_recipe_with_an_octal_looking_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "octal.yaml"
    path.write_text(DIGITS.read_text().replace("epochs: 4,", "epochs: 010,", 1))
    message = _error(path)
    assert message.startswith(f"{path} at line ") and "010 is ambiguous" in message and "write 10 or 0o10" in message


def test_recipe_with_a_duplicate_section_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text(
        "model: {tower: {name: lstm}}\nloss: {name: contrastive}\ndata: {name: digits}\n"
        "train:\n  epochs: 7\ntrain:\n  lr: 0.1\n"
    )
    assert "duplicate key 'train' (lines 4 and 6)" in _error(path)


def test_billion_laughs_recipe_is_one_short_line(tmp_path: Path) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefg", "bcdefgh", strict=True)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(levels) + "\ntrain: {epochs: *h}\n")
    assert len(path.read_bytes()) < 600
    message = _error(path)
    assert "expands to more than" in message and len(message) < 200


def test_an_expanded_value_in_a_type_error_is_quoted_short(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"  # under the node budget, but a list where an integer belongs
    path.write_text(
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    )
    message = _error(DIGITS, ["train.epochs=" + path.read_text().replace("\n", " ").replace("a: &a", "{a: &a")
                              .replace("b: &b", ", b: &b") + "}"])  # fmt: skip
    assert "train.epochs: expected an integer, got {'a': [" in message and len(message) < 160
