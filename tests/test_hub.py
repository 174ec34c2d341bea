"""Saving and loading pair models: config.json + model.safetensors + assets + model card, strictly checked."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from pairsim import TOWERS, PairModel
from pairsim.config import to_dict
from pairsim.errors import ModelFileError, PairsimError
from pairsim.hub import FORMAT_VERSION

TEXTS = ["How old are you?", "what is your age", "The cat sat on the mat.", "a dog runs in the park"]


def inputs_for(model: PairModel, tmp_path: Path) -> tuple[list[Any], list[Any]]:
    def side(tower) -> list[Any]:
        if tower.modality == "text":
            return list(TEXTS)
        paths = []
        for i in range(3):
            paths.append(str(tmp_path / f"img{i}.png"))
            Image.fromarray(np.random.default_rng(i).integers(0, 256, (40, 40 + i, 3), dtype=np.uint8)).save(paths[-1])
        return [paths[0], np.random.default_rng(5).random((50, 50, 3)), paths[1], paths[2]]

    a = side(model.tower_a)
    b = side(model.side_b)
    return a, b[::-1]


def same_config(a: PairModel, b: PairModel) -> bool:
    """Configs equal as saved (JSON turns the int keys of a transformer's id2label into strings)."""
    return json.loads(json.dumps(a.config_dict())) == json.loads(json.dumps(b.config_dict()))


def round_trip(model: PairModel, tmp_path: Path) -> tuple[PairModel, torch.Tensor, torch.Tensor, Path]:
    a, b = inputs_for(model, tmp_path)
    before = model.score(a, b)
    directory = model.save_pretrained(tmp_path / "saved")
    loaded = PairModel.from_pretrained(directory)
    return loaded, before, loaded.score(a, b), directory


@pytest.mark.parametrize("name", TOWERS.names())
def test_save_load_gives_identical_scores(name: str, make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    model = make_model(name)
    loaded, before, after, directory = round_trip(model, tmp_path)
    assert torch.equal(before, after)
    assert not loaded.training and loaded.tied and same_config(loaded, model)
    own, back = model.state_dict(), loaded.state_dict()
    assert own.keys() == back.keys() and all(torch.equal(own[k], back[k]) for k in own)
    saved = json.loads((directory / "config.json").read_text())
    assert saved["format_version"] == FORMAT_VERSION
    tower = saved["model"]["tower"]
    assert tower == json.loads(json.dumps(to_dict(model.config.tower)))  # the full tower config, inline
    assert set(tower) == {f.name for f in dataclasses.fields(type(model.config.tower))}
    if name == "transformer":
        assert tower["backbone_config"]["model_type"] == "bert" and tower["backbone_config"]["hidden_size"] == 32
        assert (directory / "tower_a" / "tokenizer").is_dir()
    if name == "lstm":
        assert tower["vocab_size"] == len(model.tower_a.tokenizer) and (directory / "tower_a" / "vocab.json").is_file()


@pytest.mark.parametrize(
    ("tower_a", "tower_b", "head"),
    [("transformer", "cnn", "cosine"), ("lstm", "lstm", {"name": "weighted_l1", "calibrated": True})],
)
def test_untied_save_load_gives_identical_scores(
    tower_a: str, tower_b: str, head: Any, make_model: Callable[..., PairModel], tmp_path: Path
) -> None:
    model = make_model(tower_a, tower_b=tower_b, head=head, threshold=0.25)
    loaded, before, after, directory = round_trip(model, tmp_path)
    assert torch.equal(before, after)
    assert not loaded.tied and same_config(loaded, model) and loaded.config.threshold == 0.25
    with safe_open(directory / "model.safetensors", framework="pt") as f:
        keys = set(f.keys())
    assert keys == set(model.state_dict())
    assert any(k.startswith("tower_b.") for k in keys)
    saved = json.loads((directory / "config.json").read_text())["model"]
    assert saved["tower_b"] == json.loads(json.dumps(to_dict(model.config.tower_b)))
    assert (directory / "tower_b").is_dir()
    card = (directory / "README.md").read_text()
    assert f"untied towers: `{tower_a}` for side a, `{tower_b}` for side b (pseudo-siamese)" in card
    assert "Decision threshold: 0.25" in card


def test_tied_weights_are_stored_once(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    model = make_model("cnn", head="weighted_l1")
    directory = model.save_pretrained(tmp_path / "m")
    weights = directory / "model.safetensors"
    with safe_open(weights, framework="pt") as f:
        keys = sorted(f.keys())
        assert f.metadata() == {"format": "pt"}
    assert keys == sorted(model.state_dict())
    assert all(k.startswith(("tower_a.", "head.")) for k in keys)
    tensor_bytes = sum(v.numel() * v.element_size() for v in model.state_dict().values())
    assert tensor_bytes <= weights.stat().st_size < tensor_bytes + 64 * 1024  # one copy plus the header
    assert sorted(p.name for p in directory.iterdir()) == ["README.md", "config.json", "model.safetensors", "tower_a"]


def test_model_card(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    model = make_model("lstm", head="euclidean")
    directory = model.save_pretrained(tmp_path / "m", metrics={"roc_auc": 0.912345, "pairs": 40})
    card = (directory / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: pairsim\n")
    assert "tied `lstm` tower (siamese), embeddings of size 8" in card
    assert "Head: `euclidean` (lower = more similar (a distance))" in card
    assert "Decision threshold: not calibrated" in card
    assert "| roc_auc | 0.9123 |" in card and "| pairs | 40 |" in card
    assert 'PairModel.from_pretrained("path/to/this/dir")' in card
    no_metrics = (make_model("lstm").save_pretrained(tmp_path / "n") / "README.md").read_text()
    assert "## Metrics" not in no_metrics and "higher = more similar" in no_metrics


def test_saved_transformer_loads_offline_without_its_source(
    make_model: Callable[..., PairModel],
    tower_config: Callable[..., dict[str, Any]],
    tiny_bert_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import huggingface_hub.constants

    import pairsim.towers.transformer as transformer_module

    assert huggingface_hub.constants.HF_HUB_OFFLINE  # set for the whole session by conftest
    source = shutil.copytree(tiny_bert_dir, tmp_path / "source-encoder")
    torch.manual_seed(0)
    model = PairModel.from_config({"tower": tower_config("transformer", model=str(source))})
    scores = model.score(TEXTS, TEXTS[::-1])
    directory = model.save_pretrained(tmp_path / "saved")
    shutil.rmtree(source)

    def only_inside(original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
            # the saved directory, or the private copy of its verified files that the towers read
            copy = Path(tempfile.gettempdir()).resolve()
            resolved = Path(path).resolve()
            inside_copy = resolved.is_relative_to(copy) and resolved.relative_to(copy).parts[0].startswith(
                "pairsim-assets-"
            )
            if not (resolved.is_relative_to(directory.resolve()) or inside_copy):
                raise AssertionError(f"loading a saved model read {path}, outside the saved directory")
            return original(path, *args, **kwargs)

        return guarded

    for auto in (transformer_module.AutoModel, transformer_module.AutoConfig, transformer_module.AutoTokenizer):
        monkeypatch.setattr(auto, "from_pretrained", only_inside(auto.from_pretrained))
    loaded = PairModel.from_pretrained(str(directory), device="cpu")
    assert torch.equal(loaded.score(TEXTS, TEXTS[::-1]), scores)
    assert loaded.config.tower.model == str(source)  # kept for reference only


def test_saving_over_a_model_replaces_it_whole(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    target = tmp_path / "models" / "m"
    make_model("lstm", tower_b="lstm").save_pretrained(target)
    (target / "stale.txt").write_text("from an older save")
    assert (target / "tower_b").is_dir()
    tied = make_model("cnn")
    assert tied.save_pretrained(target) == target
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "config.json", "model.safetensors", "tower_a"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]  # no temporary or old copies left
    loaded = PairModel.from_pretrained(target)
    assert loaded.tied and loaded.config.tower.name == "cnn"
    items = [np.random.default_rng(0).random((72, 72))]
    assert torch.equal(loaded.score(items, items), tied.score(items, items))


def test_failed_save_keeps_the_old_model(
    make_model: Callable[..., PairModel], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "m"
    good = make_model("lstm")
    good.save_pretrained(target)
    before = sorted(p.name for p in target.rglob("*"))
    other = make_model("lstm", head="euclidean")

    def crash(directory: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(other.tower_a, "save_assets", crash)
    with pytest.raises(OSError, match="disk full"):
        other.save_pretrained(target)
    assert sorted(p.name for p in target.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert PairModel.from_pretrained(target).config.head.name == "cosine"


# -- broken model directories ----------------------------------------------------------------------------------------
@pytest.fixture
def saved(make_model: Callable[..., PairModel], tmp_path: Path) -> Path:
    return make_model("lstm").save_pretrained(tmp_path / "saved")


def _load_error(path: Path | str) -> str:
    with pytest.raises(ModelFileError) as info:
        PairModel.from_pretrained(path)
    return str(info.value)


def test_missing_config_json(saved: Path) -> None:
    (saved / "config.json").unlink()
    assert _load_error(saved) == f"{saved / 'config.json'} not found: not a saved pairsim model"


def test_config_json_not_json(saved: Path) -> None:
    (saved / "config.json").write_text("{not json")
    assert "config.json is not valid JSON" in _load_error(saved)


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c.update(format_version=FORMAT_VERSION + 1),
        lambda c: c.update(format_version="1"),
        lambda c: c.update(format_version=0),
        lambda c: c.update(format_version=True),
        lambda c: c.pop("format_version"),
        lambda c: c.pop("model"),
    ],
    ids=["newer", "string", "zero", "bool", "missing", "no-model"],
)
def test_unknown_format_version(saved: Path, edit: Callable[[dict], Any]) -> None:
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    (saved / "config.json").write_text(json.dumps(config))
    message = _load_error(saved)
    assert "unsupported format_version" in message and f"reads <= {FORMAT_VERSION}" in message


def test_config_json_not_an_object(saved: Path) -> None:
    (saved / "config.json").write_text("[1, 2]")
    assert _load_error(saved) == f"{saved / 'config.json'}: expected a JSON object, got a JSON list"


def test_bad_model_config_in_config_json(saved: Path) -> None:
    config = json.loads((saved / "config.json").read_text())
    config["model"]["tower"]["embedd_dim"] = 3
    (saved / "config.json").write_text(json.dumps(config))
    assert _load_error(saved).startswith("config.json:model.tower: unknown key 'embedd_dim'")


def test_missing_weights(saved: Path) -> None:
    (saved / "model.safetensors").unlink()
    assert _load_error(saved) == f"{saved / 'model.safetensors'} not found"


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:8],  # only the header length
        lambda data: b"",  # empty
        lambda data: os.urandom(len(data)),  # garbage bytes
        lambda data: b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header!!}" + data[24:],  # garbage header
    ],
    ids=["truncated", "header-length-only", "empty", "garbage", "bad-header"],
)
def test_corrupted_weights(saved: Path, corrupt: Callable[[bytes], bytes], rehash) -> None:
    weights = saved / "model.safetensors"
    weights.write_bytes(corrupt(weights.read_bytes()))
    assert _load_error(saved) == (
        f"{weights} does not match the sha256 recorded in config.json: the file is corrupted or was changed"
    )
    rehash(saved)  # a checksum that agrees (or an older model without one): the file itself is checked
    assert "model.safetensors is corrupted or not a safetensors file" in _load_error(saved)


def test_weights_with_an_extra_key(saved: Path, rehash) -> None:
    state = load_file(saved / "model.safetensors")
    state["tower_b.embedding.weight"] = torch.zeros(3, 8)
    save_file(state, saved / "model.safetensors")
    rehash(saved)
    message = _load_error(saved)
    assert "does not match config.json" in message and "unexpected ['tower_b.embedding.weight']" in message


def test_weights_with_a_missing_key(saved: Path, rehash) -> None:
    state = load_file(saved / "model.safetensors")
    del state["tower_a.lstm.weight_hh_l0"]
    save_file(state, saved / "model.safetensors")
    rehash(saved)
    assert "missing ['tower_a.lstm.weight_hh_l0']" in _load_error(saved)


def test_weights_with_a_wrong_shape(saved: Path, rehash) -> None:
    state = load_file(saved / "model.safetensors")
    state["tower_a.embedding.weight"] = torch.zeros(3, 8)  # another vocabulary size than config.json says
    save_file(state, saved / "model.safetensors")
    rehash(saved)
    assert "wrong shape ['tower_a.embedding.weight']" in _load_error(saved)


def test_missing_vocabulary(saved: Path, rehash) -> None:
    vocab = saved / "tower_a" / "vocab.json"
    vocab.unlink()
    assert _load_error(saved) == (f"{vocab} is missing (it was saved with the model, {saved / 'config.json'} lists it)")
    rehash(saved)  # not listed any more: the tower itself notices
    assert "cannot read vocabulary" in _load_error(saved)


@pytest.mark.parametrize("kind", ["absolute", "relative-dot", "no-slash", "file", "home"])
def test_path_that_is_neither_a_model_nor_a_hub_id(kind: str, saved: Path, tmp_path: Path) -> None:
    path = {
        "absolute": str(tmp_path / "no" / "such" / "model"),
        "relative-dot": "./no-such-model-dir",
        "no-slash": "no-such-model",
        "file": str(saved / "config.json"),
        "home": "~/no-such-model",
    }[kind]
    assert f"no saved pairsim model at {path!r}" in _load_error(path)


def test_home_relative_paths_are_expanded(
    make_model: Callable[..., PairModel], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir(), cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert make_model("lstm").save_pretrained("~/models/m") == home / "models" / "m"
    assert (home / "models" / "m" / "config.json").is_file() and list(cwd.iterdir()) == []
    assert PairModel.from_pretrained("~/models/m").tied


def test_hub_id_that_cannot_be_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # "someone/model" is not a local directory here
    message = _load_error("someone/no-such-pairsim-model")
    assert message.startswith(
        f"'someone/no-such-pairsim-model' is not a local directory (no directory "
        f"'{tmp_path / 'someone' / 'no-such-pairsim-model'}' exists) and could not be fetched from the hub as hub id "
        "'someone/no-such-pairsim-model': "
    )
    assert "\n" not in message and "offline" in message.lower()  # why it failed (the hub is off in the tests)


def test_saving_to_dot_is_one_clear_error(
    make_model: Callable[..., PairModel], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model("lstm")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    with pytest.raises(PairsimError, match=r"empty is the current folder or holds it"):
        model.save_pretrained(".")
    assert list(Path.cwd().iterdir()) == []
    assert (model.save_pretrained("m/../n") / "config.json").is_file()  # ".." resolved: saved as n
