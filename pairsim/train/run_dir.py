"""A run's output directory: refusing to clobber an earlier run, staging an overwrite, cleaning after a kill,
and the run's log file.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from pairsim.errors import ConfigError
from pairsim.safe_io import clean_leftovers, kind_of, recover_dir, remove_entry, swap_dir
from pairsim.train.checkpoint import clean_checkpoint_leftovers

# what a run writes into its output directory; the first four mark a directory holding an earlier run
RUN_MARKERS = ("model", "metrics.json", "recipe.yaml", "checkpoints")
RUN_OUTPUTS = (*RUN_MARKERS, "train.log", "plots", "snapshots")


def check_output_dir(out_dir: str, *, resume: bool, overwrite: bool) -> tuple[Path, bool]:
    """The output directory, and whether the run must be staged beside it (it holds an earlier run).

    Args:
        out_dir: The recipe's ``output_dir``.
        resume: Continue the run there (``--resume``).
        overwrite: Replace the run there once the new one has finished (``--overwrite``).

    Returns:
        ``(directory, staged)``.

    Raises:
        ConfigError: ``output_dir`` is empty or a file, or holds an earlier run and neither ``resume`` nor
            ``overwrite`` is set.
    """
    if not str(out_dir).strip():
        raise ConfigError("output_dir: is empty; expected the directory of the run, e.g. output_dir=runs/digits")
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir {out} is a file; expected a directory for the run")
    if resume and overwrite:
        raise ConfigError("--resume continues the run in output_dir and --overwrite replaces it: pass one of them")
    earlier = [name for name in RUN_MARKERS if (out / name).exists()]
    if earlier and not (resume or overwrite):
        raise ConfigError(
            f"output_dir {out} holds an earlier run ({', '.join(earlier)}): pass --resume to continue it, or "
            "--overwrite to replace it when the new run has finished"
        )
    if out.is_dir():
        check_log(out)  # before anything of the run is written
    return out, bool(earlier) and overwrite


def check_log(out: Path) -> None:
    """Refuse a ``train.log`` in ``out`` that is not a regular file: a link is never followed out of the run's
    folder, a FIFO never blocks the run (one ConfigError naming it; it is left as it is)."""
    kind = kind_of(out / "train.log")
    if kind not in (None, "a regular file"):
        raise ConfigError(
            f"output_dir {out}: train.log is {kind}; expected a regular file or nothing (it is left as it is: "
            "remove it, or choose another output_dir)"
        )


def setup_logging(output_dir: Path, is_main: bool) -> None:
    """Send the trainer's and the data sources' log lines (what a filter removed, ...) to train.log and stderr."""
    if is_main:
        output_dir.mkdir(parents=True, exist_ok=True)
        check_log(output_dir)
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    log = logging.getLogger("pairsim.train")
    for logger in (log, logging.getLogger("pairsim.data")):
        logger.setLevel(logging.INFO)
        logger.propagate = logger is not log  # data lines also reach the root logger (pytest's caplog)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        if not is_main:
            logger.addHandler(logging.NullHandler())
            continue
        for handler in (logging.FileHandler(output_dir / "train.log"), logging.StreamHandler()):
            handler.setFormatter(fmt)
            logger.addHandler(handler)


def prepare_output(out: Path, work: Path, checkpoint: Path) -> None:
    """Create the working directory; finish or clean what a killed earlier run left behind.

    Args:
        out: The run's output directory.
        work: Where this run writes (``out``, or its staging folder when it overwrites an earlier run).
        checkpoint: The resume checkpoint's path.
    """
    staging = out.with_name(f".{out.name}.overwrite")
    remove_entry(staging)  # a killed overwriting run never replaced anything: drop it (a link there: only the link)
    work.mkdir(parents=True, exist_ok=True)
    recover_dir(out / "model", complete=lambda d: (d / "config.json").is_file())
    for target in (out / "model", out / "metrics.json", out / "recipe.yaml"):
        clean_leftovers(target)
    clean_checkpoint_leftovers(checkpoint)  # and the .tmpXXXXXX of safetensors that older versions left


def promote(out: Path, work: Path) -> None:
    """Move a finished overwriting run from its staging folder ``work`` into ``out``, output by output."""
    for name in RUN_OUTPUTS:
        new, old = work / name, out / name
        if new.is_dir():
            swap_dir(new, old)
        elif new.exists():
            os.replace(new, old)
        elif old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    shutil.rmtree(work, ignore_errors=True)
