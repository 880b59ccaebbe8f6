"""Following a run folder that another process trains, as the app's own event stream.

`Follower.poll()` reads what changed since the last call and turns it into the events the
training loop yields (`core/events.py`), so the app draws a watched run with the code that draws
its own: `RunStarted` (with the test images of the run's dataset) once the run exists,
`BatchEnd`s from new rows of `batches.jsonl`, `EpochEnd`s and the `FinalEvaluation` from
`metrics.jsonl`, a `ModelSnapshot` whenever the checkpoint is replaced, `RunFinished` when the
run is over; and `TrainerSeen` (liveness and the trainer's state file) when that changes.

Reads survive the writer: a torn last line is kept for the next poll and never parsed early; a
file rewritten (a resume trims rows past its checkpoint) is read again from its start, rows
already reported skipped; a checkpoint replaced or cut mid-read is read again next poll; a
folder that does not exist yet is waited for. Torch is imported only to read a checkpoint and
the test images.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import FILE_NAME as CHECKPOINT_FILE
from .events import BatchEnd, EpochEnd, Event, FinalEvaluation, ModelSnapshot, RunFinished, RunStarted
from .metrics import BATCHES_FILE
from .metrics import FILE_NAME as METRICS_FILE
from .requests import read_json, read_state
from .runinfo import CONFIG_FILE
from .runlock import Trainer, trainer
from .tail import TailFile, file_key

RUNNING = frozenset({"running", "paused", "stopping", "evaluating"})
"""States a trainer's file shows while it works: if nobody holds the lock, it has died."""


@dataclass(frozen=True)
class TrainerSeen:
    """Who trains the watched run and how far it says it is (posted when it changes)."""

    liveness: str
    """`waiting` (no run in the folder yet), `live` (a trainer holds the lock), `dead` (its
    state file says it was working, and nobody holds the lock: killed) or `none` (no trainer:
    the run is finished, stopped, or from before the request channel)."""
    state: dict[str, Any] | None = None
    """The trainer's `requests/state.json` (`core/requests.py`), when there is one."""
    trainer: Trainer | None = None


def number(row: dict[str, Any], key: str, default: float = math.nan) -> float:
    value = row.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


