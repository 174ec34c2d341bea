"""Loading someone else's model directory safely, and saving without losing anything.

Security: no code from the directory (``auto_map``, ``.py`` files), no file outside it, no network.
Nothing lost: a save never deletes foreign files; a kill between the swap's renames is recovered; temporary
leftovers are cleaned. Silent wrong answers: flipped bytes, truncated vocabularies and missing tokenizer
files are one-line errors. Building never mutates the config it was given.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pairsim import PairModel, PairModelConfig
from pairsim.cli import main
from pairsim.errors import ModelFileError

TEXTS = ["How old are you?", "what is your age", "The cat sat on the mat.", "a dog runs in the park"]


def _digest(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _edit_config(saved: Path, edit: Callable[[dict[str, Any]], Any]) -> None:
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    (saved / "config.json").write_text(json.dumps(config))


def _load_error(path: Path | str) -> str:
    with pytest.raises(ModelFileError) as info:
        PairModel.from_pretrained(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def _cli_error(capsys: pytest.CaptureFixture[str], *argv: Any) -> str:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pairsim: error: ") and "Traceback" not in err, err
    return lines[0].removeprefix("pairsim: error: ")


@pytest.fixture
def saved(make_model: Callable[..., PairModel], tmp_path: Path) -> Path:
    return make_model("lstm").save_pretrained(tmp_path / "saved")


@pytest.fixture
def saved_transformer(make_model: Callable[..., PairModel], tmp_path: Path) -> Path:
    return make_model("transformer").save_pretrained(tmp_path / "saved-transformer")


# -- checksums and assets ---------------------------------------------------------------------------------------
def test_config_records_the_sha256_of_every_file(saved: Path) -> None:
    recorded = json.loads((saved / "config.json").read_text())["sha256"]
    assert recorded == {k: v for k, v in _digest(saved).items() if k not in ("config.json", "README.md")}
    assert set(recorded) == {"model.safetensors", "tower_a/vocab.json"}


@pytest.mark.parametrize("version", [1, 2])
def test_a_model_without_checksums_loads_only_when_asked_for_explicitly(
    saved: Path, version: int, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 22: format_version 1 with the sha256 map deleted and weight bits flipped loaded and scored inf."""

    def drop(config: dict[str, Any]) -> None:
        del config["sha256"]
        config["format_version"] = version

    _edit_config(saved, drop)
    assert _load_error(saved) == (
        f"{saved / 'config.json'} records no sha256 of the model's files (format_version {version}), so they cannot "
        "be verified; refused (to load it unverified anyway: allow_unverified=True, on the command line "
        "--allow-unverified)"
    )
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    assert "--allow-unverified" in _cli_error(capsys, "score", texts, texts, "--model", saved)
    caplog.clear()
    assert PairModel.from_pretrained(saved, allow_unverified=True).tied
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "UNVERIFIED" in warnings[0] and str(saved) in warnings[0]
    assert main(["score", str(texts), str(texts), "--model", str(saved), "--allow-unverified"]) == 0


@pytest.mark.parametrize(
    "checksums",
    [{}, {"tower_a/vocab.json": "0" * 64}, "not a map", {"model.safetensors": 5}, {"model.safetensors": "abc"}],
    ids=["empty", "no-weights", "string", "number", "short"],
)
def test_a_manifest_that_does_not_cover_the_weights_is_refused_even_unverified(saved: Path, checksums: Any) -> None:
    _edit_config(saved, lambda c: c.update(sha256=checksums))
    message = f"{saved / 'config.json'}: 'sha256' must map every saved file (model.safetensors too) to its sha256"
    assert _load_error(saved) == message
    with pytest.raises(ModelFileError, match="must map every saved file"):
        PairModel.from_pretrained(saved, allow_unverified=True)  # a map that is present is always checked


