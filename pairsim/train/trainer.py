"""``pairsim train``: the training loop, with evaluation, checkpoints, resume and early stopping."""

from __future__ import annotations

import logging
import os
import random
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from pairsim.data import Batches, build_source, load_dataset, side_inputs
from pairsim.data.fingerprint import calibration_record
from pairsim.data.require import require_splits
from pairsim.errors import ModelFileError, PairsimError
from pairsim.evaluate import (
    HEADLINE,
    check_evaluation,
    evaluate_split,
    improved,
    primary_metric,
    save_eval_plots,
    save_graded_plot,
)
from pairsim.losses import LOSSES
from pairsim.metrics import plot_curves, write_json
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.safe_io import atomic_write_text
from pairsim.train.callbacks import Callback, CallbackList, StopRun
from pairsim.train.checkpoint import (
    check_weights_fit,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    upgrade_state,
)
from pairsim.train.distributed import Runtime, setup, teardown
from pairsim.train.fitters import build_fitters
from pairsim.train.frozen import cache_frozen_sides, check_cache_views
from pairsim.train.housekeeping import Housekeeping
from pairsim.train.optim import build_optimizer, freeze_towers, param_groups
from pairsim.train.run_callbacks import recipe_callbacks
from pairsim.train.run_dir import check_output_dir, prepare_output, promote, setup_logging
from pairsim.train.schedule import build_scheduler
from pairsim.train.step import TrainStep, batch_size_of, to_device
from pairsim.train.threads import use_threads

log = logging.getLogger("pairsim.train")


