"""Device choice and torch.distributed set-up (torchrun: NCCL on GPU, gloo on CPU)."""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist

from pairsim.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Runtime:
    """Where this process runs: its device, rank and the number of processes."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


DEVICES = "auto, cpu, cuda, cuda:N or mps"


def parse_device(name: str, *, where: str = "device") -> torch.device | None:
    """Check the spelling of a device name; None for ``auto``.

    Raises:
        ConfigError: ``name`` is not auto, cpu, cuda, cuda:N or mps (names ``where``).
    """
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps") or (device.type != "cuda" and device.index):
        raise ConfigError(f"{where}: unknown device {name!r}; expected {DEVICES}")
    return device


def pick_device(name: str = "auto", *, where: str = "device") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; other names must be a device this machine has.

    Raises:
        ConfigError: Unknown device name, or a CUDA / MPS device this machine does not have.
    """
    device = parse_device(name, where=where)
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{where}: {name!r} asked for, but CUDA is not available here; use cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"{where}: {name!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{where}: {name!r} asked for, but MPS is not available here; use cpu or auto")
    return device


def setup(device: str = "auto") -> Runtime:
    """Initialise torch.distributed when launched by torchrun (``WORLD_SIZE`` > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Runtime(pick_device(device, where="train.device"))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, where="train.device")
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Runtime(dev, rank, world)


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
