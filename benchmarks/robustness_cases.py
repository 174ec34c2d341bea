"""The cases of ``robustness.py``: issue 8's list, each a function ``(ctx, folder) -> Trial``.

Groups follow the issue: security, nothing lost, silent wrong answers, tracebacks, vague messages.
Models are tiny and built here (:class:`Context`), once, then copied into a case's folder before it is
changed, so cases never see each other's files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robustness import Trial

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "recipes" / "digits_pairs.yaml"
TINY = [
    "train.steps_per_epoch=5", "train.epochs=1", "train.batch_size=16", "train.device=cpu", "train.checkpoint_every=2",
    "model.tower.width=0.25", "eval.episodes=0", "eval.pairs=40", "eval.plots=false",
]  # fmt: skip
TEXTS = ["How old are you?", "what is your age", "The cat sat on the mat.", "a dog runs in the park"]

CASES: list[tuple[str, str, Callable[[Context, Path], Trial]]] = []


class Skip(Exception):
    """A case that cannot run here (e.g. it needs a GPU to be absent)."""


def case(name: str, group: str) -> Callable[[Callable[[Context, Path], Trial]], Callable[[Context, Path], Trial]]:
    def add(fn: Callable[[Context, Path], Trial]) -> Callable[[Context, Path], Trial]:
        CASES.append((name, group, fn))
        return fn

    return add


class Context:
    """Tiny models and inputs shared by the cases, built on first use under ``root/_shared``."""

    def __init__(self, root: Path) -> None:
        self.root = root / "_shared"
        self.root.mkdir()
        self._cache: dict[str, Any] = {}

    def _once(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    # -- models ---------------------------------------------------------------------------------------------
    @property
    def run(self) -> Path:
        """A finished ``pairsim train`` run on digits (model/, metrics.json, recipe.yaml, checkpoints/)."""

        def build() -> Path:
            from pairsim.cli import main

            out = self.root / "digits-run"
            code = main(["train", str(DIGITS), *TINY, f"output_dir={out}", "--no-progress"])
            assert code == 0, "training the tiny digits model failed"
            return out

        return self._once("run", build)

    def copy_run(self, folder: Path) -> Path:
        target = folder / "run"
        shutil.copytree(self.run, target)
        return target

    @property
    def text_model(self) -> Path:
        """A tiny LSTM + cosine model, threshold 0.5."""

        def build() -> Path:
            import torch

            from pairsim.model import PairModel

            torch.manual_seed(0)
            model = PairModel.from_config(
                {"tower": {"name": "lstm", "embed_dim": 8, "hidden_dim": 8}}, pretrained=False
            )
            model.adapt(TEXTS, TEXTS)
            model.config.threshold = 0.5
            return model.save_pretrained(self.root / "text-model")

        return self._once("text", build)

    @property
    def bert_model(self) -> Path:
        """A model whose tower is a 2-layer, 32-wide BERT with a made-up word-piece vocabulary (no downloads)."""

        def build() -> Path:
            import torch
            from transformers import BertConfig, BertModel, BertTokenizerFast

            from pairsim.model import PairModel

            backbone = self.root / "tiny-bert"
            backbone.mkdir()
            words = sorted({w.strip("?.").lower() for t in TEXTS for w in t.split()})
            (backbone / "vocab.txt").write_text(
                "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n"
            )
            BertTokenizerFast(vocab_file=str(backbone / "vocab.txt")).save_pretrained(backbone)
            cfg = BertConfig(vocab_size=5 + len(words), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=64)  # fmt: skip
            torch.manual_seed(0)
            BertModel(cfg).save_pretrained(backbone)
            model = PairModel.from_config({"tower": {"name": "transformer", "model": str(backbone), "out_dim": 8}})
            model.config.threshold = 0.5
            return model.save_pretrained(self.root / "bert-model")

        return self._once("bert", build)

    def copy(self, model: Path, folder: Path, name: str = "model") -> Path:
        target = folder / name
        shutil.copytree(model, target)
        return target

    # -- inputs ---------------------------------------------------------------------------------------------
    @property
    def pngs(self) -> list[str]:
        """Ten digits as 8x8 PNG files."""

        def build() -> list[str]:
            from pairsim.data import load_dataset
            from pairsim.images import load_image

            test = load_dataset({"name": "digits"}).test
            paths = []
            for i in range(10):
                path = self.root / f"digit{i}.png"
                load_image(test.items[i], mode="L").save(path)
                paths.append(str(path))
            return paths

        return self._once("pngs", build)

    def lines(self, folder: Path, name: str, lines: list[str]) -> Path:
        path = folder / name
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return path

    def people(self, folder: Path) -> Path:
        """A people folder: two identities with one digit picture each."""
        root = folder / "people"
        for name, png in (("ann", self.pngs[0]), ("bob", self.pngs[1])):
            (root / name).mkdir(parents=True)
            shutil.copy(png, root / name / "face.png")
        return root

    def gallery(self, folder: Path, model: Path) -> Path:
        from pairsim.cli import main

        gallery = folder / "g.safetensors"
        assert main(["enroll", str(self.people(folder)), "--model", str(model), "--gallery", str(gallery)]) == 0
        return gallery


def _scores(out: str) -> list[float]:
    return [float(line.split("\t")[0]) for line in out.splitlines()[1:] if line.strip()]


def _recipe(folder: Path, text: str, name: str = "r.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# == security ===================================================================================================
SEC = "security"


@case("planted_checkpoint", SEC)
def _(ctx: Context, d: Path) -> Trial:
    import pickle

    run = ctx.copy_run(d)
    marker = d / "PWNED"

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    (run / "checkpoints").mkdir(exist_ok=True)
    (run / "checkpoints" / "last.pt").write_bytes(pickle.dumps({"model": Evil()}))
    return Trial(
        argv=["train", DIGITS, *TINY, f"output_dir={run}", "--resume", "--no-progress"],
        expect=["last.pt"], marker=marker, protect=[run / "model", run / "metrics.json"],
    )  # fmt: skip


@case("auto_map_tokenizer", SEC)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    marker = d / "PWNED"
    tok = model / "tower_a" / "tokenizer"
    (tok / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    config = json.loads((tok / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", "evil.EvilTokenizer"]}
    (tok / "tokenizer_config.json").write_text(json.dumps(config))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["auto_map"], marker=marker)


@case("hub_id_in_saved_config", SEC)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    saved = json.loads((model / "config.json").read_text())
    saved["model"]["tower"]["backbone_config"] = None
    saved["model"]["tower"]["model"] = "sentence-transformers/all-MiniLM-L6-v2"
    (model / "config.json").write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["backbone_config"])


@case("parent_path_in_saved_config", SEC)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.bert_model, d)
    saved = json.loads((model / "config.json").read_text())
    saved["model"]["tower"]["backbone_config"] = None
    saved["model"]["tower"]["model"] = str(ctx.root / "tiny-bert")  # a folder outside the model directory
    (model / "config.json").write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["model"])


@case("vocab_size_1e11", SEC)
def _(ctx: Context, d: Path) -> Trial:
    r = _recipe(d, "model: {tower: {name: lstm, vocab_size: 100000000000}}\nloss: {name: contrastive}\n"
                   "data: {name: digits}\n")  # fmt: skip
    return Trial(argv=["train", r, f"output_dir={d / 'run'}"], expect=["vocab_size", "100000000000"])


@case("image_size_40000", SEC)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "model.tower.image_size=[40000,40000]", f"output_dir={d / 'run'}"],
                 expect=["image_size", "40000"])  # fmt: skip


# == nothing lost =============================================================================================
LOST = "nothing lost"


def _finished(run: Path) -> list[Path]:
    return [run / "model", run / "metrics.json", run / "recipe.yaml"]


@case("train_epochs0_into_finished_run", LOST)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    return Trial(argv=["train", DIGITS, *TINY, "train.epochs=0", f"output_dir={run}", "--no-progress"],
                 expect=["output_dir"], protect=_finished(run))  # fmt: skip


@case("train_nan_into_finished_run", LOST)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    return Trial(argv=["train", DIGITS, *TINY, "train.lr=1e30", f"output_dir={run}", "--no-progress"],
                 expect=["output_dir"], protect=_finished(run))  # fmt: skip


@case("nan_stop_names_what_is_kept", LOST)
def _(ctx: Context, d: Path) -> Trial:
    run = d / "run"

    def kept(out: str, _: Any) -> str | None:
        return "a NaN loss run ended with exit 0"

    def paths_exist(message: str) -> str | None:
        named = [w.strip(",.;:()'\"") for w in message.split() if "/" in w]
        gone = [p for p in named if not Path(p).exists()]
        return f"names {gone[0]}, which does not exist" if gone else None

    return Trial(argv=["train", DIGITS, *TINY, "train.lr=1e30", "train.checkpoint_every=0", f"output_dir={run}",
                       "--no-progress"], expect=["nan"], success=kept, check_message=paths_exist)  # fmt: skip


@case("save_pretrained_over_file", LOST)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.model import PairModel

    target = d / "notes.txt"
    target.write_text("my notes\n")
    model = PairModel.from_pretrained(ctx.text_model)
    return Trial(call=lambda: model.save_pretrained(target), expect=["notes.txt"], protect=[target],
                 shown="model.save_pretrained('$TMP/notes.txt')  # an existing file")  # fmt: skip


@case("save_pretrained_over_foreign_dir", LOST)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.model import PairModel

    target = d / "photos"
    target.mkdir()
    (target / "holiday.jpg").write_bytes(b"\xff\xd8 a photo")
    model = PairModel.from_pretrained(ctx.text_model)
    return Trial(call=lambda: model.save_pretrained(target), expect=["photos"], protect=[target],
                 shown="model.save_pretrained('$TMP/photos')  # a folder of other files")  # fmt: skip


@case("output_dir_empty", LOST)
def _(ctx: Context, d: Path) -> Trial:
    (d / "metrics.json").write_text('{"mine": 1}\n')
    return Trial(argv=["train", DIGITS, *TINY, "output_dir=", "--no-progress"], expect=["output_dir"], cwd=d,
                 protect=[d])  # fmt: skip


@case("interrupted_model_swap", LOST)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    (run / "model").rename(run / ".model.old")  # killed between the two renames: no model/ at all
    a = ctx.lines(d, "a.txt", ctx.pngs[:2])

    def recovered(out: str, _: Any) -> str | None:
        return None if len(_scores(out)) == 2 else f"unexpected output {out[:80]!r}"

    return Trial(argv=["score", a, a, "--model", run / "model"], expect=[".model.old"], success=recovered)


# == silent wrong answers ========================================================================================
SILENT = "silent wrong answers"


@case("image_paths_to_text_model", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ctx.pngs[:3])
    b = ctx.lines(d, "b.txt", ctx.pngs[3:6])
    return Trial(argv=["score", a, b, "--model", ctx.text_model], expect=["a.txt", "image", "text"])


@case("text_model_eval_on_images", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    r = _recipe(d, "model: {tower: {name: lstm}}\nloss: {name: contrastive}\ndata: {name: digits}\n"
                   "eval: {pairs: 20, plots: false}\n")  # fmt: skip
    return Trial(argv=["eval", ctx.text_model, r, "--out", d / "eval"], expect=["image", "text"])


@case("text_tower_trained_on_images", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "model.tower={name: lstm, embed_dim: 8, hidden_dim: 8}",
                       f"output_dir={d / 'run'}", "--no-progress"], expect=["image", "text"])  # fmt: skip


@case("text_gallery_from_image_folders", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    people = ctx.people(d)
    return Trial(argv=["enroll", people, "--model", ctx.text_model, "--gallery", d / "g.safetensors"],
                 expect=["image", "text"])  # fmt: skip


def _score_case(extra: list[str], expect: list[str]) -> Callable[[Context, Path], Trial]:
    def make(ctx: Context, d: Path) -> Trial:
        a = ctx.lines(d, "a.txt", ctx.pngs[:3])
        return Trial(argv=["score", a, a, "--model", ctx.run / "model", *extra], expect=expect)

    return make


case("score_batch_size_-1", SILENT)(_score_case(["--batch-size", "-1"], ["--batch-size", "-1"]))
case("score_batch_size_0", SILENT)(_score_case(["--batch-size", "0"], ["--batch-size", "0"]))
case("score_top_k_-1", SILENT)(_score_case(["--top-k", "-1"], ["--top-k", "-1"]))


def _override_case(override: str, expect: list[str]) -> Callable[[Context, Path], Trial]:
    def make(ctx: Context, d: Path) -> Trial:
        return Trial(argv=["train", DIGITS, *TINY, override, f"output_dir={d / 'run'}", "--no-progress"], expect=expect)

    return make


for _override, _words in [
    ("train.log_every=0", ["train.log_every", "0"]),
    ("train.seed=-1", ["train.seed", "-1"]),
    ("train.pairs_per_epoch=-10", ["train.pairs_per_epoch", "-10"]),
    ("model.tower.out_dim=0", ["model.tower.out_dim", "0"]),
    ("model.tower.out_dim=-5", ["model.tower.out_dim", "-5"]),
    ("model.tower.width=-1.0", ["model.tower.width", "-1.0"]),
    ("loss.margin=-2.0", ["margin", "-2"]),
    ("train.lr=0", ["train.lr", "0"]),
    ("train.lr=-0.01", ["train.lr", "-0.01"]),
    ("train.lr=.nan", ["train.lr", "nan"]),
    ("data.val_fraction=1.5", ["data.val_fraction", "1.5"]),
]:
    case(_override.replace("model.tower.", "").replace("train.", "").replace("data.", ""), SILENT)(
        _override_case(_override, _words)
    )


@case("gallery_from_another_model", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    from pairsim.model import PairModel

    gallery = ctx.gallery(d, ctx.run / "model")
    other = PairModel.from_pretrained(ctx.run / "model")
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn_like(p))
    other_dir = other.save_pretrained(d / "other-model")
    return Trial(argv=["identify", ctx.pngs[2], "--model", other_dir, "--gallery", gallery], expect=["gallery"])


def _gallery_file(d: Path, rows: Any, metadata: dict[str, str] | None) -> Path:
    from safetensors.torch import save_file

    path = d / "g.safetensors"
    save_file({"embeddings": rows}, str(path), metadata=metadata)
    return path


@case("gallery_wrong_size", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    g = _gallery_file(d, torch.randn(2, 5), {"identities": json.dumps(["ann", "bob"])})
    return Trial(argv=["identify", ctx.pngs[2], "--model", ctx.run / "model", "--gallery", g], expect=["g.safetensors"])


@case("gallery_empty", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    g = _gallery_file(d, torch.zeros(0, 32), {"identities": "[]"})
    return Trial(argv=["identify", ctx.pngs[2], "--model", ctx.run / "model", "--gallery", g], expect=["g.safetensors"])


@case("gallery_without_identities", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    g = _gallery_file(d, torch.randn(2, 32), None)
    return Trial(argv=["identify", ctx.pngs[2], "--model", ctx.run / "model", "--gallery", g],
                 expect=["g.safetensors", "identit"])  # fmt: skip


@case("flipped_weight_bytes", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.run / "model", d)
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    for i in range(len(data) - 4096, len(data) - 64, 97):  # inside the tensor data, past the header
        data[i] ^= 0x40
    weights.write_bytes(bytes(data))
    a = ctx.lines(d, "a.txt", ctx.pngs[:3])
    return Trial(argv=["score", a, a, "--model", model], expect=["model.safetensors"])


@case("truncated_vocab", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    vocab = model / "tower_a" / "vocab.json"
    saved = json.loads(vocab.read_text())
    saved["itos"] = saved["itos"][:2]
    vocab.write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    b = ctx.lines(d, "b.txt", TEXTS[2:])
    return Trial(argv=["score", a, b, "--model", model], expect=["vocab"])


@case("missing_tokenizer_json", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    from pairsim.cli import main

    a = ctx.lines(d, "a.txt", TEXTS[:2])
    b = ctx.lines(d, "b.txt", TEXTS[2:])
    with open(d / "reference.tsv", "w") as f, __import__("contextlib").redirect_stdout(f):
        main(["score", str(a), str(b), "--model", str(ctx.bert_model)])
    reference = _scores((d / "reference.tsv").read_text())
    model = ctx.copy(ctx.bert_model, d)
    (model / "tower_a" / "tokenizer" / "tokenizer.json").unlink()

    def same(out: str, _: Any) -> str | None:
        got = _scores(out)
        ok = len(got) == len(reference) and all(abs(x - y) < 1e-4 for x, y in zip(got, reference, strict=True))
        return None if ok else f"scores {got} differ from the intact model's {reference}"

    return Trial(argv=["score", a, b, "--model", model], expect=["tokenizer"], success=same)


@case("threshold_nan", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    saved = json.loads((model / "config.json").read_text())
    saved["model"]["threshold"] = float("nan")
    (model / "config.json").write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["threshold", "nan"])


@case("utf8_bom_input", SILENT)
def _(ctx: Context, d: Path) -> Trial:
    a, b = d / "a.txt", d / "b.txt"
    a.write_bytes("\ufeffHow old are you?\n".encode())
    b.write_bytes(b"How old are you?\n")

    def identical(out: str, _: Any) -> str | None:
        got = _scores(out)
        return None if got and abs(got[0] - 1.0) < 1e-5 else f"identical texts scored {got}"

    return Trial(argv=["score", a, b, "--model", ctx.text_model], success=identical)


# == tracebacks ================================================================================================
TRACE = "tracebacks"


@case("decompression_bomb", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    from PIL import Image

    bomb = d / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 Mpixels in a 48 kB file
    a = ctx.lines(d, "a.txt", [ctx.pngs[0], str(bomb)])
    return Trial(argv=["score", a, a, "--model", ctx.run / "model"], expect=["bomb.png"])


@case("score_out_is_directory", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ctx.pngs[:2])
    (d / "out" / "keep").mkdir(parents=True)
    return Trial(argv=["score", a, a, "--model", ctx.run / "model", "--out", d / "out"], expect=["--out", "directory"],
                 protect=[d / "out"])  # fmt: skip


@case("non_utf8_recipe", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    r = d / "latin1.yaml"
    r.write_bytes("# caf\xe9\nmodel: {tower: {name: lstm}}\n".encode("latin-1"))
    return Trial(argv=["train", r, f"output_dir={d / 'run'}"], expect=["latin1.yaml", "utf-8"])


@case("non_utf8_people_file", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    person = d / "people" / "ann"
    person.mkdir(parents=True)
    (person / "says.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    return Trial(argv=["enroll", d / "people", "--model", ctx.text_model, "--gallery", d / "g.safetensors"],
                 expect=["says.txt", "utf-8"])  # fmt: skip


@case("output_dir_is_file", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    f = d / "results.txt"
    f.write_text("keep me\n")
    return Trial(argv=["train", DIGITS, *TINY, f"output_dir={f}", "--no-progress"],
                 expect=["output_dir", "results.txt"], protect=[f])  # fmt: skip


@case("device_cuda_without_gpu", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    if torch.cuda.is_available():
        raise Skip("this machine has a GPU")
    a = ctx.lines(d, "a.txt", ctx.pngs[:2])
    return Trial(argv=["score", a, a, "--model", ctx.run / "model", "--device", "cuda"], expect=["cuda"])


@case("device_cuda_without_gpu_in_recipe", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    import torch

    if torch.cuda.is_available():
        raise Skip("this machine has a GPU")
    return Trial(argv=["train", DIGITS, *TINY, "train.device=cuda", f"output_dir={d / 'run'}", "--no-progress"],
                 expect=["train.device", "cuda"])  # fmt: skip


@case("device_unknown", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "train.device=gpu0", f"output_dir={d / 'run'}", "--no-progress"],
                 expect=["device", "gpu0"])  # fmt: skip


@case("resume_with_changed_shape", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    run = ctx.copy_run(d)
    return Trial(argv=["train", DIGITS, *TINY, "model.tower.out_dim=16", f"output_dir={run}", "--resume",
                       "--no-progress"], expect=["resume"], protect=_finished(run))  # fmt: skip


@case("hidden_dim_-4_in_saved_config", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    saved = json.loads((model / "config.json").read_text())
    saved["model"]["tower"]["hidden_dim"] = -4
    (model / "config.json").write_text(json.dumps(saved))
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["hidden_dim", "-4"])


@case("eval_out_is_file", TRACE)
def _(ctx: Context, d: Path) -> Trial:
    f = d / "metrics.txt"
    f.write_text("earlier\n")
    return Trial(argv=["eval", ctx.run / "model", "--out", f], expect=["metrics.txt"], protect=[f])


# == vague messages =============================================================================================
VAGUE = "vague messages"


@case("directory_as_input_file", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    (d / "inputs").mkdir()
    return Trial(argv=["score", d / "inputs", d / "inputs", "--model", ctx.run / "model"], expect=["directory"],
                 forbid=["not found"])  # fmt: skip


@case("blank_line_in_image_list", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", [ctx.pngs[0], "", ctx.pngs[1]])
    return Trial(argv=["score", a, a, "--model", ctx.run / "model"], expect=["a.txt", "line 2"], forbid=["found: ."])


@case("config_json_is_a_list", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    model = ctx.copy(ctx.text_model, d)
    (model / "config.json").write_text("[1, 2, 3]\n")
    a = ctx.lines(d, "a.txt", TEXTS[:2])
    return Trial(argv=["score", a, a, "--model", model], expect=["config.json"], forbid=["format_version None"])


@case("empty_val_split", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["eval", ctx.run / "model", "data.val_fraction=0", "--split", "val", "--out", d / "eval"],
                 expect=["val_fraction"])  # fmt: skip


@case("empty_test_split_in_train", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["train", DIGITS, *TINY, "data.test_fraction=0", f"output_dir={d / 'run'}", "--no-progress"],
                 expect=["test", "data.test_fraction"])  # fmt: skip


@case("eval_pairs_0", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    return Trial(argv=["eval", ctx.run / "model", "eval.pairs=0", "--out", d / "eval"], expect=["eval.pairs"])


@case("local_typo_sent_to_hub", VAGUE)
def _(ctx: Context, d: Path) -> Trial:
    a = ctx.lines(d, "a.txt", ctx.pngs[:2])
    return Trial(argv=["score", a, a, "--model", "digts/model"], expect=["digts/model", "local", "hub"],
                 network_ok=True)  # fmt: skip
