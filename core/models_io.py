"""Opening a trained model from a file: our checkpoint or the reference notebook's state_dict."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from . import checkpoint as ckpt
from .config import TrainConfig
from .model import VAE


@dataclass(frozen=True)
class LoadedModel:
    model: VAE
    config: TrainConfig
    """The saved config, or the defaults with the architecture read off a bare state_dict."""
    epoch: int | None
    """Epochs trained, when the file says."""
    step: int | None
    """Optimizer steps taken, when the file says (how far the run's logs are to be read)."""
    batch: int | None
    """Batches of epoch `epoch + 1` already trained: a run stopped mid-epoch saves there."""
    source: str
    """`checkpoint` (ours) or `state_dict` (e.g. the reference notebook's)."""


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> LoadedModel:
    """The model in `path`, in eval mode on `device`, refusing anything but weights."""
    data: dict[str, Any] = ckpt.read_checkpoint(path)
    state = ckpt.model_state(data, path)
    dims = ckpt.architecture(state, path)
    ours = data.get("format") == ckpt.FORMAT
    config = (
        TrainConfig.from_dict(data["config"])
        if ours and isinstance(data.get("config"), dict)
        else TrainConfig()
    )
    config = config.with_(**dims)
    model = VAE(**dims)
    model.load_state_dict(state)
    model.to(device).eval()
    return LoadedModel(
        model,
        config,
        data.get("epoch") if ours else None,
        data.get("step") if ours else None,
        data.get("batch", 0) if ours else None,
        "checkpoint" if ours else "state_dict",
    )
