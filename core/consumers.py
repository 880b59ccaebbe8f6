"""Feeding one event stream to many consumers, and closing them all whatever happens."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from .events import Event, RunFinished

log = logging.getLogger("vae_tui")


class Consumer(Protocol):
    def handle(self, event: Event) -> None:
        """Called for every event, in order, on the thread that runs the loop."""

    def close(self, state: str) -> None:
        """`success`, `aborted` (stopped or interrupted) or `crashed`; called exactly once."""


def drive(events: Iterable[Event], consumers: Sequence[Consumer]) -> RunFinished | None:
    """Run the stream to its end; every consumer is closed, also on errors and Ctrl-C."""
    finished: RunFinished | None = None
    state = "crashed"
    try:
        for event in events:
            for consumer in consumers:
                consumer.handle(event)
            if isinstance(event, RunFinished):
                finished = event
        state = "success" if finished and finished.status == "completed" else "aborted"
        return finished
    except KeyboardInterrupt:
        state = "aborted"
        raise
    finally:
        for consumer in consumers:
            try:
                consumer.close(state)
            except Exception as e:  # noqa: BLE001 - one consumer must not stop the others closing
                log.warning("%s failed to close: %s", type(consumer).__name__, e)
