"""Device names: checking their spelling (at config load, no torch.distributed needed) and choosing one.

The ground floor of the package: configs, the command line and the trainer all parse devices here, and
inference picks its precision here (:func:`inference_precision`: fp32, or bf16 where asked for or, under
``auto``, where the CPU computes bf16 natively).

Example:
    >>> parse_device("cpu")
    device(type='cpu')
    >>> parse_device("auto") is None
    True
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

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


# -- inference precision -------------------------------------------------------------------------------------------
PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_ENV = "PAIRSIM_PRECISION"  # the setting where none is given (``pairsim --precision`` sets it)


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bf16 natively (AMX-BF16 or AVX512-BF16 among its flags); elsewhere bf16 is
    emulated and slower than fp32.

    Args:
        cpuinfo: The text of ``/proc/cpuinfo`` (None: read it; False where it cannot be read).

    Example:
        >>> cpu_has_bf16("flags : fpu sse avx2 avx512f amx_bf16 amx_tile")
        True
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def precision_setting() -> str:
    """The precision asked for: ``$PAIRSIM_PRECISION``, else ``fp32``.

    Raises:
        ConfigError: The variable holds something other than auto, fp32 or bf16.
    """
    value = os.environ.get(PRECISION_ENV, "fp32").strip().lower() or "fp32"
    if value not in PRECISIONS:
        raise ConfigError(f"{PRECISION_ENV}: unknown precision {value!r}; expected {', '.join(PRECISIONS)}")
    return value


def resolve_precision(setting: str, device: torch.device | str, *, cpu_bf16: bool | None = None) -> str:
    """``fp32`` or ``bf16``: what inference on ``device`` runs in under ``setting``.

    ``auto`` is bf16 only on a CPU that computes it natively (:func:`cpu_has_bf16`; there MiniLM encodes about
    2x faster, embeddings within cosine 0.9999), fp32 everywhere else (GPUs included: training has its own
    ``train.speed.bf16``); ``fp32`` and ``bf16`` force it.

    Args:
        setting: auto, fp32 or bf16.
        device: Where the model runs.
        cpu_bf16: Whether the CPU has native bf16 (None: detect it).

    Raises:
        ConfigError: ``setting`` is not auto, fp32 or bf16.

    Example:
        >>> resolve_precision("auto", "cpu", cpu_bf16=False), resolve_precision("bf16", "cpu", cpu_bf16=False)
        ('fp32', 'bf16')
    """
    if setting not in PRECISIONS:
        raise ConfigError(f"precision: unknown {setting!r}; expected {', '.join(PRECISIONS)}")
    if setting != "auto":
        return setting
    if torch.device(device).type != "cpu":
        return "fp32"
    return "bf16" if (cpu_has_bf16() if cpu_bf16 is None else cpu_bf16) else "fp32"


@contextlib.contextmanager
def inference_precision(setting: str | None, device: torch.device | str) -> Iterator[str]:
    """Run the block in the resolved precision (bf16: ``torch.autocast``); yields ``fp32`` or ``bf16``.

    Args:
        setting: auto, fp32 or bf16; None: :func:`precision_setting`.
        device: Where the model runs.
    """
    device = torch.device(device)
    resolved = resolve_precision(precision_setting() if setting is None else setting, device)
    if resolved == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield resolved
    else:
        yield resolved