class TrainingError(PairsimError):
    """Training cannot go on (a NaN / inf loss, ...); the message says what is kept."""


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer(Housekeeping):
    """Trains the model a recipe describes and writes everything to ``recipe.output_dir``.

    The output directory holds ``model/`` (the best model, ``save_pretrained`` layout, with the decision
    threshold calibrated on the validation split), ``metrics.json`` (validation history and the final
    test metrics), ``recipe.yaml`` (the resolved recipe), ``train.log``, ``plots/*.png``,
    ``checkpoints/last.pt`` (for ``--resume``) and, with ``train.checkpoint.snapshot_every``, ``snapshots/``.

    Args:
        recipe: The run to do.
        resume: Continue from ``checkpoints/last.pt`` exactly where a killed run stopped.
        progress: Show a progress bar on a terminal; without one (False, or standard error is not a terminal) a
            log line every 30 s says the step, loss, pairs/s and time left.
        callbacks: Watchers of the run (trackers, pruners, time budgets; :mod:`pairsim.train.callbacks`), called on
            the main process; a hook raising :class:`~pairsim.train.callbacks.StopRun` ends training cleanly.
        model: Train this model instead of building ``recipe.model`` (``pairsim.fit`` with a model object; its
            config is ``recipe.model``). After :meth:`run`, ``final_model`` is the model the test metrics are of.
        test: Evaluate the best model on the test split at the end (False: ``metrics["test"]`` is None, as in a
            sweep's trials, chosen on validation only).

    Example:
        >>> recipe = Recipe.load("recipes/digits_pairs.yaml", ["train.epochs=1"])  # doctest: +SKIP
        >>> Trainer(recipe).run()["test"]["roc_auc"]  # doctest: +SKIP
        0.97
    """

    def __init__(
        self,
        recipe: Recipe,
        *,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = True,
        callbacks: Sequence[Callback] = (),
        model: PairModel | None = None,
        test: bool = True,
    ) -> None:
        self.recipe = recipe
        self.test = test  # False: no test evaluation (a sweep's trials; only the chosen one meets the test split)
        # a bar on a terminal or in a notebook (tqdm.auto's widget); else log lines every 30 s (train/progress_log.py)
        self.bar_shown = progress and (getattr(sys.stderr, "isatty", bool)() or "ipykernel" in sys.modules)
        first, last = recipe_callbacks(recipe, log_lines=not self.bar_shown)  # reporters, time budget
        self.callbacks = CallbackList([*first, *callbacks, *last])
        self.stop_reason: str | None = None  # set when a callback ends the run (StopRun)
        self.given_model = model
        self.resume = resume
        self.progress = progress
        if os.environ.get("RANK", "0") == "0":
            self.out, self.staged = check_output_dir(recipe.output_dir, resume=resume, overwrite=overwrite)
        else:  # other ranks write nothing (and could already see rank 0's new files)
            self.out, self.staged = Path(recipe.output_dir).expanduser(), False
        # an overwriting run is written beside the earlier one and swapped in only when it has finished
        self.work = self.out.with_name(f".{self.out.name}.overwrite") if self.staged else self.out
        self.ckpt_path = self.work / "checkpoints" / "last.pt"
        self._start_housekeeping()

    # -- set-up ---------------------------------------------------------------------------------------------
    def _build(self, rt: Runtime) -> None:
        r = self.recipe
        _seed_everything(r.train.seed)
        self.splits = load_dataset(r.data)
        require_splits(self.splits, r.data)  # an empty split is one error naming the setting, before any work
        for name in ("val", "test"):  # evaluation settings the splits cannot meet: one error now, not after fitting
            check_evaluation(getattr(self.splits, name), r.eval, split=name)
        if self.given_model is not None:  # pairsim.fit with a model object: trained as it is
            model = self.given_model
        else:
            model = PairModel.from_config(r.model, adapt_on=side_inputs(self.splits.train))
        self.model = model.to(rt.device)
        if r.train.speed.channels_last:  # convolution weights (4-d) only; everything else is unchanged
            self.model.to(memory_format=torch.channels_last)
        self.loss = LOSSES.get(r.loss.name)(r.loss, head=model.head).to(rt.device)
        if r.train.speed.cache_frozen:  # views with nothing to store are one error now, not a silent no-op
            check_cache_views(model, r.train)
        self.batches = Batches(  # rows the split cannot give: one error now, before any fitting
            self.splits.train, self.loss.consumes, (model.tower_a, model.side_b), r.sampler,
            batch_size=r.train.batch_size, seed=r.train.seed, rank=rt.rank, world_size=rt.world_size,
            num_workers=r.train.speed.num_workers, pin_memory=rt.device.type == "cuda",
        )  # fmt: skip
        self.loss.prepare(self.batches.side_inputs())  # e.g. a guide model embeds every item once (infonce)
        self.fitters = build_fitters(model, r)  # parts fitted in closed form (pairsim/train/fitters)
        for fitter in self.fitters:  # what cannot be fitted is one error now, before any fitting or training
            fitter.check(model, self.splits.train)
        for fitter in self.fitters:  # also on --resume: a frozen tower's cache below needs the fitted parts
            fitter.fit(model, self.splits.train)
        self.step_module = TrainStep(self.model, self.loss, frozen=freeze_towers(model, r.train))
        self.runner: torch.nn.Module = self.step_module
        if rt.distributed:
            self.runner = DistributedDataParallel(
                self.step_module, device_ids=[rt.device.index] if rt.device.type == "cuda" else None
            )
        per_epoch = self.batches.steps_per_epoch
        s = r.train.schedule
        self.steps_per_epoch = min(per_epoch, s.steps_per_epoch) if s.steps_per_epoch else per_epoch
        total = self.steps_per_epoch * r.train.epochs
        self.total_steps = min(total, s.max_steps) if s.max_steps else total
        # with no steps (epochs 0: a fitted map is the model) there is nothing to reuse the stored vectors
        if r.train.speed.cache_frozen and self.total_steps:
            cache_frozen_sides(self.batches, model, r.train, batch_size=r.eval.batch_size)
        self.optimizer = build_optimizer(param_groups(self.step_module, model, r), r)
        s = r.train.schedule  # the total can be re-planned (a time budget: pairsim/train/budget.py)
        self.scheduler = build_scheduler(self.optimizer, decay=s.decay, warmup=s.warmup, total=self.total_steps)
        self.state: dict[str, Any] = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "history": [],
                                      "best": None, "best_epoch": None, "stale_epochs": 0,
                                      "train_seconds": 0.0, "epochs_from": 1}  # fmt: skip

    def _checkpoint(self) -> None:
        state = {
            "step_module": self.step_module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "trainer": self.state,
            "rng": rng_state(),
            "recipe": self.recipe.to_dict(),
        }
        save_checkpoint(self.ckpt_path, state)
        self._checkpoint_written()

    def _restore(self) -> None:
        ckpt = load_checkpoint(self.ckpt_path)
        where = f"checkpoint {self.ckpt_path}"
        try:
            saved = ckpt["step_module"]
            check_weights_fit(saved, self.step_module.state_dict(), where=where)
            self.step_module.load_state_dict(saved)
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
            self.state = upgrade_state(ckpt["trainer"])
            set_rng_state(ckpt["rng"])
        except (KeyError, ValueError, TypeError, RuntimeError) as err:
            raise ModelFileError(f"{where} does not fit this run: {' '.join(str(err).split())}") from None
        log.info(
            "resumed from %s after step %d (epoch %d)",
            self.ckpt_path,
            self.state["global_step"],
            self.state["epoch"] + 1,
        )

    # -- loop -------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Train, evaluate and save. Returns the metrics written to ``metrics.json``."""
        with use_threads(self.recipe.train.speed.threads) as threads:
            self.threads = threads
            return self._run()

    def _run(self) -> dict[str, Any]:
        rt = setup(self.recipe.train.device)
        try:
            if rt.is_main:
                self._prepare_output()
            setup_logging(self.work, rt.is_main)
            note = self.recipe.renamed_note()  # old key names read: said once, as one line
            if note and rt.is_main:
                log.info(note)
            self._build(rt)
            if self.resume:
                self._restore()
            elif rt.is_main:
                atomic_write_text(self.work / "recipe.yaml", self.recipe.to_yaml())
            log.info(
                "training %s on %s (%d train examples, %s loss, %d steps of %d, device %s, %d process(es), "
                "%d CPU thread(s): train.speed.threads or --threads)",
                self.recipe.model.tower.name, self.recipe.data.name, len(self.splits.train), self.recipe.loss.name,
                self.total_steps, self.recipe.train.batch_size, rt.device, rt.world_size, self.threads,
            )  # fmt: skip
            if rt.is_main:
                self.callbacks.on_train_start(self)
            self._train(rt)
            metrics = self._finish(rt)
            if rt.is_main:
                self.callbacks.on_train_end(self, metrics=metrics)
            if rt.is_main and self.staged:
                self._promote()
            return metrics
        except BaseException:
            if rt.is_main and self.staged:  # the earlier run stays as it was
                shutil.rmtree(self.work, ignore_errors=True)
            raise
        finally:
            teardown()

    def _prepare_output(self) -> None:
        """Create the working directory; finish or clean what a killed earlier run left behind."""
        prepare_output(self.out, self.work, self.ckpt_path)

    def _promote(self) -> None:
        """Move the finished overwriting run from its staging directory into the output directory."""
        promote(self.out, self.work)
        log.info("the earlier run in %s was replaced by this one", self.out)

    def _kept(self) -> str:
        """What a failed run leaves, for its error message."""
        if self.staged:
            return f"the earlier run in {self.out} is unchanged (nothing of this run is kept)"
        if self.ckpt_path.is_file():
            return f"the last good checkpoint is kept at {self.ckpt_path} (continue with --resume)"
        return "no checkpoint was written yet, so there is nothing to resume from"

    def _train(self, rt: Runtime) -> None:
        t = self.recipe.train
        autocast = rt.device.type == "cuda" and t.speed.bf16
        bar = tqdm(total=self.total_steps, initial=self.state["global_step"], disable=not (self.bar_shown and rt.is_main),
                   unit="step", dynamic_ncols=True)  # fmt: skip
        self._validate_at_start(rt)
        self._start_housekeeping()  # time-based checkpoints count from the first step, not from loading
        while self.state["epoch"] < t.epochs and self.state["global_step"] < self.total_steps:
            epoch = self.state["epoch"]
            self.runner.train()
            self._restart_rate()
            if self.state["step_in_epoch"] == 0:  # the smoothed loss restarts each epoch; kept mid-epoch for --resume
                self.state["running_loss"] = None
            tick = time.perf_counter()
            for batch in self.batches.epoch(epoch, start=self.state["step_in_epoch"], limit=self.steps_per_epoch):
                batch = to_device(batch, rt.device, channels_last=t.speed.channels_last)
                with torch.autocast(rt.device.type, dtype=torch.bfloat16, enabled=autocast):
                    loss = self.runner(batch)
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"loss is {loss.item()} at step {self.state['global_step']} (epoch {epoch + 1}); stopped (lower "
                        f"train.lr or check the data); {self._kept()}"
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if t.optim.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.step_module.parameters(), t.optim.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.state["global_step"] += 1
                self.state["step_in_epoch"] += 1
                value = loss.item()
                running = self.state.get("running_loss")
                running = value if running is None else 0.9 * running + 0.1 * value
                self.state["running_loss"] = running
                step = self.state["global_step"]
                if step % t.log_every == 0 or step == self.total_steps:
                    self.state["history"].append(
                        {"step": step, "epoch": epoch + 1, "loss": running, "lr": self.scheduler.get_last_lr()[0]}
                    )
                rows = batch_size_of(batch) * rt.world_size
                self._update_bar(bar, running, rows, epoch + 1)
                if rt.is_main:
                    self._call(self.callbacks.on_step, step=step, epoch=epoch + 1, loss=value,
                               lr=self.scheduler.get_last_lr()[0], rows=rows)  # fmt: skip
                self.state["train_seconds"] = self.state.get("train_seconds", 0.0) + time.perf_counter() - tick
                if rt.is_main and self._checkpoint_due(step):
                    self._checkpoint()
                if rt.is_main and t.checkpoint.snapshot_every and step % t.checkpoint.snapshot_every == 0:
                    self._snapshot(step)
                if (
                    t.validation.every
                    and step % t.validation.every == 0
                    and self.state["step_in_epoch"] < self.steps_per_epoch
                ):
                    self._validate_within_epoch(rt, epoch)
                tick = time.perf_counter()  # checkpoints, snapshots and validation are not training time
                if step >= self.total_steps or (self.stop_reason and not rt.distributed):
                    break
            self.state["epoch"] += 1
            self.state["step_in_epoch"] = 0
            stop = self._end_epoch(rt, epoch) or self.stop_reason is not None
            if rt.distributed:  # rank 0 validates and decides; every rank must stop together
                flag = [stop]
                torch.distributed.broadcast_object_list(flag, src=0)
                stop = bool(flag[0])
            if rt.is_main:
                self._checkpoint()
            if stop:
                break
        every, last = self.recipe.train.checkpoint.snapshot_every, self.state["global_step"]
        if rt.is_main and every and last % every:  # the weights training ended with (early stop, a partial interval)
            self._snapshot(last)
        bar.close()

    def _call(self, hook: Any, **kwargs: Any) -> None:
        """Call a callback hook; a :class:`StopRun` it raises ends training after this step (logged once)."""
        try:
            hook(self, **kwargs)
        except StopRun as stop:
            if self.stop_reason is None:
                self.stop_reason = stop.reason
                log.info("stopping: %s", stop.reason)

    def _end_epoch(self, rt: Runtime, epoch: int) -> bool:
        """Validate, keep the best model, decide on early stopping. Returns True to stop."""
        if not (self.recipe.train.validation.every_epoch and rt.is_main):
            return False
        return self._validate(epoch, end_of_epoch=True)

    # -- validation points, checkpoint timing and the progress bar (issue 10) ------------------------------
    def _validate(self, epoch: int, *, end_of_epoch: bool) -> bool:
        """Validate, log a history entry, keep the best model; at an epoch end, count towards early stopping.

        Returns:
            True when early stopping says stop.
        """
        metrics = self._val_metrics(self.model)
        name = primary_metric(metrics, self.recipe.train.validation.metric)
        value = metrics[name]
        self.state["history"].append(
            {
                "epoch": epoch + 1,  # counted from 1 (metrics.json; the step-0 validation has epoch 0)
                "step": self.state["global_step"],
                **{f"val_{k}": v for k, v in metrics.items() if isinstance(v, (int, float))},
            }
        )
        where = f"epoch {epoch + 1}" if end_of_epoch else f"step {self.state['global_step']} (epoch {epoch + 1})"
        log.info("%s: val %s", where, ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
        self._call(self.callbacks.on_validation, epoch=epoch + 1, step=self.state["global_step"], metrics=metrics)
        if improved(name, value, self.state["best"]):
            self.state.update(best=value, best_epoch=epoch + 1, stale_epochs=0)
            self.model.config.threshold = metrics.get("threshold")
            self.model.config.threshold_data = self._calibrated_on()
            self.model.save_pretrained(self.work / "model", metrics={f"val_{name}": value})
            log.info("new best val %s=%.4f, model saved to %s", name, value, self.work / "model")
            return False
        if not end_of_epoch:
            return False
        self.state["stale_epochs"] += 1
        patience = self.recipe.train.validation.early_stopping
        if patience and self.state["stale_epochs"] >= patience:
            log.info("early stopping after epoch %d: no val %s improvement for %d epochs", epoch + 1, name, patience)
            return True
        return False

    def _calibrated_on(self) -> str:
        """What the saved model records of the validation split its threshold comes from (pairsim/data/fingerprint)."""
        if not hasattr(self, "_val_record"):
            self._val_record = calibration_record(self.recipe.data.name, "val", self.splits.val)
        return self._val_record

    def _refresh_fitted(self, model: PairModel) -> None:
        """Fit the closed-form parts again for the model's current weights (each fitter's ``refresh``)."""
        for fitter in self.fitters:
            fitter.refresh(model, self.splits.train)

    def _val_metrics(self, model: PairModel) -> dict[str, Any]:
        """Validation metrics with the threshold calibrated, after the fitted parts are refreshed for the current
        weights, so the model saved after it carries what was fitted for them."""
        self._refresh_fitted(model)
        return evaluate_split(model, self.splits.val, self.recipe.eval, split="val", calibrate=True)[0]

    def _validate_at_start(self, rt: Runtime) -> None:
        """Validate the model as built (step 0): the untrained starting point of the curves (not a best model)."""
        if not (self.recipe.train.validation.at_start and rt.is_main and self.state["global_step"] == 0):
            return
        if any(entry.get("step") == 0 for entry in self.state["history"]):
            return  # validated already (a resumed run)
        metrics = self._val_metrics(self.model)
        self.state["history"].append(
            {"epoch": 0, "step": 0, **{f"val_{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}}
        )
        shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        log.info("step 0 (untrained): val %s", shown)
        self._call(self.callbacks.on_validation, epoch=0, step=0, metrics=metrics)

    def _validate_within_epoch(self, rt: Runtime, epoch: int) -> None:
        """A validation point every ``train.validation.every`` steps (rank 0); training mode is restored after."""
        if rt.is_main:
            self._validate(epoch, end_of_epoch=False)
        self.runner.train()
        self._restart_rate()

    def _finish(self, rt: Runtime) -> dict[str, Any]:
        if not rt.is_main:
            return {}
        model_dir = self.work / "model"
        if self.state["best_epoch"] is not None:  # this run validated and saved its best model (not a stale one)
            model = PairModel.from_pretrained(model_dir, device=str(rt.device))
        else:  # no validation ran: keep the last weights, calibrated on val
            model = self.model
            model.config.threshold = self._val_metrics(model).get("threshold")
            model.config.threshold_data = self._calibrated_on()
            model.save_pretrained(model_dir)
        if not self.test:  # a sweep's trial: chosen on validation; only the winner meets the test split
            test, details = None, None
        else:
            test, details = evaluate_split(
                model,
                self.splits.test,
                self.recipe.eval,
                split="test",
                calibrate=False,
                source=build_source(self.recipe.data),
            )
        self.final_model = model
        metrics = {"best_epoch": self.state["best_epoch"], "best_val": self.state["best"], "test": test,
                   "history": self.state["history"], "steps": self.state["global_step"]}  # fmt: skip
        write_json(metrics, self.work / "metrics.json")
        plots = self.work / "plots"
        plots.mkdir(exist_ok=True)
        logged = {key for entry in self.state["history"] for key in entry}
        if self.state["history"]:  # train.epochs=0 evaluates the model as built: no curves to draw
            plot_curves(
                self.state["history"], plots / "curves.png",
                val_keys=[f"val_{k}" for k in HEADLINE if f"val_{k}" in logged],
            )  # fmt: skip
        if self.recipe.eval.plots and test is not None:
            save_eval_plots(model, details, plots, prefix="test")
            save_graded_plot(model, details, plots, prefix="test")
        if test is not None:
            log.info("test: %s", ", ".join(f"{k}={v:.4f}" for k, v in test.items() if isinstance(v, float)))
        self._settle_checkpoint()
        log.info(
            "done: model in %s, metrics in %s, plots in %s",
            self.out / "model",
            self.out / "metrics.json",
            self.out / "plots",
        )
        return metrics
