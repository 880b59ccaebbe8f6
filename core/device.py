"""Pick where tensors live: CUDA, then Apple's MPS, then the CPU, unless the user says."""

from __future__ import annotations

import torch

from .errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for `--device`, refusing one this machine does not have."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda requested, but torch sees no CUDA GPU here (try --device auto)")
    if name == "mps" and not has_mps:
        raise ConfigError("--device mps requested, but MPS is not available here (try --device auto)")
    if name not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {name!r} (choose auto, cpu, cuda or mps)")
    return torch.device(name)
