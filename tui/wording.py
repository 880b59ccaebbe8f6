"""Counts, training positions and a run's settings in words, the same in every front end's lines."""

from __future__ import annotations

from vae_tui.core.config import TrainConfig
from vae_tui.core.schedules import kl_weight, warmup_epochs


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 epoch`, `2 epochs`."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def mid_epoch(epoch: int, batch: int) -> str:
    """`epoch 3, batch 40`: a position `batch` batches into the epoch after `epoch` complete ones
    (what a mid-epoch checkpoint, pause or copy of the weights holds)."""
    return f"epoch {epoch + 1}, batch {batch}"


def upload_hint(command: str) -> str:
    """How to upload an offline SwanLab log: `swanlab login (once), then swanlab sync …`."""
    return f"swanlab login (once), then {command}"


def trained_for(epoch: int | None, batch: int | None) -> str:
    """How far a saved model was trained: `6 epochs`, or `1 epoch + 312 batches` when it was
    saved mid-epoch (its weights are then newer than its last epoch's numbers)."""
    if epoch is None:
        return "training not recorded"
    if not batch:
        return counted(epoch, "epoch")
    batches = counted(batch, "batch", "batches")
    return f"{counted(epoch, 'epoch')} + {batches}" if epoch else batches


def describe(config: TrainConfig) -> str:
    """The settings that make a run what it is, in one line: `latent 20 · hidden 256 · β 0→0.95
    (linear, 20 epochs) · 20,000 training images · seed 0`."""
    top = f"{config.beta_max:g}"
    if config.kl_anneal == "linear":
        last = kl_weight(config.epochs - 1, config)
        beta = f"β 0→{last:.3g} (linear, {config.epochs} epochs)"
    elif config.kl_anneal == "warmup":
        beta = f"β 0→{top} (warmup, {counted(warmup_epochs(config), 'epoch')})"
    elif config.kl_anneal == "cyclical":
        beta = f"β 0→{top} (cyclical, {counted(config.kl_cycles, 'cycle')})"
    else:
        beta = f"β {top} (constant)"
    images = f"{config.train_limit:,} training images" if config.train_limit else "all training images"
    return f"latent {config.latent_dim} · hidden {config.hidden_dim} · {beta} · {images} · seed {config.seed}"


def signed(value: float, digits: int = 2) -> str:
    """A number with its sign, a true minus (offsets and coordinates read as such)."""
    return f"{value:+.{digits}f}".replace("-", "−")
