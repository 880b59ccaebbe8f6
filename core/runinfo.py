"""What a run folder says about itself, read without torch: whether `--resume` can have anything
to do is known before either front end starts, without the seconds torch takes to import here.

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
from pathlib import Path
from typing import Any

from .metrics import FILE_NAME, read_metrics

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
    else (a bare state_dict, another format, a damaged file: the full load says what is wrong)."""
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
    fields = {k: data.get(k) for k in ("epoch", "batch", "step")}
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in fields.values()):
        return None
    return {**fields, "config": data["config"]}


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
    finals = [r for r in read_metrics(run / FILE_NAME) if r.get("kind") == "final" and r.get("epoch") == done]
    if k and not finals:
        return None
    checkpoint = shlex.quote(str(run / "checkpoint.pt"))
    note = (
        f"{run} is already complete ({done} of {done} epochs trained): nothing to do, nothing written. "
        f"To train it further: vae-tui --resume {shlex.quote(str(run))} --epochs N (N > {done}); "
        f"to look at it: vae-tui --checkpoint {checkpoint}"
    )
    if not finals:
        note += f"; its IWAE bound was not computed: vae-tui --eval --checkpoint {checkpoint}"
    return note
