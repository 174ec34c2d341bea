"""DistributedDataParallel on the CPU (gloo): two processes train exactly what one process trains.

The trainer splits ``train.batch_size`` evenly over the ranks and rank ``r`` takes batches ``r, r + W, ...``
of one global sequence of per-rank batches, so one DDP step (per-rank mean losses, gradients averaged over
ranks) is the single-process step on the same global batch. These tests check that end to end with
``torchrun`` and the ``pairsim train`` command line, on a tiny deterministic recipe (an LSTM tower on the
Quora fixture: no BatchNorm, no dropout, no augmentation), and check InfoNCE's gathered negatives
directly. They need no data outside the repository and no GPU.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import yaml

REPO = Path(__file__).resolve().parents[2]
QUORA_FIXTURE = REPO / "tests" / "fixtures" / "quora"
WORLD = 2

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available"),
]


def _recipe(output_dir: str) -> dict[str, Any]:
    """A tiny MaLSTM-style recipe: nothing random at training time once the seed is fixed."""
    return {
        "model": {
            "tower": {"name": "lstm", "embed_dim": 16, "hidden_dim": 16, "max_length": 20},
            "head": {"name": "exp"},
        },
        "loss": {"name": "bce"},
        "data": {"name": "quora", "path": str(QUORA_FIXTURE), "layout": "public",
                 "val_fraction": 0.25, "test_fraction": 0.25},
        # 2 epochs of 2 steps of 8 pairs (4 per rank under DDP); adamw with clipping, the trainer's defaults
        "train": {"epochs": 2, "batch_size": 8, "lr": 0.01, "seed": 0, "device": "cpu", "log_every": 1,
                  "checkpoint": {"every": 0}, "speed": {"num_workers": 0}, "schedule": {"warmup": 0.0},
                  "validation": {"at_start": False}},
        "eval": {"batch_size": 64, "plots": False},
        "output_dir": output_dir,
    }  # fmt: skip


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("WORLD_SIZE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


# Each rank runs ``pairsim train`` (the same ``pairsim.cli.main`` as ``python -m pairsim``) from a working
# directory of its own, with a relative output_dir: whatever a rank writes lands under ``rank<RANK>/``.
ENTRY = """\
import os, sys
root = sys.argv[1]
here = os.path.join(root, "rank" + os.environ["RANK"])
os.makedirs(here, exist_ok=True)
os.chdir(here)
from pairsim.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _state(path: Path) -> dict[str, torch.Tensor]:
    from pairsim.train.checkpoint import load_checkpoint

    return load_checkpoint(path)["step_module"]


