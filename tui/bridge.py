"""The consumer that hands the training stream to the UI without ever blocking the trainer.

It runs on the training thread. `post_message` only enqueues (unlike `call_from_thread`, which
waits for the UI), and per-batch events are gathered and sent at most `interval` apart, so a
fast trainer cannot flood the UI's queue however many batches a second it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.message import Message

from vae_tui.core.events import BatchEnd, RunStarted

from .messages import Batches, HistoryLoaded, TrainEvent


class UiBridge:
    def __init__(self, post: Callable[[Message], Any], interval: float = 0.1) -> None:
        self.post = post
        self.interval = interval
        self._pending: list[BatchEnd] = []
        self._last = 0.0

    def handle(self, event: Any) -> None:
        if isinstance(event, BatchEnd):
            self._pending.append(event)
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self._flush()
            return
        self._flush()
        self.post(TrainEvent(event))
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
