"""Messages from the workers to the UI, one class per UI event, and the bridge that posts them.

Each message carries its core event (typed) or typed fields; the app has one handler per class
(`on_training_started`, …). `UiBridge` is the training stream's consumer on the worker thread:
it maps each event class to its message class (`MESSAGE_FOR`), and gathers the per-batch events
into `Batches`, so a fast trainer cannot flood the UI's queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from vae_tui.core.events import (
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    Event,
    FinalEvaluation,
    ModelSnapshot,
    Paused,
    RunFinished,
    RunStarted,
)

if TYPE_CHECKING:
    import torch

    from vae_tui.core.metrics import History


@dataclass
class TrainingStarted(Message):
    """The run is planned and its data loaded: where it starts, and the test images to browse."""

    event: RunStarted


@dataclass
class WeightsUpdated(Message):
    """A copy of the weights to browse (each epoch end, and on `r`)."""

    event: ModelSnapshot


@dataclass
class EpochFinished(Message):
    event: EpochEnd


@dataclass
class CheckpointWritten(Message):
    event: CheckpointSaved


@dataclass
class FinalScores(Message):
    event: FinalEvaluation


@dataclass
class TrainingPaused(Message):
    """The loop has stopped at a batch boundary and waits: its exact position."""

    event: Paused


@dataclass
class TrainingEnded(Message):
    event: RunFinished


@dataclass
class Batches(Message):
    """The batches since the last message: posted a few times a second, not once per batch.

    No `can_replace` here or on any message: a dropped `Batches` would lose its points from the
    loss plot, and every other message is rare (the bridge already bounds how often these come)."""

    batches: list[BatchEnd]


@dataclass
class HistoryLoaded(Message):
    """`--resume`: what the run logged before this session, so the plots show all of it, and
    the time spent on the epoch it resumes in (not in the history, which has complete epochs)."""

    history: History
    carried_seconds: float = 0.0


@dataclass(frozen=True)
class OpenedModel:
    """A saved model read for browsing (`--checkpoint`), with the test images to browse it with."""

    weights: dict[str, torch.Tensor]
    images: torch.Tensor
    labels: torch.Tensor
    epoch: int | None
    """Epochs complete in the weights (None: a bare state_dict, which does not say)."""
    batch: int | None
    """Batches of the next epoch in them too (a checkpoint saved mid-epoch; None: not recorded)."""
    dataset: str
    seed: int
    run_info: tuple[str, str]
    """What the run was (`run`, its settings) or the model is (`model`, its architecture)."""
    run_dir: str | None = None
    """The run's folder, when the checkpoint is in one (it has a config.json)."""
    history: History | None = None
    """What the run logged up to the checkpoint (a checkpoint file only, not a state_dict)."""
    seconds: float = 0.0
    """Training time of that history."""
    final: dict[str, Any] | None = None
    """The run's final evaluation, when the checkpoint is the model it scored."""


@dataclass
class ModelOpened(Message):
    model: OpenedModel


@dataclass
class Failed(Message):
    """An error the user must see; `fatal` when nothing can be shown (the app then exits)."""

    text: str
    exit_code: int
    fatal: bool


@dataclass
class CoreWarning(Message):
    """A warning logged by core (SwanLab falling back to offline, a β change on resume): a toast,
    as `logs.Notice` hands it over from whichever thread logged it."""

    text: str


MESSAGE_FOR: dict[type, Callable[[Any], Message]] = {
    RunStarted: TrainingStarted,
    ModelSnapshot: WeightsUpdated,
    EpochEnd: EpochFinished,
    CheckpointSaved: CheckpointWritten,
    FinalEvaluation: FinalScores,
    Paused: TrainingPaused,
    RunFinished: TrainingEnded,
}
"""The UI's message for each event it uses (EpochImages are for the image writer only)."""


class UiBridge:
    """The consumer that hands the training stream to the UI without ever blocking the trainer.

    It runs on the training thread. `post` only enqueues (unlike `call_from_thread`, which waits
    for the UI), and per-batch events are gathered and sent at most `interval` apart: the plots
    redraw 4 times a second, as smooth as a loss curve needs, and the UI's work stays small: while
    it runs it takes a core from torch's threads, which all wait for the one that lost it."""

    def __init__(self, post: Callable[[Message], Any], interval: float = 0.25) -> None:
        self.post = post
        self.interval = interval
        self._pending: list[BatchEnd] = []
        self._last = 0.0

    def handle(self, event: Event) -> None:
        if isinstance(event, BatchEnd):
            self._pending.append(event)
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self._flush()
            return
        self._flush()
        message = MESSAGE_FOR.get(type(event))
        if message is not None:
            self.post(message(event))
        if isinstance(event, RunStarted) and event.start_step:
            # A resumed run: read once the metrics writer (before this consumer) has dropped any
            # rows past the checkpoint, so the plots show exactly the history it continues.
            from vae_tui.core.metrics import read_history  # noqa: PLC0415

            self.post(HistoryLoaded(read_history(event.run_dir, event.start_step), event.start_seconds))

    def _flush(self) -> None:
        if self._pending:
            self.post(Batches(self._pending))
            self._pending = []

    def close(self, state: str) -> None:
        self._flush()