def test_an_asset_left_out_of_the_manifest_is_refused(saved: Path, rehash) -> None:
    vocab = saved / "tower_a" / "vocab.json"
    _edit_config(saved, lambda c: c["sha256"].pop("tower_a/vocab.json"))
    assert _load_error(saved) == (
        f"{vocab} is not listed in config.json's sha256 map: every file a model reads must be recorded there (it "
        "was added or replaced after saving); refused"
    )
    rehash(saved)
    (saved / "tower_a" / "extra.json").write_text("{}")  # a file the tower might read, added after saving
    assert "extra.json is not listed in config.json's sha256 map" in _load_error(saved)


def test_one_flipped_byte_in_the_weights_is_an_error(
    saved: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    weights = saved / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x40  # inside the last tensor's data: still a valid safetensors file, other numbers
    weights.write_bytes(bytes(data))
    expected = f"{weights} does not match the sha256 recorded in config.json: the file is corrupted or was changed"
    assert _load_error(saved) == expected
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    assert _cli_error(capsys, "score", texts, texts, "--model", saved) == expected


def test_truncated_vocabulary_is_an_error(saved: Path, capsys: pytest.CaptureFixture[str], rehash) -> None:
    vocab = saved / "tower_a" / "vocab.json"
    data = json.loads(vocab.read_text())
    rows = len(data["itos"])
    data["itos"] = data["itos"][:3]
    vocab.write_text(json.dumps(data))
    assert _load_error(saved) == (
        f"{vocab} does not match the sha256 recorded in config.json: the file is corrupted or was changed"
    )
    rehash(saved)  # consistent checksums: the tower checks the vocabulary against its embedding rows
    assert _load_error(saved) == (
        f"{vocab} has 3 words but the embedding table has {rows} rows (vocab_size in config.json): the "
        "vocabulary does not belong to these weights"
    )


def test_missing_tokenizer_files_are_an_error(saved_transformer: Path, rehash) -> None:
    tokenizer = saved_transformer / "tower_a" / "tokenizer"
    (tokenizer / "tokenizer.json").unlink()
    assert _load_error(saved_transformer) == (
        f"{tokenizer / 'tokenizer.json'} is missing (it was saved with the model, "
        f"{saved_transformer / 'config.json'} lists it)"
    )
    shutil.rmtree(tokenizer)
    rehash(saved_transformer)
    assert _load_error(saved_transformer) == (
        f"tokenizer files missing: {tokenizer / 'tokenizer_config.json'} not found"
    )


@pytest.mark.parametrize("listed", ["../outside.txt", "/etc/hostname", "tower_a/../../outside.txt"])
def test_checksum_list_cannot_point_outside_the_directory(saved: Path, listed: str) -> None:
    (saved.parent / "outside.txt").write_text("not part of the model")
    _edit_config(saved, lambda c: c["sha256"].update({listed: "0" * 64}))
    assert "is not inside the model directory" in _load_error(saved)


@pytest.mark.parametrize(
    "where", ["tower_a/vocab.json", "tower_a/notes.txt", "notes/link", "README.md", "tower_a", "model.safetensors"]
)
def test_a_symbolic_link_anywhere_in_a_model_directory_is_refused(saved: Path, where: str) -> None:
    """issue 22: a file left out of the sha256 map and replaced by a link was read (score 0.107 -> 0.479)."""
    outside = saved.parent / "outside"
    outside.mkdir()
    link = saved / where
    if link.exists():
        target = outside / link.name
        shutil.move(link, target)
        _edit_config(saved, lambda c: c["sha256"].pop(where, None))
    else:
        link.parent.mkdir(exist_ok=True)
        target = outside / "file.txt"
        target.write_text("x")
    link.symlink_to(target)
    assert _load_error(saved) == (
        f"{link} is a symbolic link; a model directory must hold its own files and folders (links are refused, "
        "wherever they point)"
    )


def test_a_link_inside_the_directory_is_refused_too(saved: Path) -> None:
    copy = saved / "tower_a" / "copy.json"
    copy.symlink_to(saved / "tower_a" / "vocab.json")
    assert "copy.json is a symbolic link" in _load_error(saved)


def test_a_pipe_in_a_model_directory_is_refused(saved: Path) -> None:
    pipe = saved / "tower_a" / "pipe.json"
    os.mkfifo(pipe)  # reading it would block forever
    assert _load_error(saved) == f"{pipe} is not a regular file or folder (a device, pipe or socket); refused"


def test_the_towers_read_the_verified_bytes_not_the_directory(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pairsim.towers.lstm import LSTMTower

    seen: list[Path] = []
    original = LSTMTower.load_assets

    def spy(self: LSTMTower, directory: Path) -> None:
        seen.append(directory)
        assert sorted(p.name for p in directory.iterdir()) == ["vocab.json"]
        original(self, directory)

    monkeypatch.setattr(LSTMTower, "load_assets", spy)
    PairModel.from_pretrained(saved)
    assert len(seen) == 1 and not seen[0].is_relative_to(saved) and not seen[0].exists()  # a private copy, removed


# -- config values --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.nan, "config.json:model.threshold: expected a finite number, got nan"),
        (math.inf, "config.json:model.threshold: expected a finite number, got inf"),
        ("high", "config.json:model.threshold"),
    ],
    ids=["nan", "inf", "string"],
)
def test_threshold_must_be_a_finite_number(saved: Path, value: Any, expected: str) -> None:
    _edit_config(saved, lambda c: c["model"].update(threshold=value))  # json writes NaN / Infinity
    message = _load_error(saved)
    assert message.startswith(expected)


