"""push_to_hub / pairsim push: the folder uploaded is the saved model directory, the card has metrics and plots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pairsim.cli import main


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """Patch HfApi's create_repo and upload_folder; the uploaded folder is copied to ``calls['folder']``."""
    from huggingface_hub import HfApi

    calls: dict[str, Any] = {}

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        calls["created"] = (repo_id, kwargs)
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id: str, folder_path: str | Path, **kwargs: Any) -> str:
        calls["uploaded"] = repo_id
        calls["folder"] = tmp_path / "uploaded"
        shutil.copytree(folder_path, calls["folder"])
        return f"https://huggingface.co/{repo_id}/commit/abc"

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_push_to_hub_uploads_the_saved_directory(make_model, fake_hub: dict[str, Any], tmp_path: Path) -> None:
    model = make_model("lstm", head="exp", threshold=0.4)
    plot = tmp_path / "roc.png"
    Image.new("RGB", (8, 8)).save(plot)
    url = model.push_to_hub("me/pairs", metrics={"test_auc": 0.8125}, plots=[plot], private=True)
    assert url.endswith("/commit/abc")
    assert fake_hub["created"] == ("me/pairs", {"private": True, "exist_ok": True})
    model.save_pretrained(tmp_path / "reference", metrics={"test_auc": 0.8125})
    uploaded, reference = files(fake_hub["folder"]), files(tmp_path / "reference")
    assert set(uploaded) == set(reference) | {"plots/roc.png"}
    for name in reference:
        if name != "README.md":
            assert uploaded[name] == reference[name], name
    card = uploaded["README.md"].decode()
    assert card.startswith(reference["README.md"].decode())  # the model card, then the plots
    assert "| test_auc | 0.8125 |" in card
    assert "![roc](plots/roc.png)" in card
    assert uploaded["plots/roc.png"] == plot.read_bytes()


def test_cli_push_takes_metrics_and_plots_of_the_run(make_model, fake_hub: dict[str, Any], tmp_path: Path) -> None:
    run = tmp_path / "run"
    make_model("lstm").save_pretrained(run / "model")
    (run / "metrics.json").write_text(json.dumps({"best_epoch": 3, "test": {"roc_auc": 0.75, "curve": [1, 2]}}))
    (run / "plots").mkdir()
    Image.new("RGB", (8, 8)).save(run / "plots" / "curves.png")
    assert main(["push", str(run / "model"), "me/run"]) == 0
    uploaded = files(fake_hub["folder"])
    card = uploaded["README.md"].decode()
    assert "| best_epoch | 3 |" in card and "| test_roc_auc | 0.7500 |" in card and "| test_curve" not in card
    assert "plots/curves.png" in uploaded
    assert uploaded["model.safetensors"] == (run / "model" / "model.safetensors").read_bytes()
    assert uploaded["config.json"] == (run / "model" / "config.json").read_bytes()


def test_cli_push_names_a_missing_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["push", str(tmp_path / "nope"), "me/x"]) == 2
    assert "is not a saved model directory" in capsys.readouterr().err


def test_a_refused_upload_is_one_line(make_model, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    from huggingface_hub import HfApi

    def refuse(self, repo_id: str, **kwargs: Any) -> None:
        raise ConnectionError("hub unreachable\n(offline)")

    monkeypatch.setattr(HfApi, "create_repo", refuse)
    make_model("lstm").save_pretrained(tmp_path / "model")
    assert main(["push", str(tmp_path / "model"), "me/x"]) == 2
    err = capsys.readouterr().err
    assert err == "pairsim: error: push to 'me/x' failed: hub unreachable (offline)\n"
