"""`metrics.jsonl`: one JSON line per epoch, durable line by line, readable after any crash.

A kill can tear the last line; readers skip what does not parse, and the writer cuts a torn
tail before appending so a new line is never glued onto half of an old one. A row is appended
before its epoch's checkpoint is saved, so after a kill the file may be one epoch ahead of the
checkpoint; a resumed run drops the rows it is about to redo, and each epoch appears once.
A write that fails (full disk) stops the run with one line: a run that cannot record its
metrics should not go on silently.

`batches.jsonl` beside it keeps every batch's loss under the same rules, a line per second or
so of training (rows `{epoch, first_step, loss: [...]}`; an epoch spans several rows, and the
last row of an epoch is written at its end): it is what lets a browsed or resumed run draw its
whole batch-loss curve again, and a watcher (`core/follow.py`) see it advance while it trains.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import remove_stale_temps, write_text_atomic
from .errors import VaeTuiError
from .events import BatchEnd, EpochEnd, Event, FinalEvaluation, RunStarted

FILE_NAME = "metrics.jsonl"
BATCHES_FILE = "batches.jsonl"
BATCHES_EVERY = 1.0
"""Seconds between two rows of `batches.jsonl` within an epoch: a watcher's curve moves this
often, and an fsync a second costs training nothing measurable."""


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete, parseable row (a torn or garbled line is skipped, never raised)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    rows = []
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class MetricsError(VaeTuiError):
    """metrics.jsonl could not be written (a full disk, a folder that went away)."""


def _rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace the file by `rows` atomically (a kill leaves the old file or the new one), fsynced
    like the appends (core/atomic.py says why)."""
    try:
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows), durable=True)
    except OSError as e:
        raise MetricsError(f"cannot write {path}: {e.strerror or e}") from None


class MetricsWriter:
    """Appends the epoch rows and the final evaluation to the run's `metrics.jsonl`, and the
    batch losses to `batches.jsonl` about every `every` seconds and at each epoch's end."""

    path: Path | None = None
    batches_path: Path | None = None

    def __init__(self, every: float = BATCHES_EVERY) -> None:
        self._epoch = self._first_step = 0
        self._losses: list[float] = []
        self.every = every
        self._flushed = time.monotonic()

    def handle(self, event: Event) -> None:
        if isinstance(event, BatchEnd):
            if self._losses and event.epoch != self._epoch:  # a row never spans two epochs
                self._flush_batches()
            if not self._losses:
                self._first_step = event.step
            self._epoch = event.epoch
            self._losses.append(round(event.loss, 4))
            if time.monotonic() - self._flushed >= self.every:
                self._flush_batches()
        elif isinstance(event, RunStarted):
            self.path = Path(event.run_dir) / FILE_NAME
            self.batches_path = Path(event.run_dir) / BATCHES_FILE
            _rewrite_rows(self.path, lambda row: _epoch_upto(row, event.start_epoch))
            _rewrite_rows(self.batches_path, lambda row: _batches_upto(row, event.start_step))
        elif isinstance(event, EpochEnd):
            self._flush_batches()
            _append(self.path, {"kind": "epoch", **event.metrics()})
        elif isinstance(event, FinalEvaluation):
            _append(self.path, {"kind": "final", "epoch": event.epoch, **event.results})

    def _flush_batches(self) -> None:
        if self._losses:
            row = {"epoch": self._epoch, "first_step": self._first_step, "loss": self._losses}
            _append(self.batches_path, row)
            self._losses = []
        self._flushed = time.monotonic()

    def close(self, state: str) -> None:
        """A run stopped mid-epoch keeps the batches it did: its checkpoint holds them, and a
        resumed run's curve should have no hole."""
        if self.batches_path is not None:
            self._flush_batches()


def _epoch_upto(row: dict[str, Any], epoch: int) -> dict[str, Any] | None:
    ok = row.get("kind", "epoch") == "epoch" and isinstance(row.get("epoch"), int) and row["epoch"] <= epoch
    return row if ok else None


def _batches_upto(row: dict[str, Any], step: int) -> dict[str, Any] | None:
    first, losses = row.get("first_step"), row.get("loss")
    if not isinstance(first, int) or not isinstance(losses, list) or first > step:
        return None
    return row if first + len(losses) - 1 <= step else {**row, "loss": losses[: step - first + 1]}


def _rewrite_rows(path: Path, keep: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Drop (or trim) what a resumed run will redo, steps after its checkpoint, and any torn tail."""
    remove_stale_temps(path)  # a killed rewrite's
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as e:
        raise MetricsError(f"cannot read {path}: {e.strerror or e}") from None
    torn = bool(data) and not data.endswith(b"\n")
    rows = read_metrics(path)
    kept = [k for k in map(keep, rows) if k is not None]
    if torn or kept != rows:
        _rewrite(path, kept)


def _append(path: Path | None, row: dict[str, Any]) -> None:
    """One line in one write() call, fsynced: a kill tears at most this line."""
    assert path is not None, "RunStarted comes first"
    try:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise MetricsError(f"cannot write {path}: {e.strerror or e}; training stopped") from None


def training_time(run_dir: str | os.PathLike[str]) -> tuple[int, float]:
    """(epochs, seconds): the run's complete epochs in metrics.jsonl and the time they took over
    all its sessions, the sum of their `seconds` (each epoch's training and held-out evaluation;
    an epoch stopped and resumed is one row holding both parts). Start-up and the final bound
    are not in it."""
    rows = {
        r["epoch"]: r for r in read_metrics(Path(run_dir) / FILE_NAME) if _epoch_upto(r, 2**62) and timed(r)
    }
    return len(rows), epoch_seconds(rows.values())


def timed(row: dict[str, Any]) -> bool:
    return isinstance(row.get("seconds"), int | float)


def epoch_seconds(rows: Iterable[dict[str, Any]]) -> float:
    """The training time of these epoch rows: their `seconds` summed (each epoch's training and
    held-out pass, over all its sessions); rows without a number there count nothing."""
    return float(sum(r["seconds"] for r in rows if timed(r)))


@dataclass
class History:
    """What a run logged, for plotting it again: epoch rows and every batch's (step, loss)."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


def read_history(run_dir: str | os.PathLike[str], upto_step: int | None = None) -> History:
    """What a run folder logged up to `upto_step` (its checkpoint's, which the files may have
    passed before a kill): one row per epoch, the last written winning, and nothing that does
    not parse."""
    run_dir = Path(run_dir)
    limit = upto_step if upto_step is not None else 2**62
    epochs = {
        r["epoch"]: r
        for r in read_metrics(run_dir / FILE_NAME)
        if _epoch_upto(r, 2**62)
        and "test_loss" in r
        and isinstance(r.get("step"), int)
        and r["step"] <= limit
    }
    by_step: dict[int, float] = {}  # should a step ever repeat, the later row wins
    for row in (_batches_upto(r, limit) for r in read_metrics(run_dir / BATCHES_FILE)):
        if row is not None and all(isinstance(x, int | float) for x in row["loss"]):
            first = row["first_step"]
            by_step.update(zip(range(first, first + len(row["loss"])), row["loss"], strict=True))
    steps = sorted(by_step)
    return History([epochs[e] for e in sorted(epochs)], steps, [by_step[s] for s in steps])
