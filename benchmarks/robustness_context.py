"""What the cases of ``robustness.py`` share: the case registry, tiny models and inputs (:class:`Context`).

Cases live in ``robustness_cases_*.py`` (issue 8: ``..._files.py``, model directories, checkpoints, run
folders and galleries; ``..._inputs.py``, configs, arguments, input files and modality; issue 22: one file per
class, ``..._r2_*.py``). Each is a function ``(ctx, folder) -> Trial`` registered with :func:`case`. Models are built
once, then copied into a case's folder before it is changed, so cases never see each other's files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "recipes" / "digits_pairs.yaml"


@dataclass
class Trial:
    """One attempt: a command line (``argv``) or an API call (``call``), and what a good end looks like.

    Args:
        argv: ``pairsim`` arguments (run through ``pairsim.cli.main``), or None with ``call``.
        call: An API call instead of a command; its return value goes to ``success``.
        expect: Words (case-insensitive) a clear error message must contain; ``"a|b"`` accepts either.
        forbid: Words that make a message vague (e.g. a misleading "not found").
        protect: Files or folders that must be byte-identical afterwards.
        success: For an exit-0 end: returns None when the answer is right ("handled"), else what is wrong.
        marker: A file that exists only if planted code ran.
        cwd: Run in this folder.
        shown: The command as shown in the table (default: ``pairsim`` + argv).
        network_ok: The case may contact the hub (a hub id was given); otherwise any connection is unsafe.
        check_message: For a one-line error: returns None when it is right, else what is wrong (vague).
    """

    argv: list[Any] | None = None
    call: Callable[[], Any] | None = None
    expect: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    protect: list[Path] = field(default_factory=list)
    success: Callable[[str, Any], str | None] | None = None
    marker: Path | None = None
    cwd: Path | None = None
    shown: str | None = None
    network_ok: bool = False
    check_message: Callable[[str], str | None] | None = None


TINY = [
    "train.schedule.steps_per_epoch=5", "train.epochs=1", "train.batch_size=16", "train.device=cpu", "train.checkpoint.every=2",
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
            vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
            # transformers 5 builds the word-piece model from a vocab dict (a vocab_file alone gave all-[UNK] ids)
            BertTokenizerFast(vocab=vocab).save_pretrained(backbone)
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


def scores_of(out: str) -> list[float]:
    return [float(line.split("\t")[0]) for line in out.splitlines()[1:] if line.strip()]


def write_recipe(folder: Path, text: str, name: str = "r.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# The groups of issue 8, in the table's order.
SEC, LOST, SILENT, TRACE, VAGUE = "security", "nothing lost", "silent wrong answers", "tracebacks", "vague messages"
# The classes of issue 22 (second round), each fixed at one root.
OUT_PATHS = "r2 output paths"  # one output-path policy (--out, galleries, exports)
SERVICE = "r2 service"  # the HTTP service: token, hosts, origins, limits, a gallery that follows its file
MODEL_DIR = "r2 model directories"  # one loader rule: manifest, symlinks, weights' values
NAMES = "r2 names and outputs"  # one name policy; unambiguous outputs; hidden folders; save -> load
INPUTS = "r2 inputs"  # one number parser, one image converter, empty / unknown texts, bounded documents
GROUPS = (SEC, LOST, SILENT, TRACE, VAGUE, OUT_PATHS, SERVICE, MODEL_DIR, NAMES, INPUTS)


def rehash(model: Path, manifest: str = "config.json") -> None:
    """Make a model directory's sha256 map consistent with its files again, as someone who can edit the
    manifest (``config.json``, an export's ``pairsim_onnx.json``) would."""
    config = json.loads((model / manifest).read_text())
    config["sha256"] = {
        p.relative_to(model).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(model.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name not in (manifest, "README.md")
    }
    (model / manifest).write_text(json.dumps(config))


def enroll_folders(ctx: Context, d: Path, names: list[str], expect: list[str]) -> Trial:
    """``pairsim enroll`` of the people folder plus one folder per name (one digit picture each)."""
    people = ctx.people(d)
    for name in names:
        (people / name).mkdir()
        shutil.copy(ctx.pngs[2], people / name / "face.png")
    return Trial(argv=["enroll", people, "--model", ctx.run / "model", "--gallery", d / "g.safetensors"],
                 expect=expect)  # fmt: skip
