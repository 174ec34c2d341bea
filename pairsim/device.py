"""Device names: checking their spelling (at config load, no torch.distributed needed) and choosing one.

The ground floor of the package: configs, the command line and the trainer all parse devices here.

Example:
    >>> parse_device("cpu")
    device(type='cpu')
    >>> parse_device("auto") is None
    True
"""

from __future__ import annotations

import torch

from pairsim.errors import ConfigError

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