def _assert_close_states(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-5, msg=lambda m, k=key: f"{k}: {m}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same recipe trained by one process (in this process) and by two (torchrun, gloo)."""
    from pairsim.recipe import Recipe
    from pairsim.train.trainer import Trainer

    tmp = tmp_path_factory.mktemp("ddp")
    recipe = tmp / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(_recipe("run")))
    entry = tmp / "entry.py"
    entry.write_text(ENTRY)
    launch = tmp / "ddp"
    launch.mkdir()
    cmd = [
        sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={WORLD}", "--nnodes=1",
        "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
        str(entry), str(launch), "train", str(recipe), "--no-progress",
    ]  # fmt: skip
    log = tmp / "torchrun.log"
    with open(log, "w") as out:  # start the 2 ranks, then train the single process while they start up
        proc = subprocess.Popen(cmd, cwd=tmp, env=_child_env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            single = tmp / "single"
            with torch.random.fork_rng():
                Trainer(Recipe.from_dict(_recipe(str(single))), progress=False).run()
            code = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert code == 0, f"torchrun failed ({code}):\n{log.read_text()[-6000:]}"
    return {"single": single, "ddp": launch / "rank0" / "run", "launch": launch}


def test_ddp_final_weights_equal_single_process(runs: dict[str, Path]) -> None:
    single = _state(runs["single"] / "checkpoints" / "last.pt")
    ddp = _state(runs["ddp"] / "checkpoints" / "last.pt")
    _assert_close_states(ddp, single)
    # after the same 4 optimiser steps (a single process with the per-rank batch of 4 ends 0.05 away)
    from pairsim.train.checkpoint import load_checkpoint

    assert load_checkpoint(runs["ddp"] / "checkpoints" / "last.pt")["trainer"]["global_step"] == 4


def test_ddp_best_model_and_metrics_equal_single_process(runs: dict[str, Path]) -> None:
    from safetensors.torch import load_file

    _assert_close_states(
        load_file(runs["ddp"] / "model" / "model.safetensors"),
        load_file(runs["single"] / "model" / "model.safetensors"),
    )
    got = json.loads((runs["ddp"] / "metrics.json").read_text())
    want = json.loads((runs["single"] / "metrics.json").read_text())
    assert got["steps"] == want["steps"] == 4
    assert got["best_epoch"] == want["best_epoch"]
    for key, value in want["test"].items():
        if isinstance(value, float):
            assert got["test"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    val = lambda m: [{k: v for k, v in e.items() if k.startswith("val_")} for e in m["history"] if "val_roc_auc" in e]  # noqa: E731
    assert len(val(got)) == len(val(want)) == 2
    for g, w in zip(val(got), val(want), strict=True):
        assert g == pytest.approx(w, rel=1e-4, abs=1e-5)


def test_only_rank_zero_writes(runs: dict[str, Path]) -> None:
    assert sorted(os.listdir(runs["launch"] / "rank1")) == []  # rank 1 wrote nothing at all
    written = {p.relative_to(runs["ddp"]).as_posix() for p in runs["ddp"].rglob("*") if p.is_file()}
    for expected in ("metrics.json", "recipe.yaml", "train.log", "checkpoints/last.pt", "model/config.json",
                     "model/model.safetensors", "plots/curves.png"):  # fmt: skip
        assert expected in written
    assert not [p for p in written if p.endswith(".tmp")]  # no half-written files left behind
    log = (runs["ddp"] / "train.log").read_text()
    assert "2 process(es)" in log and log.count("training lstm on quora") == 1


# -- samplers: the ranks' batches of one step concatenate to the single process's batch ----------------------
class _Ids:
    """A tower stand-in whose features are the item indices themselves."""

    modality = None

    def featurize(self, items: Any, train: bool = False, rng: Any = None) -> list[Any]:
        return list(items)

    def collate(self, features: Any) -> Any:
        return features


def _steps(split: Any, consumes: Any, batch: int, world: int) -> list[list[list[int]]]:
    """Per step, each rank's rows (their slot-0 item indices)."""
    from pairsim.data import Batches

    ranks = [Batches(split, consumes, (_Ids(),) * 2, batch_size=batch, seed=3, rank=r, world_size=world).rows(0)
             for r in range(world)]  # fmt: skip
    return [[p.index[:, 0].tolist() for p in step] for step in zip(*ranks, strict=True)]


@pytest.mark.parametrize("n, batch", [(40, 8), (37, 8), (9, 4), (100, 10)])
def test_pair_batches_split_the_single_process_batches(n: int, batch: int) -> None:
    from pairsim.data import Consumes, PairTable

    table = PairTable(
        a=[f"a{i}" for i in range(n)], b=[f"b{i}" for i in range(n)], labels=[float(i % 2) for i in range(n)]
    )
    consumes = Consumes(("a", "b"), "binary")
    single = [s[0] for s in _steps(table, consumes, batch, 1)]
    assert [[i for part in step for i in part] for step in _steps(table, consumes, batch, WORLD)] == single
    assert len(single) == n // batch


@pytest.mark.parametrize("images, captions, batch", [(800, 5, 64), (100, 5, 64), (30, 5, 16), (12, 3, 12)])
def test_caption_batches_split_the_single_process_batches(images: int, captions: int, batch: int) -> None:
    """No image twice in a global step (a false negative once InfoNCE gathers the ranks' rows)."""
    import numpy as np

    from pairsim.data import CaptionImages, Consumes

    caption_image = np.random.default_rng(0).permutation(np.repeat(np.arange(images), captions))
    data = CaptionImages(images=[f"{i}.jpg" for i in range(images)], image_ids=[str(i) for i in range(images)],
                         captions=[f"c{c}" for c in range(len(caption_image))], caption_image=caption_image.tolist())  # fmt: skip
    consumes = Consumes(("a", "b"), sampler="aligned")
    single = [s[0] for s in _steps(data, consumes, batch, 1)]
    steps = [[i for part in step for i in part] for step in _steps(data, consumes, batch, WORLD)]
    assert steps == single
    assert all(len(set(caption_image[s].tolist())) == len(s) == batch for s in steps)


# -- InfoNCE with negatives gathered over ranks -------------------------------------------------------------
B, D_IN, D = 4, 6, 5  # rows per rank, input size, embedding size


def _infonce_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    xa, xb = torch.randn(WORLD * B, D_IN, generator=g), torch.randn(WORLD * B, D_IN, generator=g)
    wa, wb = torch.randn(D_IN, D, generator=g), torch.randn(D_IN, D, generator=g)
    return xa, xb, wa, wb


def _infonce(gather: bool) -> Any:
    from pairsim.heads import HEADS
    from pairsim.losses import LOSSES

    head = HEADS.get("cosine")(HEADS.get("cosine").Config(name="cosine"))
    cls = LOSSES.get("infonce")
    return cls(cls.Config(name="infonce", gather=gather, temperature=0.1), head=head)


def _infonce_grads(loss_fn: Any, xa: torch.Tensor, xb: torch.Tensor, wa: torch.Tensor, wb: torch.Tensor) -> dict:
    """Loss and gradients (of the projections, the temperature and the inputs) for these rows."""
    xa, xb = xa.clone().requires_grad_(True), xb.clone().requires_grad_(True)
    wa, wb = wa.clone().requires_grad_(True), wb.clone().requires_grad_(True)
    loss = loss_fn(xa @ wa, xb @ wb)
    loss.backward()
    return {"loss": loss.detach(), "wa": wa.grad, "wb": wb.grad, "log_scale": loss_fn.log_scale.grad,
            "xa": xa.grad, "xb": xb.grad}  # fmt: skip


def _infonce_worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        xa, xb, wa, wb = _infonce_inputs()
        rows = slice(rank * B, (rank + 1) * B)
        out = {gather: _infonce_grads(_infonce(gather), xa[rows], xb[rows], wa, wb) for gather in (True, False)}
        torch.save(out, Path(out_dir) / f"rank{rank}.pt")
        dist.barrier()  # no rank tears gloo down while another still talks to it (an intermittent SIGABRT)
    finally:
        dist.destroy_process_group()


def test_infonce_gathered_negatives_equal_single_process(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_infonce_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    single = _infonce_grads(_infonce(True), *_infonce_inputs())  # one process, the concatenated batch

    mean = lambda key, gather=True: torch.stack([r[gather][key] for r in ranks]).mean(0)  # noqa: E731
    # DDP averages per-rank losses and parameter gradients over the ranks: both equal the single process
    torch.testing.assert_close(mean("loss"), single["loss"], rtol=1e-5, atol=1e-6)
    for key in ("wa", "wb", "log_scale"):
        torch.testing.assert_close(mean(key), single[key], rtol=1e-4, atol=1e-6)
    # each rank's rows receive every rank's gradient (the gather's backward sums over ranks), so after
    # DDP's division by the world size they equal the single process's input gradients
    for key in ("xa", "xb"):
        torch.testing.assert_close(torch.cat([r[True][key] for r in ranks]) / WORLD, single[key], rtol=1e-4, atol=1e-6)
    # without gathering, each rank sees only its own B - 1 negatives: a different (smaller) loss
    assert float(mean("loss", gather=False)) < float(single["loss"]) - 1e-3
