"""What a run folder says about itself, read without torch: the one place that knows the folder's
files (`config.json`, where `checkpoint.pt` stands, the rows of `metrics.jsonl`/`batches.jsonl`).

Torch takes seconds to import; without it, `--resume` of a finished run is answered at once, the
app shows a resumed run's position from its first frame (it used to read `step 0  β 0.00 … run –`
meanwhile), and a browsed run's training time and final held-out numbers are read. The
checkpoint's position is the format's to read (`checkpoint.saved_position`, torch-free too).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .metrics import FILE_NAME as METRICS_FILE
from .metrics import History, epoch_seconds, read_history, read_metrics
from .schedules import kl_weight

CONFIG_FILE = "config.json"
"""The run's settings, written at the start of every session (for people and tools)."""


def _final_rows(run_dir: str | os.PathLike[str], epoch: int | None) -> list[dict[str, Any]]:
    """The `final` rows (end-of-training evaluations) of the model trained `epoch` epochs."""
    rows = read_metrics(Path(run_dir) / METRICS_FILE)
    return [r for r in rows if r.get("kind") == "final" and r.get("epoch") == epoch]


def final_results(run_dir: str | os.PathLike[str], epoch: int | None) -> dict[str, Any] | None:
    """The run's end-of-training evaluation (the `final` row of metrics.jsonl) for the model
    trained `epoch` epochs, if it was computed."""
    rows = [r for r in _final_rows(run_dir, epoch) if "neg_elbo" in r]
    return rows[-1] if rows else None


def completion_note(
    run_dir: str | os.PathLike[str],
    saved: ckpt.SavedPosition,
    epochs: int | None = None,
    iwae_k: int | None = None,
) -> str | None:
    """For `--resume RUN_DIR [--epochs N] [--iwae-k K]`: the line that says the run has nothing
    left to do, and how to go on; None when it has. `saved` is where its checkpoint stands (a
    `RunCheckpoint` is one too). A run killed during its final IWAE bound (K > 0, no final row)
    is not complete: resuming it computes the bound, as the uninterrupted run would have."""
    target = epochs if epochs is not None else saved.config.epochs
    if saved.batch or not target or saved.epoch != target:
        return None
    run, done = Path(run_dir), saved.epoch
    k = iwae_k if iwae_k is not None else saved.config.iwae_k
    finals = _final_rows(run, done)
    if k and not finals:
        return None
    checkpoint = shlex.quote(str(run / ckpt.FILE_NAME))
    note = (
        f"{run} is already complete ({done} of {done} epochs trained): nothing to do, nothing written. "
        f"To train it further: vae-tui --resume {shlex.quote(str(run))} --epochs N (N > {done}); "
        f"to look at it: vae-tui --checkpoint {checkpoint}"
    )
    if not finals:
        note += f"; its IWAE bound was not computed: vae-tui --eval --checkpoint {checkpoint}"
    return note


def history_seconds(history: History) -> float:
    """Training time of the epochs in `history` (each epoch's `seconds`, all its sessions)."""
    return epoch_seconds(history.epochs)


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
    position = ckpt.saved_position(Path(run_dir) / ckpt.FILE_NAME)
    if position is None:
        return None
    try:
        config = position.config.with_(**{k: v for k, v in overrides.items() if k in ("epochs", "swanlab")})
        beta = kl_weight(position.epoch, config)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    history = read_history(run_dir, position.step)
    first = next((r for r in history.epochs if r.get("epoch") == 1), None)
    batches = first["step"] if first and isinstance(first.get("step"), int) else 0
    return SavedRun(
        position.epoch, position.batch, position.step, config.epochs, batches, beta,
        config.swanlab, history, history_seconds(history),
    )  # fmt: skip