class Follower:
    """Polls one run folder; see the module's doc."""

    def __init__(self, run_dir: str | os.PathLike[str], data: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.data = dict(data or {})
        """The watcher's own --dataset/--data-dir/--test-limit: where its test images come from."""
        self.metrics = TailFile(self.run_dir / METRICS_FILE)
        self.batches = TailFile(self.run_dir / BATCHES_FILE)
        self.config: dict[str, Any] | None = None
        self.started = False
        self.step = 0
        self.epochs_done = 0
        self.per_epoch = 0
        self.finals: set[Any] = set()
        self.finished = False
        self.seen: TrainerSeen | None = None
        self._checkpoint: tuple[int, int, int] | None = None
        self._config_key: tuple[int, int, int] | None = None
        self._dead_once = False

    def poll(self) -> list[Event | TrainerSeen]:
        seen = self.look()
        out: list[Event | TrainerSeen] = []
        if not self.started:
            if seen.liveness != "waiting":
                out += self.start(seen.state)
        else:
            self.read_config()
            out += self.progress()
        if self.started:
            out += self.snapshot()
            out += self.ending(seen)
        if seen != self.seen:
            self.seen = seen
            out.append(seen)
        return out

    # -- the trainer -------------------------------------------------------------------------
    def look(self) -> TrainerSeen:
        if not (self.run_dir / CONFIG_FILE).is_file():
            return TrainerSeen("waiting")
        holder, state = trainer(self.run_dir), read_state(self.run_dir)
        if holder is not None:
            self._dead_once = False
            return TrainerSeen("live", state, holder)
        if state is not None and state.get("state") in RUNNING:
            # Once is not enough: a trainer that has just finished lets go of the lock a moment
            # before its state file says so.
            if self._dead_once:
                return TrainerSeen("dead", state)
            self._dead_once = True
            return self.seen or TrainerSeen("none", state)
        return TrainerSeen("none", state)

    def read_config(self) -> bool:
        """Re-read config.json when it was replaced (a resume may raise --epochs)."""
        key = file_key(self.run_dir / CONFIG_FILE)
        if key == self._config_key:
            return self.config is not None
        config = read_json(self.run_dir / CONFIG_FILE)
        if config is not None and isinstance(config.get("epochs"), int):
            self.config, self._config_key = config, key
        return self.config is not None

    # -- the run's files -----------------------------------------------------------------------
    def start(self, state: dict[str, Any] | None) -> list[Event]:
        """`RunStarted` as of what is on disk now (the app reads the history up to its step)."""
        if not self.read_config():
            return []
        assert self.config is not None
        metric_rows = self.metrics.rows()
        epoch_rows = [r for r in metric_rows if is_epoch(r)]
        finals = [r for r in metric_rows if r.get("kind") == "final"]
        batch_rows = self.batches.rows()
        self.epochs_done = max((int(r["epoch"]) for r in epoch_rows), default=0)
        steps = [int(r["step"]) for r in epoch_rows]
        steps += [r["first_step"] + len(r["loss"]) - 1 for r in batch_rows if is_batches(r)]
        self.step = max(steps, default=0)
        self.per_epoch = batches_per_epoch(self.config, state, epoch_rows)
        images, labels = test_set({**self.config, **self.data})
        start_batch = max(0, self.step - self.epochs_done * self.per_epoch) if self.per_epoch else 0
        self.started = True
        started = RunStarted(
            self.config, str(self.config.get("device", "cpu")), str(self.run_dir),
            self.per_epoch * int(self.config.get("batch_size", 128)), len(images), self.per_epoch,
            self.epochs_done, self.step, images, labels, start_batch,
        )  # fmt: skip
        return [started, *self.final_events(finals)]

    def progress(self) -> list[Event]:
        """Events for the rows written since the last poll, in the order the loop yields them."""
        out: list[Event] = []
        for row in self.batches.rows():
            out += self.batch_events(row)
        metric_rows = self.metrics.rows()
        for row in metric_rows:
            if is_epoch(row) and row["epoch"] > self.epochs_done:
                self.epochs_done = row["epoch"]
                out.append(epoch_end(row, self.epochs()))
        return out + self.final_events([r for r in metric_rows if r.get("kind") == "final"])

    def batch_events(self, row: dict[str, Any]) -> list[Event]:
        if not is_batches(row) or not isinstance(row.get("epoch"), int):
            return []
        from .config import TrainConfig  # noqa: PLC0415
        from .schedules import kl_weight  # noqa: PLC0415

        epoch, first = row["epoch"], row["first_step"]
        try:
            beta = kl_weight(epoch - 1, TrainConfig.from_dict(self.config or {}))
        except (TypeError, ValueError, ZeroDivisionError):
            beta = math.nan
        out: list[Event] = []
        for i, loss in enumerate(row["loss"]):
            step = first + i
            if step <= self.step:  # reported before (a resume rewrote the file)
                continue
            self.step = step
            batch = step - (epoch - 1) * self.per_epoch if self.per_epoch else i + 1
            out.append(
                BatchEnd(epoch, self.epochs(), batch, self.per_epoch, step, loss, math.nan, math.nan, beta)
            )
        return out

    def final_events(self, rows: list[dict[str, Any]]) -> list[Event]:
        out: list[Event] = []
        for row in rows:
            key = (row.get("epoch"), row.get("iwae_k"))
            if key not in self.finals and "neg_elbo" in row:
                self.finals.add(key)
                results = {k: v for k, v in row.items() if k not in ("kind", "epoch")}
                out.append(FinalEvaluation(int(row.get("epoch") or 0), results))
        return out

    def epochs(self) -> int:
        return int((self.config or {}).get("epochs", 0))

    def snapshot(self) -> list[Event]:
        """The checkpoint's weights when the file has changed since the last read; a file being
        replaced or cut while read is read again next poll."""
        path = self.run_dir / CHECKPOINT_FILE
        key = file_key(path)
        if key is None or key == self._checkpoint:
            return []
        from .checkpoint import model_state, read_checkpoint  # noqa: PLC0415 - torch

        try:
            data = read_checkpoint(path)
            state = model_state(data, path)
        except Exception:  # noqa: BLE001 - torn, half-replaced, or not ours: try again next time
            return []
        if file_key(path) != key:
            return []
        self._checkpoint = key
        epoch, batch = data.get("epoch"), data.get("batch")
        return [
            ModelSnapshot(
                epoch if isinstance(epoch, int) else 0, state, batch if isinstance(batch, int) else 0
            )
        ]

    def ending(self, seen: TrainerSeen) -> list[Event]:
        """`RunFinished` once the run is over (said again if it is resumed and ends again)."""
        state = seen.state or {}
        said_finished = state.get("state") == "finished"
        if seen.liveness == "live" and not (
            said_finished and seen.trainer and state.get("pid") == seen.trainer.pid
        ):
            self.finished = False  # (a new session's trainer, before it has written its state)
            return []
        over = said_finished if state else seen.liveness == "none"
        if self.finished or not over:
            return []
        self.finished = True
        outcome = state.get("outcome") or ("completed" if self.epochs_done >= self.epochs() else "stopped")
        status = "completed" if outcome in ("completed", "success") else "stopped"
        return [RunFinished(self.epochs_done, self.step, status, 0.0)]


def is_epoch(row: dict[str, Any]) -> bool:
    return (
        row.get("kind", "epoch") == "epoch"
        and isinstance(row.get("epoch"), int)
        and isinstance(row.get("step"), int)
        and "test_loss" in row
    )


def is_batches(row: dict[str, Any]) -> bool:
    losses = row.get("loss")
    return (
        isinstance(row.get("first_step"), int)
        and isinstance(losses, list)
        and all(isinstance(x, int | float) for x in losses)
    )


def batches_per_epoch(
    config: dict[str, Any], state: dict[str, Any] | None, epoch_rows: list[dict[str, Any]]
) -> int:
    """From the trainer's state file, else the first epoch's last step, else the data's size."""
    if state and isinstance(state.get("batches"), int) and state["batches"] > 0:
        return int(state["batches"])
    first = next((r for r in epoch_rows if r["epoch"] == 1), None)
    if first is not None:
        return int(first["step"])
    from .data import SPLIT_SIZES  # noqa: PLC0415

    limit = config.get("train_limit") or SPLIT_SIZES["train"]
    return math.ceil(min(limit, SPLIT_SIZES["train"]) / max(1, int(config.get("batch_size", 128))))


def epoch_end(row: dict[str, Any], epochs: int) -> EpochEnd:
    kl = row.get("kl_per_dim")
    units = row.get("active_units")
    return EpochEnd(
        row["epoch"], epochs, row["step"], number(row, "loss"), number(row, "bce"), number(row, "kld"),
        number(row, "beta", 0.0), number(row, "test_loss"), number(row, "test_bce"), number(row, "test_kld"),
        number(row, "test_loss_stderr", 0.0), number(row, "seconds", 0.0), number(row, "images_per_second", 0.0),
        tuple(kl) if isinstance(kl, list) else (), units if isinstance(units, int) else None,
    )  # fmt: skip


def test_set(config: dict[str, Any]) -> tuple[Any, Any]:
    """The run's held-out images and labels, as its trainer loads them (torch)."""
    from .data import load_split, resolve_dataset_dir  # noqa: PLC0415

    folder = resolve_dataset_dir(config.get("dataset", "mnist"), config.get("data_dir"), splits=("test",))
    split = load_split(folder, "test", config.get("test_limit"))
    return split.images, split.labels
