"""How the app ends: quitting cleanly, the OS signals, and what the shell sees afterwards.

q (and ctrl+q, the palette's Quit, SIGTERM) stops training between batches, lets it save and
close SwanLab, then exits; pressed again it exits at once. SIGHUP means the terminal is gone:
the same stop, then `os._exit`, since Textual's own shutdown would block writing to it. Once
the screen has gone, one line says where the run is and how to go on, or the error it ended on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App

from vae_tui.core.control import TrainControl

from .wording import mid_epoch, upload_hint

if TYPE_CHECKING:
    from vae_tui.core.events import CheckpointSaved

    from .messages import Failed
    from .run_status import RunStatus

TERMINAL_LOST_GRACE = 30.0  # seconds to save and close SwanLab after SIGHUP before exiting anyway


class ExitPolicy:
    """When and with which code the app exits, while a training worker may still be saving."""

    def __init__(self, app: App[int], control: TrainControl, training: Callable[[], bool]) -> None:
        self.app = app
        self.control = control
        self.training = training
        """Whether the training worker still runs (and must be let to stop and save)."""
        self.quitting: int | None = None
        """The exit code asked for, while training stops."""
        self.lost_terminal = False

    def install_signals(self, quit_clean: Callable[[int], None]) -> None:
        """SIGTERM quits cleanly (143); SIGHUP is a lost terminal."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGTERM, quit_clean, 143)
            loop.add_signal_handler(signal.SIGHUP, self.terminal_lost)

    def quit(self, code: int) -> bool:
        """Exit now, unless training must stop and save first: then ask it to, and return True
        (the app exits when the worker ends). A second quit exits at once."""
        if self.quitting is not None or not self.training():
            self.app.exit(return_code=code if self.quitting is None else self.quitting)
            return False
        self.quitting = code
        self.control.request_stop()
        return True

    def terminal_lost(self) -> None:
        """SIGHUP: the terminal is gone (SSH dropped, tmux killed). Stop, save, finish SwanLab and
        leave without Textual's shutdown, which would block forever writing to the lost terminal."""
        self.lost_terminal = True
        guard = threading.Timer(TERMINAL_LOST_GRACE, os._exit, (129,))
        guard.daemon = True
        guard.start()  # whatever happens, the process does not outlive its terminal for long
        if not self.training():
            os._exit(129)
        self.quitting = 129
        self.control.request_stop()

    def training_over(self) -> None:
        """The worker has ended (saved, SwanLab finished): exit now if that was waited for."""
        if self.quitting is not None and self.lost_terminal:
            os._exit(self.quitting)  # nothing left to draw on
        if self.quitting is not None:
            self.app.exit(return_code=self.quitting)


class Ended(Protocol):
    """What the closing line reads off the app once it has ended."""

    return_code: int | None
    fatal: Failed | None
    failure: Failed | None
    status: RunStatus
    browse_only: bool
    last_saved: CheckpointSaved | None
    tracker: Any

    @property
    def last_checkpoint(self) -> str | None: ...


def closing_line(app: Ended, code: int = 0) -> tuple[str | None, int]:
    """What the shell sees once the screen is gone: where the run is and how to go on (or the
    error training stopped on), and the exit code."""
    exit_code = app.return_code if app.return_code is not None else code
    if app.fatal is not None:
        return f"vae-tui: error: {app.fatal.text}", app.fatal.exit_code
    if app.failure is not None and not exit_code:
        return f"vae-tui: error: {app.failure.text}", app.failure.exit_code
    if app.status.watching:  # the trainer is another process's: say how it stands, and how to look again
        run = app.status.run_dir
        return (
            f"vae-tui: stopped watching {run} ({app.status.watching}); again: vae-tui --watch {run}",
            exit_code,
        )
    if not (app.status.run_dir and not app.browse_only and app.last_checkpoint):
        return None, exit_code
    line = f"vae-tui: run in {app.status.run_dir} (checkpoint {app.last_checkpoint})"
    saved = app.last_saved
    if app.status.phase != "finished" and saved is not None and saved.epoch < app.status.epochs:
        at = mid_epoch(saved.epoch, saved.batch) if saved.batch else f"the end of epoch {saved.epoch}"
        line += f"; saved at {at}: continue with vae-tui --resume {app.status.run_dir}"
    elif app.status.eval_skipped:
        line += f"; the final IWAE bound was skipped: vae-tui --eval --checkpoint {app.last_checkpoint}"
    return line + swanlab_line(app.tracker), exit_code


def swanlab_line(tracker: Any) -> str:
    """The SwanLab run's id and, offline, where its log is and the command that uploads it (the
    app showed only "SwanLab offline"); empty when nothing was tracked."""
    if tracker is None or not tracker.tracking or not tracker.run_id:
        return ""
    if command := tracker.sync_command():
        return (
            f"\nvae-tui: SwanLab offline run {tracker.run_id}, logged in {tracker.log_dir}; "
            f"to upload it: {upload_hint(command)}"
        )
    return f"\nvae-tui: SwanLab {tracker.active_mode} run {tracker.run_id}"