def test_invalid_size_in_a_saved_config_is_one_line(
    saved: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _edit_config(saved, lambda c: c["model"]["tower"].update(hidden_dim=-4))
    message = _load_error(saved)
    assert "config.json" in message
    texts = tmp_path / "texts.txt"
    texts.write_text("a\n")
    assert "config.json" in _cli_error(capsys, "encode", texts, "--model", saved, "--out", tmp_path / "e.npy")


# -- no code, no network, nothing outside ------------------------------------------------------------------------
def _plant_code(directory: Path, marker: Path) -> Path:
    code = directory / "evil_tokenizer.py"
    code.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n")
    return code


def test_tokenizer_config_with_auto_map_is_refused(saved_transformer: Path, tmp_path: Path, rehash) -> None:
    tokenizer = saved_transformer / "tower_a" / "tokenizer"
    marker = tmp_path / "code-ran"
    config = json.loads((tokenizer / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": ["evil_tokenizer.EvilTokenizer", None]}
    (tokenizer / "tokenizer_config.json").write_text(json.dumps(config))
    rehash(saved_transformer)
    message = _load_error(saved_transformer)
    assert message == (
        f"{tokenizer / 'tokenizer_config.json'} has an auto_map pointing to custom code; pairsim never runs code "
        "from a model directory"
    )
    code = _plant_code(tokenizer, marker)
    rehash(saved_transformer)
    assert (
        _load_error(saved_transformer)
        == f"{code}: a model directory must not contain custom code (.py files); pairsim never runs code from a model directory"
    )
    assert not marker.exists()


def test_backbone_config_with_auto_map_is_refused(saved_transformer: Path) -> None:
    _edit_config(
        saved_transformer,
        lambda c: c["model"]["tower"]["backbone_config"].update(auto_map={"AutoModel": "evil.EvilModel"}),
    )
    assert _load_error(saved_transformer) == (
        "config.json:model.tower.backbone_config: has an auto_map pointing to custom code; pairsim never runs it"
    )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Networking fails (and is recorded) and the hub is *not* in offline mode: nothing may try to connect."""
    import huggingface_hub.constants

    attempts: list[Any] = []

    def connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network is switched off in this test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return attempts


@pytest.mark.parametrize("model", ["hub", "absolute", "parent"])
def test_backbone_config_null_never_reaches_the_hub_or_outside_files(
    model: str, saved_transformer: Path, tiny_bert_dir: Path, no_network: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    source = {"hub": "sentence-transformers/all-MiniLM-L6-v2", "absolute": str(tiny_bert_dir), "parent": "../x"}[model]
    reads: list[Any] = []
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", lambda *a, **k: reads.append(a) or None)

    def edit(config: dict[str, Any]) -> None:
        config["model"]["tower"].update(backbone_config=None, model=source)

    _edit_config(saved_transformer, edit)
    message = _load_error(saved_transformer)
    assert message.startswith("config.json:model.tower.backbone_config: is null, but a saved model must carry")
    assert repr(source) in message
    assert no_network == [] and reads == []


def test_a_saved_model_loads_with_the_network_off(saved_transformer: Path, no_network: list[Any]) -> None:
    model = PairModel.from_pretrained(saved_transformer)
    assert model.score(TEXTS, TEXTS).shape == (4,) and no_network == []


# -- saving: nothing foreign deleted, swaps that survive a kill ------------------------------------------------------
def test_save_refuses_a_file(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("my notes")
    with pytest.raises(ModelFileError, match=f"cannot save a model to {target}: it is a file"):
        make_model("lstm").save_pretrained(target)
    assert target.read_text() == "my notes" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_save_refuses_a_directory_of_other_files(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    target = tmp_path / "photos"
    (target / "2024").mkdir(parents=True)
    (target / "2024" / "a.jpg").write_bytes(b"\xff\xd8 not really")
    (target / "config.json").write_text('{"theme": "dark"}')  # a config.json, but not ours
    before = _digest(target)
    with pytest.raises(ModelFileError, match="holds other files and is not a saved pairsim model"):
        make_model("lstm").save_pretrained(target)
    assert _digest(target) == before and sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_save_into_an_empty_directory(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    assert PairModel.from_pretrained(make_model("lstm").save_pretrained(tmp_path / "m")).tied


@pytest.mark.parametrize("left", ["new", "old"])
def test_a_kill_between_the_swap_renames_is_recovered(
    left: str, make_model: Callable[..., PairModel], tmp_path: Path
) -> None:
    first, second = make_model("lstm"), make_model("lstm", head="euclidean")
    target = tmp_path / "m"
    first.save_pretrained(target)
    second.save_pretrained(tmp_path / "other")
    # the state after "rename model -> .m.old" and before ".m.new -> model": no model at the path
    os.replace(target, tmp_path / ".m.old")
    if left == "new":
        os.replace(tmp_path / "other", tmp_path / ".m.new")
    loaded = PairModel.from_pretrained(target)
    assert loaded.config.head.name == ("euclidean" if left == "new" else "cosine")
    assert target.is_dir() and (target / "config.json").is_file()


def test_an_incomplete_new_directory_is_not_used(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    target = tmp_path / "m"
    make_model("lstm").save_pretrained(target)
    os.replace(target, tmp_path / ".m.old")
    (tmp_path / ".m.new").mkdir()  # killed while writing: no config.json yet
    assert PairModel.from_pretrained(target).config.head.name == "cosine"  # the previous, complete model


def test_leftovers_are_cleaned_and_foreign_files_kept(make_model: Callable[..., PairModel], tmp_path: Path) -> None:
    target = tmp_path / "m"
    for name in [".m.old", ".m.new", ".m.k3j_x9q2"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"partial")
    (tmp_path / ".m.tmp").write_bytes(b"partial")
    (tmp_path / ".m.notes").write_text("someone's file")  # not one of ours: kept
    (tmp_path / ".m.k3j_x9q3").write_text("a file, not a directory: kept")
    make_model("lstm").save_pretrained(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.k3j_x9q3", ".m.notes", "m"]


# -- building never mutates its config ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tower", "head"),
    [("transformer", {"name": "weighted_l1"}), ("lstm", {"name": "weighted_l1"}), ("cnn", {"name": "cosine"})],
)
def test_building_does_not_mutate_the_config(
    tower: str, head: dict[str, Any], tower_config: Callable[..., dict[str, Any]]
) -> None:
    config = PairModelConfig.from_dict({"tower": tower_config(tower), "head": head})
    before = copy.deepcopy(dataclasses.asdict(config))
    model = PairModel.from_config(config, pretrained=False, adapt_on=(TEXTS, None) if tower == "lstm" else None)
    assert dataclasses.asdict(config) == before
    assert model.config is not config
    if head["name"] == "weighted_l1":
        assert config.head.dim == 0 and model.config.head.dim == model.tower_a.out_dim == 8
    if tower == "transformer":
        assert config.tower.backbone_config is None and model.config.tower.backbone_config["hidden_size"] == 32
        assert model.config.tower.pooling == "mean" and config.tower.pooling == "auto"
    if tower == "lstm":
        assert config.tower.vocab_size == 2 and model.config.tower.vocab_size == len(model.tower_a.tokenizer) > 2


def test_every_transformers_call_refuses_remote_code(
    tower_config: Callable[..., dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    import pairsim.towers.transformer as transformer_module

    calls: list[tuple[str, dict[str, Any]]] = []

    def recording(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, kwargs))
            return original(*args, **kwargs)

        return call

    for auto in (transformers.AutoConfig, transformers.AutoModel, transformers.AutoTokenizer):
        monkeypatch.setattr(
            auto, "from_pretrained", recording(f"{auto.__name__}.from_pretrained", auto.from_pretrained)
        )
    monkeypatch.setattr(
        transformer_module.AutoModel,
        "from_config",
        recording("AutoModel.from_config", transformers.AutoModel.from_config),
    )
    model = PairModel.from_config({"tower": tower_config("transformer")})  # reads the source encoder
    built = len(calls)
    directory = model.save_pretrained(tmp_path / "m")
    PairModel.from_pretrained(directory)  # reads only the saved directory
    names = {name for name, _ in calls}
    assert {"AutoConfig.from_pretrained", "AutoModel.from_pretrained", "AutoTokenizer.from_pretrained"} <= names
    assert "AutoModel.from_config" in names
    assert all(kwargs.get("trust_remote_code") is False for _, kwargs in calls), calls
    loading = calls[built:]
    assert [name for name, _ in loading][:2] == ["AutoModel.from_config", "AutoTokenizer.from_pretrained"]
    assert "AutoModel.from_pretrained" not in {name for name, _ in loading}  # the weights come from the directory
    assert all(kwargs.get("local_files_only") is True for name, kwargs in loading if name.endswith("from_pretrained"))


@pytest.mark.parametrize("value", ["/etc/hostname", "../../outside.json", "C:\\\\secrets\\\\vocab.txt"])
def test_tokenizer_files_named_outside_the_directory_are_refused(saved_transformer: Path, value: str, rehash) -> None:
    tokenizer = saved_transformer / "tower_a" / "tokenizer"
    config = json.loads((tokenizer / "tokenizer_config.json").read_text())
    config["tokenizer_file"] = value
    (tokenizer / "tokenizer_config.json").write_text(json.dumps(config))
    rehash(saved_transformer)
    assert _load_error(saved_transformer) == (
        f"{tokenizer / 'tokenizer_config.json'}: tokenizer_file names a file outside the model directory ({value!r})"
    )


def test_a_typo_in_a_local_path_says_which_hub_id_was_tried(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "digits").mkdir(parents=True)  # the run is there; the command names "runs/digit"
    texts = tmp_path / "texts.txt"
    texts.write_text("a\n")
    message = _cli_error(capsys, "encode", texts, "--model", "runs/digit", "--out", tmp_path / "e.npy")
    assert message.startswith(
        f"'runs/digit' is not a local directory (no directory '{tmp_path / 'runs' / 'digit'}' exists) and could not "
        "be fetched from the hub as hub id 'runs/digit': "
    )
    assert not (tmp_path / "e.npy").exists()
