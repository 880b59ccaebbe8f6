"""What a run folder says about itself, read without torch: the one place that knows the folder's
files (`config.json`, `checkpoint.pt`'s position, the rows of `metrics.jsonl`/`batches.jsonl`).

Torch takes seconds to import; without it, `--resume` of a finished run is answered at once, the
app shows a resumed run's position from its first frame (it used to read `step 0  β 0.00 … run –`
meanwhile), and a browsed run's training time and final held-out numbers are read.

The checkpoint is torch's zip format; its `data.pkl` holds our plain fields (epoch, batch, step,
config) beside the tensors. It is read with an unpickler that builds nothing the file names: every
class or function it asks for, and every tensor's storage, becomes an inert placeholder. So, as
with `weights_only=True`, no code from the file runs; unlike it, torch is not needed.
"""

from __future__ import annotations

import os
import pickle
import shlex
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .config import TrainConfig, kl_weight
from .errors import CheckpointError
from .metrics import FILE_NAME as METRICS_FILE
from .metrics import History, read_history, read_metrics

CONFIG_FILE = "config.json"
"""The run's settings, written at the start of every session (for people and tools)."""
MAX_PICKLE = 16 << 20
"""Bytes of `data.pkl` worth reading: ours is a few kB (the tensors are separate zip entries)."""


class _Placeholder:
    """Stands for whatever the pickle builds (tensors, OrderedDicts, ...): accepts and drops it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass

    def __setitem__(self, key: object, value: object) -> None:
        pass

    def append(self, item: object) -> None:
        pass

    def extend(self, items: object) -> None:
        pass


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return _Placeholder

    def persistent_load(self, pid: Any) -> Any:
        return None


def saved_position(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A run checkpoint's `epoch`, `batch`, `step` and `config`, without torch; None for anything
    else (a bare state_dict, another format or version, a damaged file: the full load says what
    is wrong)."""
    try:
        with zipfile.ZipFile(path) as archive:
            entry = next(
                (
                    i
                    for i in archive.infolist()
                    if i.filename.count("/") == 1 and i.filename.endswith("/data.pkl")
                ),
                None,
            )
            if entry is None or entry.file_size > MAX_PICKLE:
                return None
            data = _PlainUnpickler(archive.open(entry)).load()
    except Exception:  # noqa: BLE001 - any file that cannot be read this way gets the full load
        return None
    if not isinstance(data, dict) or "optimizer" not in data or not isinstance(data.get("config"), dict):
        return None
    try:
        ckpt.check_version(data, path)
    except CheckpointError:
        return None
    fields = {k: data.get(k) for k in ("epoch", "batch", "step")}
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in fields.values()):
        return None
    return {**fields, "config": data["config"]}


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
    saved: Mapping[str, Any],
    epochs: int | None = None,
    iwae_k: int | None = None,
) -> str | None:
    """For `--resume RUN_DIR [--epochs N] [--iwae-k K]`: the line that says the run has nothing
    left to do, and how to go on; None when it has. `saved` is its checkpoint's data (or
    `saved_position`). A run killed during its final IWAE bound (K > 0, no final row) is not
    complete: resuming it computes the bound, as the uninterrupted run would have."""
    target = epochs if epochs is not None else saved["config"].get("epochs")
    if saved["batch"] or not target or saved["epoch"] != target:
        return None
    run, done = Path(run_dir), saved["epoch"]
    k = iwae_k if iwae_k is not None else saved["config"].get("iwae_k", 0)
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
    return float(sum(r["seconds"] for r in history.epochs if isinstance(r.get("seconds"), int | float)))


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
    position = saved_position(Path(run_dir) / ckpt.FILE_NAME)
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
