"""Continuing a run: its saved config, with only the changes that keep the result meaningful."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .config import TrainConfig
from .errors import CheckpointError, ConfigError

# Changing any of these would make the saved weights, optimizer state or data order meaningless.
FIXED_ON_RESUME = ("hidden_dim", "latent_dim", "input_dim", "dataset", "seed", "batch_size",
                   "train_limit", "lr", "kl_anneal", "beta_max")  # fmt: skip


def load_resume(
    run_dir: str | os.PathLike[str], overrides: dict[str, Any]
) -> tuple[TrainConfig, dict[str, Any]]:
    """(config to continue with, checkpoint dict) for `--resume RUN_DIR` plus the flags given."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"--resume {run_dir}: not a run folder")
    data = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    if data.get("format") != ckpt.FORMAT or "optimizer" not in data:
        raise CheckpointError(
            f"{run_dir / 'checkpoint.pt'} is a bare model, not a vae-tui run; nothing to resume"
        )
    ckpt.model_state(data, run_dir / "checkpoint.pt")
    saved = TrainConfig.from_dict(data["config"])
    conflicts = [
        f"--{k.replace('_', '-')} {overrides[k]} (saved: {getattr(saved, k)})"
        for k in FIXED_ON_RESUME
        if k in overrides and overrides[k] != getattr(saved, k)
    ]
    if conflicts:
        raise ConfigError(f"cannot resume {run_dir} with {', '.join(conflicts)}: start a new run for that")
    config = saved.with_(**{k: v for k, v in overrides.items() if k not in FIXED_ON_RESUME},
                         run_dir=str(run_dir))  # fmt: skip
    if config.epochs < data["epoch"]:
        raise ConfigError(
            f"--epochs {config.epochs} is fewer than the {data['epoch']} already trained in {run_dir}"
        )
    return config, data
