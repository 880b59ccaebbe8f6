"""The signal policy of a `--train-only` run: stop and save, then quit, then exit.

The handlers are installed before torch is imported, so a Ctrl-C (SIGINT) or SIGTERM at any
moment is handled. The first one asks the loop to stop at the next batch boundary and save a
checkpoint of that exact position; SwanLab is finished as `aborted`, and the exit code is
128 + the signal (130, 143). During start-up (flags, imports) the run exits with that code and
writes nothing; during data loading the loop saves its starting position. A second one quits at
once, without waiting for SwanLab: the checkpoint on disk is whole (it is only ever replaced
atomically), the SwanLab log may lack its finish record. A third exits immediately.

Torch-free, like `core.control` and `core.events`, so that it can go in first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from vae_tui.core.control import TrainControl
from vae_tui.core.events import Event, RunStarted


class StopOnSignals:
    """First SIGINT/SIGTERM: ask the loop to stop and save. Second: quit now. Third: exit now.

    "Quit now" raises KeyboardInterrupt in the main thread, so the loop unwinds without saving
    (the checkpoint on disk is always a complete one) and the consumers are still closed. Should
    that unwinding itself hang, a third signal ends the process with `os._exit`.
    """

    def __init__(self, control: TrainControl, err: TextIO) -> None:
        self.control = control
        self.err = err
        self.received: int | None = None
        """The first signal (it decides the exit code)."""
        self.hard: int | None = None
        """The signal that asked to quit at once, if any."""
        self.started = False
        """Whether the loop has started (a stop then saves a checkpoint)."""
        self.run_dir: str | None = None
        """The run folder, once the loop has started (a new run's default one is claimed then)."""
        self.on_quit: list[Callable[[], None]] = []
        """Called on "quit now", before the interrupt: e.g. stop waiting for SwanLab."""
        self._previous: dict[int, Any] = {}

    def say(self, line: str) -> None:
        # stderr may be gone (a dead ssh session): the stop must happen all the same
        with contextlib.suppress(OSError, ValueError):
            print(f"vae-tui: {line}", file=self.err, flush=True)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.hard is not None:
            os._exit(128 + signum)  # the quit itself is stuck: do not wait any longer
            return  # (only reached when tests replace os._exit)
        if self.received is not None:
            self.hard = signum
            self.say(f"second signal ({name}): quitting now")
            for callback in self.on_quit:
                callback()
            raise KeyboardInterrupt
        self.received = signum
        if self.started:
            self.say(f"{name}: stopping at the next batch and saving a checkpoint (again to quit now)")
        else:
            self.say(f"{name}: stopping before training starts (again to quit now)")
        self.control.request_stop()

    # It is also a consumer of the event stream, to know when training has started.
    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.started = True
            self.run_dir = event.run_dir

    def close(self, state: str) -> None:
        pass

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @property
    def exit_code(self) -> int:
        """0, or 128 + the signal that ended the run (130 for SIGINT, 143 for SIGTERM)."""
        signum = self.hard or self.received
        return 128 + signum if signum else 0
