"""What a run folder says about the run, read without torch, for the status panel.

`--resume` shows the saved position from its first frame (torch takes seconds to import, and the
status used to read `step 0  β 0.00 … run –` meanwhile), and `--checkpoint` says what the browsed
run was: its settings, its training time and its final held-out numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vae_tui.core.config import TrainConfig, kl_weight
from vae_tui.core.metrics import FILE_NAME, History, read_history, read_metrics
from vae_tui.core.runinfo import saved_position


def describe(config: TrainConfig) -> str:
    """The settings that make a run what it is, in one line: `latent 20 · hidden 256 · β 0→0.95
    (linear, 20 epochs) · 20,000 training images · seed 0`."""
    if config.kl_anneal == "linear":
        last = kl_weight(config.epochs - 1, config)
        beta = f"β 0→{last:.3g} (linear, {config.epochs} epochs)"
    else:
        beta = f"β {config.beta_max:g} (constant)"
    images = f"{config.train_limit:,} training images" if config.train_limit else "all training images"
    return f"latent {config.latent_dim} · hidden {config.hidden_dim} · {beta} · {images} · seed {config.seed}"


def history_seconds(history: History) -> float:
    """Training time of the epochs in `history` (each epoch's `seconds`, all its sessions)."""
    return float(sum(r["seconds"] for r in history.epochs if isinstance(r.get("seconds"), int | float)))


def final_results(run_dir: str | os.PathLike[str], epoch: int | None) -> dict[str, Any] | None:
    """The run's end-of-training evaluation (the `final` row of metrics.jsonl) for the model
    trained `epoch` epochs, if it was computed."""
    rows = [
        r
        for r in read_metrics(Path(run_dir) / FILE_NAME)
        if r.get("kind") == "final" and r.get("epoch") == epoch and "neg_elbo" in r
    ]
    return rows[-1] if rows else None


@dataclass(frozen=True)
class SavedRun:
    """Where `--resume` will start, as its run folder records it."""

    epochs_done: int
    batch: int
    """Batches done in the epoch after those."""
    step: int
    epochs: int
    """The epochs it will train to (the saved number, or --epochs)."""
    batches: int
    """Batches per epoch, when a complete epoch tells (else 0)."""
    beta: float
    """β of the epoch it resumes in."""
    swanlab: str
    history: History
    seconds: float
    """Training time of its complete epochs."""


def saved_run(run_dir: str | os.PathLike[str], overrides: dict[str, Any]) -> SavedRun | None:
    """The position `--resume run_dir` (with the flags in `overrides`) starts from; None when the
    folder does not say (the full load then reports what is wrong)."""
    position = saved_position(Path(run_dir) / "checkpoint.pt")
    if position is None:
        return None
    try:
        config = TrainConfig.from_dict(position["config"])
        config = config.with_(**{k: v for k, v in overrides.items() if k in ("epochs", "swanlab")})
        beta = kl_weight(position["epoch"], config)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    history = read_history(run_dir, position["step"])
    first = next((r for r in history.epochs if r.get("epoch") == 1), None)
    batches = first["step"] if first and isinstance(first.get("step"), int) else 0
    return SavedRun(
        position["epoch"], position["batch"], position["step"], config.epochs, batches, beta,
        config.swanlab, history, history_seconds(history),
    )  # fmt: skip
