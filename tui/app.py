"""The Textual app: live training on the left, what the model learned on the right.

`VaeApp` starts its one job in a thread worker (`workers.py`): train, or open a saved model.
It owns the keys that act on training, the command palette's additions and the quit keys. What
the run shows and each worker message's handler are its base's (`run_display.py`); the layout
(`layout.py`), the browsing keys (`screen.py`, `browse.py`), the clock (`run_status.py`) and how
the app ends (`shutdown.py`) each live in a module of their own. `make_app` builds it, for the
CLI, the tests, the snapshots and the benchmarks; `run_app` runs it on the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual import events, on
from textual.app import SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import TabbedContent, Tabs
from textual.worker import Worker, WorkerState

from . import workers
from .driver import in_browser, terminal_driver
from .graphics import HALFBLOCK, Graphics, resolve
from .layout import LOSSES, NARROW_WIDTH, TABS, visible_tabs
from .logs import warnings_to
from .messages import CoreWarning
from .past_epochs import PastEpochs
from .request import Request
from .run_display import REDRAW_HZ, RunDisplay
from .shutdown import closing_line
from .watch import WatchMode
from .wording import upload_hint
from .workers import StartRun

KEY_HOLD_SECONDS = 0.08
"""Training waits this long after a key press, so the redraw it asks for has the cores."""

__all__ = ["VaeApp", "WatchApp", "closing_line", "make_app", "run_app"]  # closing_line: run_app's


class VaeApp(RunDisplay):
    CSS_PATH = "app.tcss"
    TITLE = "vae-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [  # noqa: RUF012 - the other keys are the screen's (screen.py), in the Footer's order
        Binding("q", "quit_clean", "Quit"),
        Binding("ctrl+c", "quit_clean(130)", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        request: Request,
        driver_class: type[Driver] | None = None,
        graphics: Graphics = HALFBLOCK,
        start_run: StartRun | None = None,
    ) -> None:
        super().__init__(request, driver_class=driver_class, graphics=graphics)
        self.start_run = start_run or workers.start_training_run
        """Wires a planned run for the training worker: the real one, or a test's event stream."""
        self.state.kept = PastEpochs(self.run_folder, self.history, lambda: self.status.epochs)  # `[`/`]`
        self.stop_notices: Callable[[], None] = lambda: None
        """Ends the toasts of core warnings (`logs.warnings_to`): the app's own, for as long as it runs."""

    # -- start-up ----------------------------------------------------------------------------
    def on_mount(self) -> None:
        # Core warnings become toasts, from before the worker starts until the app has gone.
        self.stop_notices = warnings_to(lambda text: self.post_message(CoreWarning(text)))
        self.main.query_one(Tabs).can_focus = False  # arrows belong to the image views
        self.set_focus(None)
        self.apply_size(self.size.width, self.size.height)
        if self.size.width < NARROW_WIDTH and not self.browse_only:
            self.main.query_one(TabbedContent).active = LOSSES  # training: show progress first
        self.set_interval(1 / REDRAW_HZ, self.tick)
        if self.request.resume:
            self.show_saved_run(self.request.resume)
        elif self.request.config.run_dir:
            self.status.run_dir = self.request.config.run_dir
        self.refresh_status()
        if self.graphics.notice:
            self.notify(self.graphics.notice, title="Graphics", severity="warning", timeout=10)
        self.exits.install_signals(self.action_quit_clean)
        self.start_work()

    def start_work(self) -> None:
        """Start the app's one job: open the saved model, or train (`WatchApp`: watch)."""
        if self.browse_only:
            self.status.phase = "opening"
            self.start_job(partial(workers.open_model, self.request, self.post_message), "open")
        else:
            self.training_active = True
            run = partial(workers.train, self.request, self.control, self.start_run, self.post_message)
            self.start_job(partial(run, self.keep_tracker), "training")

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if self.training_active:
                # The key's redraw gets the cores first (`TrainControl.hold`): on 2 cores, one
                # press in 20 took over 100 ms while torch trained on both.
                self.control.hold(KEY_HOLD_SECONDS)
            self.main.key_seen(event.key)
        await super().on_event(event)

    def tick(self) -> None:
        self.status.sync_pause(self.control.paused and self.training_keys_act)  # (a watcher's request)
        super().tick()

    def start_job(self, job: Any, name: str) -> None:
        self.run_worker(job, name=name, group="model", thread=True, exclusive=True, exit_on_error=False)

    def keep_tracker(self, tracker: Any) -> None:
        self.tracker = tracker  # (from the training thread: SwanLab starts there)

    def show_saved_run(self, run_dir: str) -> None:
        """`--resume`: where the run stands, read from its folder before torch has loaded (the
        first frame used to show step 0, β 0.00 and no run folder for seconds)."""
        from vae_tui.core.runinfo import saved_run  # noqa: PLC0415

        saved = saved_run(run_dir, self.request.overrides)
        if saved is None:
            return
        self.status.resuming(saved, str(run_dir))
        self.load_history(saved.history)

    def on_unmount(self) -> None:
        # However the app ends, its training worker must not outlive it: a paused one would
        # otherwise wait forever, and the process with it (it stops within a batch, and saves).
        self.control.request_stop()
        self.stop_notices()

    # -- the worker's end --------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}", title="Unexpected error", severity="error", timeout=30
            )
            self.status.message = f"error: {type(error).__name__}: {error}"
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.training_active = False
            self.status.worker_ended()
            if self.main in self.screen_stack:  # not once the app has closed (a test's end)
                self.epochs_over()
                self.refresh_status()  # (and the Footer: its keys depend on training_active)
            self.exits.training_over()

    # -- the training keys -------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer a key only where it acts: the Footer hides the others, and they do nothing."""
        if action in ("pause", "resume"):
            return self.training_keys_act and self.control.paused == (action == "resume")
        if action in ("save", "refresh_model"):
            return self.training_keys_act
        return True

    def action_pause(self) -> None:
        if not self.training_keys_act or self.control.paused:
            return
        self.control.pause()
        self.status.pause()
        self.refresh_status()

    def action_resume(self) -> None:
        if not self.training_keys_act or not self.control.paused:
            return
        self.paused_at_step = None
        self.control.resume()
        self.status.resume()
        self.refresh_status()

    def action_refresh_model(self) -> None:
        """Redraw the views with the weights as they are now, not as of the last epoch end."""
        if self.training_active:
            self.control.request_snapshot()
        else:
            self.notify("Not training: the views already show the final model.", timeout=3)

    def action_save(self) -> None:
        if self.training_active:
            self.control.request_checkpoint()
        elif self.browse_only:
            self.notify("Browsing a saved model: nothing new to save.", timeout=4)
        else:
            self.notify(f"Training is over; the last checkpoint is {self.last_checkpoint}", timeout=5)

    # -- the command palette and screenshots -------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Run details", "Run folder, checkpoint, SwanLab run id and log folder", self.action_run_details
        )
        shown = visible_tabs(self.main)
        for number, tab in enumerate(TABS, 1):  # every view by name, as well as by number and Tab
            if tab.id in shown:
                show = partial(self.main.action_show_tab, tab.id)
                yield SystemCommand(f"Show {tab.title}", f"The {tab.key_name} tab (key {number})", show)

    def run_details(self) -> str:
        """Where everything of this run is, for the palette's Run details."""
        s, t = self.status, self.tracker
        lines = [f"Run folder: {self.run_folder() or '–'}"]
        if self.browse_only:
            lines.append(f"Model: {self.request.checkpoint}")
        elif self.last_checkpoint:
            lines.append(f"Checkpoint: {self.last_checkpoint}")
        if t is not None and t.tracking and t.run_id:
            lines.append(f"SwanLab {t.active_mode} run {t.run_id}")
            lines += [f"Log: {folder}" for folder in t.log_folders()]
            if command := t.sync_command():
                lines.append(f"Upload: {upload_hint(command)}")
        else:
            lines.append(f"SwanLab: {s.swanlab or 'not started yet'}")
        return "\n".join(lines)

    def action_run_details(self) -> None:
        self.notify(self.run_details(), title="Run details", timeout=30)

    def run_folder(self) -> str | None:
        """The run's folder: the one training writes, or the browsed checkpoint's if it was
        in one when opened (a bare state_dict file has none)."""
        return self.browsed_run if self.browse_only else self.status.run_dir or None

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Screenshots go into the run folder (else the current folder), not Textual's default
        ~/Downloads, which need not exist (the palette then said only "Failed to save")."""
        return super().deliver_screenshot(filename, path or self.run_folder() or os.getcwd(), time_format)

    @on(events.DeliveryFailed)
    def screenshot_failed(self, event: events.DeliveryFailed) -> None:
        if event.name != "screenshot":
            return
        event.prevent_default()  # Textual's own toast says only that it failed
        error = event.exception
        reason = (
            f"cannot write {error.filename}: {error.strerror}"
            if isinstance(error, OSError) and error.strerror
            else f"{type(error).__name__}: {error}"
        )
        self.notify(f"Screenshot not saved: {reason}", title="Screenshot", severity="error", timeout=15)

    # -- quitting ----------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """ctrl+q and the command palette's Quit: the same clean stop as q, not an abrupt exit
        that leaves the trainer to save after the screen (and its closing line) has gone."""
        self.action_quit_clean(0)

    def action_quit_clean(self, code: int = 0) -> None:
        """Stop between batches, save, finish SwanLab, then exit; a second press exits at once."""
        if self.exits.quit(code):
            self.status.message = (
                "stopping: saving a checkpoint and closing the SwanLab run… (q again: quit now)"
            )
            self.refresh_status()


class WatchApp(WatchMode, VaeApp):
    """`--watch RUN_DIR`: the app on a run another process trains (tui/watch.py)."""


def make_app(
    request: Request,
    *,
    driver_class: type[Driver] | None = None,
    graphics: Graphics | None = None,
    start_run: StartRun | None = None,
) -> VaeApp:
    """The app for `request`: what the CLI runs, and what the tests, the snapshots and the
    benchmark drive (they keep Textual's own driver, e.g. the headless one of `run_test`;
    `start_run` lets a test feed the app an event stream of its own instead of training).
    `graphics`, when not given, is `request.graphics` on this terminal (see `graphics_for`)."""
    graphics = graphics if graphics is not None else graphics_for(request)
    app_class = WatchApp if request.watch else VaeApp
    return app_class(request, driver_class=driver_class, graphics=graphics, start_run=start_run)


def graphics_for(request: Request) -> Graphics:
    """The renderer `--graphics` asks for on this terminal. A protocol queries the terminal, so
    this runs before the App starts reading it; half-block, the default, queries nothing."""
    return resolve(request.graphics or "halfblock")


def run_app(request: Request) -> int:
    graphics = graphics_for(request)  # queries the terminal (for a protocol): before the App reads it
    app = make_app(request, driver_class=terminal_driver(), graphics=graphics)
    try:
        code = app.run()
    finally:
        app.control.request_stop()  # if anything still runs, it stops within a batch and saves
    line, exit_code = closing_line(app, code or 0)
    if line and not in_browser():  # a page's app would say it in the server's console, to nobody
        print(line, file=sys.stderr)
    return exit_code
