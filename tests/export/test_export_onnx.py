"""ONNX export per tower: onnxruntime gives PyTorch's embeddings and verdicts; unsupported towers say so."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pairsim.cli import main
from pairsim.errors import ConfigError
from pairsim.export.onnx import export_onnx
from pairsim.towers import TOWERS

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install 'pairsim[onnx]'")
from pairsim.export.onnx_runtime import OnnxPairModel


@pytest.mark.parametrize("tower", [n for n in TOWERS.names() if TOWERS.get(n).gives == "embeddings"])
def test_every_tower_exports_or_says_it_cannot(tower: str, make_model, real_items, tmp_path: Path) -> None:
    model = make_model(tower, head="cosine").eval()
    if TOWERS.get(tower).onnx_unsupported:
        with pytest.raises(ConfigError, match=f"tower {tower!r} is not supported") as err:
            export_onnx(model, tmp_path / "onnx")
        assert "\n" not in str(err.value)
        return
    export_onnx(model, tmp_path / "onnx")
    assert sorted(p.name for p in (tmp_path / "onnx").glob("*.onnx")) == ["tower_a.onnx"]  # tied: one graph
    import onnx

    graph = onnx.load(str(tmp_path / "onnx" / "tower_a.onnx")).graph
    for value in [*graph.input, *graph.output]:  # the batch axis is symbolic; text inputs' sequence axis too
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param, value.name
        if model.tower_a.modality == "text" and len(dims) == 2 and value.name != "embeddings":
            assert dims[1].dim_param, value.name
    items = real_items(model.tower_a.modality)
    ours = OnnxPairModel.load(tmp_path / "onnx").encode_a(items, batch_size=5)  # (N, D); batches of mixed lengths
    reference = model.encode_a(items, batch_size=5)  # (N, D)
    assert ours.shape == reference.shape == (len(items), model.tower_a.out_dim)
    assert (ours - reference).abs().max().item() <= 1e-4


def test_minilm_exports_with_real_weights(minilm_model, stsb_sentences: list[str], tmp_path: Path) -> None:
    export_onnx(minilm_model, tmp_path / "onnx")
    assert (tmp_path / "onnx" / "tower_a" / "tokenizer" / "tokenizer.json").is_file()  # tokenizer shipped
    onnx_model = OnnxPairModel.load(tmp_path / "onnx")
    ours = onnx_model.encode_a(stsb_sentences, batch_size=8)  # (N, 384)
    assert (ours - minilm_model.encode_a(stsb_sentences, batch_size=8)).abs().max().item() <= 1e-4
    assert torch.allclose(ours.norm(dim=1), torch.ones(len(stsb_sentences)), atol=1e-5)  # normalisation inside


def test_int8_quantization_keeps_embeddings_close(minilm_model, stsb_sentences: list[str], tmp_path: Path) -> None:
    import onnx

    export_onnx(minilm_model, tmp_path / "fp32")
    export_onnx(minilm_model, tmp_path / "int8", quantize="int8")
    ops = {node.op_type for node in onnx.load(str(tmp_path / "int8" / "tower_a.onnx")).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear"}
    assert (tmp_path / "int8" / "tower_a.onnx").stat().st_size < 0.5 * (
        tmp_path / "fp32" / "tower_a.onnx"
    ).stat().st_size
    fp32 = OnnxPairModel.load(tmp_path / "fp32").encode_a(stsb_sentences)  # (N, 384)
    int8 = OnnxPairModel.load(tmp_path / "int8").encode_a(stsb_sentences)  # (N, 384)
    assert torch.nn.functional.cosine_similarity(fp32, int8).min().item() > 0.9


@pytest.mark.parametrize(
    ("bidirectional", "pooling", "layers"), [(True, "last", 2), (True, "mean", 1), (False, "max", 2)]
)
def test_lstm_graph_equals_the_packed_tower(
    make_model, tower_config, stsb_sentences: list[str], bidirectional: bool, pooling: str, layers: int
) -> None:
    from pairsim.model import PairModel

    torch.manual_seed(0)
    cfg = tower_config("lstm", bidirectional=bidirectional, pooling=pooling, num_layers=layers, out_dim=6)
    model = PairModel.from_config({"tower": cfg}, adapt_on=(stsb_sentences[:20], None)).eval()
    batch = model.tower_a.preprocess(stsb_sentences)  # lengths vary, unknown words included
    with torch.no_grad():
        assert torch.allclose(model.tower_a.onnx_graph()(**batch), model.tower_a(batch), atol=1e-6, rtol=0)


def test_untied_model_exports_two_graphs_and_head_json(make_model, tmp_path: Path) -> None:
    import json

    model = make_model("transformer", tower_b="lstm", head={"name": "weighted_l1"}, threshold=0.1).eval()
    export_onnx(model, tmp_path / "onnx")
    assert sorted(p.name for p in (tmp_path / "onnx").glob("*.onnx")) == ["tower_a.onnx", "tower_b.onnx"]
    head = json.loads((tmp_path / "onnx" / "head.json").read_text())
    assert head["kind"] == "weighted_l1" and head["threshold"] == 0.1
    assert head["higher_is_similar"] == model.head.higher_is_similar
    assert set(head["parameters"]) == set(model.head.state_dict())


def test_cli_score_and_encode_with_onnx_backend_match_torch(
    make_model, stsb_sentences: list[str], tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    model = make_model("transformer", tower_b="lstm", head="cosine").eval()
    a, b = stsb_sentences[0::2], stsb_sentences[1::2]
    scores = model.score(a, b)  # (16,)
    ranked = scores.sort().values  # (16,)
    gap = int((ranked[1:] - ranked[:-1]).argmax())  # a threshold in the widest gap: no pair sits near it
    assert ranked[gap + 1] - ranked[gap] > 1e-3
    model.config.threshold = float(ranked[gap : gap + 2].mean())
    model.save_pretrained(tmp_path / "model")
    assert main(["export", str(tmp_path / "model"), "--format", "onnx", "--out", str(tmp_path / "onnx")]) == 0
    (tmp_path / "a.txt").write_text("\n".join(a) + "\n")
    (tmp_path / "b.txt").write_text("\n".join(b) + "\n")
    outputs = {}
    for backend, path in (("torch", "model"), ("onnx", "onnx")):
        out = tmp_path / f"{backend}.tsv"
        args = ["score", tmp_path / "a.txt", tmp_path / "b.txt", "--model", tmp_path / path, "--backend", backend]
        assert main([str(x) for x in [*args, "--out", out, "--device", "cpu"]]) == 0
        outputs[backend] = [line.split("\t") for line in out.read_text().splitlines()[1:]]
        enc = tmp_path / f"{backend}.safetensors"
        args = ["encode", tmp_path / "b.txt", "--model", tmp_path / path, "--side", "b", "--backend", backend]
        assert main([str(x) for x in [*args, "--out", enc, "--device", "cpu"]]) == 0
    verdicts = {k: [row[1] for row in v] for k, v in outputs.items()}
    assert verdicts["onnx"] == verdicts["torch"] and {"same", "different"} <= set(verdicts["torch"])
    onnx_scores = torch.tensor([float(row[0]) for row in outputs["onnx"]])
    assert torch.allclose(onnx_scores, torch.tensor([float(row[0]) for row in outputs["torch"]]), atol=1e-4)
    emb = {k: load_file(tmp_path / f"{k}.safetensors")["embeddings"] for k in ("torch", "onnx")}
    assert (emb["onnx"] - emb["torch"]).abs().max().item() <= 1e-4


def test_onnx_backend_on_a_torch_model_dir_is_one_line(make_model, tmp_path: Path, capsys) -> None:
    make_model("lstm").save_pretrained(tmp_path / "model")
    (tmp_path / "a.txt").write_text("hello\n")
    code = main(["encode", str(tmp_path / "a.txt"), "--model", str(tmp_path / "model"), "--backend", "onnx",
                 "--out", str(tmp_path / "e.npy")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "is not a pairsim ONNX export" in err and err.count("\n") == 1


def test_an_unsupported_tower_is_named_in_one_line(make_model, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(TOWERS.get("lstm"), "onnx_unsupported", "needs an export-friendly LSTM graph")
    make_model("lstm").save_pretrained(tmp_path / "model")
    code = main(["export", str(tmp_path / "model"), "--format", "onnx", "--out", str(tmp_path / "onnx")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "tower 'lstm' is not supported (needs an export-friendly LSTM graph)" in err
    assert not (tmp_path / "onnx").exists()


def test_export_replaces_an_earlier_export_but_never_other_files(make_model, tmp_path: Path, capsys) -> None:
    make_model("transformer").save_pretrained(tmp_path / "model")
    out = tmp_path / "onnx"
    args = ["export", str(tmp_path / "model"), "--format", "onnx", "--out", str(out)]
    assert main(args) == 0
    first = (out / "tower_a.onnx").stat().st_mtime_ns
    assert main(args) == 0  # an earlier export is replaced whole
    assert (out / "tower_a.onnx").stat().st_mtime_ns >= first and (out / "head.json").is_file()
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"precious")
    for fmt in ("onnx", "sentence-transformers"):
        code = main(["export", str(tmp_path / "model"), "--format", fmt, "--out", str(other)])
        assert code == 2 and "holds other files" in capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["holiday.jpg"]
    assert (other / "holiday.jpg").read_bytes() == b"precious"


def test_a_cosine_head_with_an_snorm_cohort_scores_the_same_in_onnxruntime(
    make_model, real_items, tmp_path: Path
) -> None:
    model = make_model("mlp", head={"name": "cosine", "cohort": 6}).eval()
    items = real_items(model.tower_a.modality)
    model.head.set_cohort(model.encode_a(items[:6]))
    export_onnx(model, tmp_path / "onnx")
    onnx_model = OnnxPairModel.load(tmp_path / "onnx")
    a, b = items[:4], items[4:8]
    plain = torch.nn.functional.cosine_similarity(model.encode_a(a), model.encode_a(b))  # (4,)
    ours = onnx_model.score(a, b)  # (4,)
    torch.testing.assert_close(ours, model.score(a, b), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(ours, plain, atol=1e-3)  # the cohort is applied, not dropped


def test_a_mirror_averaging_image_tower_exports_with_its_mirror(tower_config, real_items, tmp_path: Path) -> None:
    from pairsim.model import PairModel

    torch.manual_seed(0)
    config = {"tower": tower_config("timm", mirror_average=True), "head": {"name": "cosine"}}
    model = PairModel.from_config(config, pretrained=False).eval()
    export_onnx(model, tmp_path / "onnx")
    items = real_items("image")
    ours = OnnxPairModel.load(tmp_path / "onnx").encode_a(items, batch_size=5)  # (N, D)
    reference = model.encode_a(items, batch_size=5)  # (N, D)
    assert (ours - reference).abs().max().item() <= 1e-4
    image = torch.rand(3, 40, 40)
    pair = OnnxPairModel.load(tmp_path / "onnx").encode_a([image, image.flip(-1)])  # (2, D): an image, its mirror
    torch.testing.assert_close(pair[0], pair[1], atol=1e-4, rtol=1e-4)  # the graph holds the mirror average


@pytest.mark.parametrize("assets", ["/tmp", "../../..", "tower_a/../..", "other", 3, None])
def test_assets_outside_the_verified_folders_are_refused(assets, make_model, tmp_path: Path) -> None:
    import json

    from pairsim.errors import ModelFileError

    export_onnx(make_model("lstm", head="cosine", tower_b="lstm").eval(), tmp_path / "onnx")
    manifest_path = tmp_path / "onnx" / "pairsim_onnx.json"
    for side in ("a", "b"):
        manifest = json.loads(manifest_path.read_text())
        assert manifest["sides"][side]["assets"] == f"tower_{side}"
        manifest["sides"][side]["assets"] = assets
        manifest_path.write_text(json.dumps(manifest))
        with pytest.raises(ModelFileError, match=f"sides.{side}.assets") as err:
            OnnxPairModel.load(tmp_path / "onnx")
        assert "\n" not in str(err.value)
        manifest["sides"][side]["assets"] = f"tower_{side}"
        manifest_path.write_text(json.dumps(manifest))
    OnnxPairModel.load(tmp_path / "onnx")  # restored: loads
