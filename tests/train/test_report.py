"""Run tracking (``train.report_to``, pairsim/train/report): each reporter, in its offline mode, holds what
``metrics.json`` holds (the history's loss, learning rate and validation metrics at their steps, the test metrics)
plus the throughput and the plots; nothing is reported by default; bad names and missing libraries are one line."""

from __future__ import annotations

import builtins
import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pairsim.errors import ConfigError
from pairsim.recipe import Recipe
from pairsim.train.report import REPORTERS, build_reporters
from pairsim.train.report.base import tag_of
from pairsim.train.trainer import Trainer


def _expected(metrics: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of metrics.json's history."""
    want: dict[str, list[tuple[int, float]]] = {}
    for entry in metrics["history"]:
        for key, value in entry.items():
            tag = tag_of(key)
            if tag and isinstance(value, (int, float)):
                want.setdefault(tag, []).append((entry["step"], float(value)))
    return want


def test_nothing_is_reported_by_default(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("train.epochs=1")
    assert recipe.train.report_to == []
    Trainer(recipe, progress=False).run()
    out = Path(recipe.output_dir)
    assert not any((out / name).exists() for name in ("tensorboard", "mlruns", "wandb"))


def test_tensorboard_event_files_hold_the_history(digits_recipe: Callable[..., Recipe]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    recipe = digits_recipe("train.report_to=[tensorboard]", "eval.plots=true")
    Trainer(recipe, progress=False).run()
    out = Path(recipe.output_dir)
    metrics = json.loads((out / "metrics.json").read_text())
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0, "images": 0}).Reload()
    tags = events.Tags()
    want = _expected(metrics)
    assert {"train/loss", "train/lr", "val/roc_auc"} <= set(want)
    for tag, points in want.items():
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in points], tag
        assert [v for _, v in got] == pytest.approx([v for _, v in points], rel=1e-6, abs=1e-7), tag  # float32
    test = [(e.step, e.value) for e in events.Scalars("test/roc_auc")]
    assert test == [(12, pytest.approx(metrics["test"]["roc_auc"], rel=1e-6))]
    rates = events.Scalars("train/pairs_per_s")
    assert [e.step for e in rates] == [2, 4, 6, 8, 10, 12] and all(e.value > 0 for e in rates)
    images = set(tags["images"])
    assert "plots/curves" in images and len(images) == len(list((out / "plots").glob("*.png")))


def test_mlflow_store_under_the_run_dir_holds_the_history(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    recipe = digits_recipe("train.report_to=[mlflow]")
    Trainer(recipe, progress=False).run()
    out = Path(recipe.output_dir)
    metrics = json.loads((out / "metrics.json").read_text())
    client = MlflowClient(tracking_uri=(out / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("pairsim").experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["train.batch_size"] == "16"
    for tag, points in _expected(metrics).items():
        got = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, tag))
        assert got == sorted(points), tag
    assert run.data.metrics["test/roc_auc"] == metrics["test"]["roc_auc"]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "plots")] == ["plots/curves.png"]


def _wandb_records(path: Path) -> Iterator[Any]:
    """The protobuf records of an offline run's ``run-*.wandb`` file (a 7-byte header, then LevelDB-log records
    of 32 KiB blocks: crc32, little-endian length, type FULL/FIRST/MIDDLE/LAST)."""
    from wandb.proto import wandb_internal_pb2

    data, pos, block, chunks = path.read_bytes(), 7, 32768, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", data[pos + 4 : pos + 7])
        chunks += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            yield record
            chunks = b""
        elif kind == 0:
            break


def test_wandb_offline_run_holds_the_history_and_test_metrics(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    recipe = digits_recipe("train.report_to=[wandb]", "train.epochs=1")
    Trainer(recipe, progress=False).run()
    out = Path(recipe.output_dir)
    metrics = json.loads((out / "metrics.json").read_text())
    (run_file,) = (out / "wandb").glob("offline-run-*/run-*.wandb")  # what `wandb sync` uploads
    rows: dict[int, dict[str, Any]] = {}
    summary: dict[str, Any] = {}
    for record in _wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        items = record.history.item if kind == "history" else record.summary.update if kind == "summary" else []
        values = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}
        if kind == "history":
            rows.setdefault(values["_step"], {}).update(values)
        summary.update(values)
    for tag, points in _expected(metrics).items():
        assert [(step, rows[step][tag]) for step, _ in points] == points, tag
    assert summary["test/roc_auc"] == metrics["test"]["roc_auc"]


def test_an_unknown_reporter_lists_the_valid_ones(digits_recipe: Callable[..., Recipe]) -> None:
    with pytest.raises(ConfigError) as err:
        Trainer(digits_recipe("train.report_to=[tensorbored]"), progress=False)
    assert str(err.value) == (
        "train.report_to: unknown reporter 'tensorbored'; valid reporters: mlflow, tensorboard, wandb"
    )
    assert not Path(digits_recipe().output_dir).exists()  # refused before the output directory is made


@pytest.mark.parametrize("name", ["tensorboard", "mlflow", "wandb"])
def test_a_missing_library_names_the_extra(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def refuse(module: str, *args: Any, **kwargs: Any) -> Any:
        if module.split(".")[0] == name:
            raise ImportError(f"No module named {module!r}")
        return real(module, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    monkeypatch.setattr("importlib.import_module", lambda module: refuse(module))
    with pytest.raises(ConfigError) as err:
        build_reporters([name])
    assert str(err.value) == f"train.report_to: {name} needs the {name} package: pip install 'pairsim[{name}]'"
    assert REPORTERS.get(name).extra == name


def test_a_reporter_named_twice_is_refused(digits_recipe: Callable[..., Recipe]) -> None:
    with pytest.raises(ConfigError) as err:
        digits_recipe("train.report_to=[tensorboard,mlflow,tensorboard]")
    assert str(err.value).endswith("train.report_to: tensorboard named more than once")
