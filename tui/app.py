"""The Textual app: live training on the left, what the model learned on the right.

Training runs in a thread worker that iterates the one training loop and feeds the same
consumers as `--train-only` (metrics, image grids, SwanLab) plus a bridge that posts messages to
the UI. Torch is imported by that worker, so the first frame appears while it loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane, Tabs
from textual.worker import Worker, WorkerState

from vae_tui.core.control import TrainControl

from .bridge import UiBridge
from .driver import terminal_driver
from .graphics import HALFBLOCK, Graphics, resolve
from .messages import Batches, Failed, HistoryLoaded, ModelOpened, TrainEvent
from .request import Request
from .widgets.losses import LossHistory, LossPanel
from .widgets.status import RunStatus, StatusPanel
from .widgets.views import (
    SAMPLE_COUNT,
    BrowseState,
    ImageView,
    ReconstructionView,
    SamplesView,
    TraversalView,
)

if TYPE_CHECKING:
    from vae_tui.core.run import RunPlan, TrainingRun

StartRun = Callable[["RunPlan", TrainControl], "TrainingRun"]


def start_training_run(plan: RunPlan, control: TrainControl) -> TrainingRun:
    """The real run, with one core left to the UI."""
    from vae_tui.core.run import TrainingRun  # noqa: PLC0415 - torch

    return TrainingRun(plan, control, ui_threads=1)


NARROW_WIDTH = 110  # below this the loss plots move into their own tab
MIN_SIZE = (40, 12)  # below this only a "terminal too small" note is shown
REDRAW_HZ = 2  # loss plots and status; the issue allows 2–4 Hz, and each redraw costs the trainer
TAB_ORDER = ("losses", "recon", "samples", "traversal")
TERMINAL_LOST_GRACE = 30.0  # seconds to save and close SwanLab after SIGHUP before exiting anyway


class MainScreen(Screen):
    """The default screen, with Tab switching tabs instead of moving focus (nothing here takes it)."""

    AUTO_FOCUS = None  # a focused Tabs widget would take ←/→ from the image views

    BINDINGS = [  # noqa: RUF012
        Binding("tab", "app.next_tab", "Tab", key_display="⇥ 1-4"),
        Binding("shift+tab", "app.next_tab(-1)", "Previous tab", show=False),
    ]


class Notice(logging.Handler):
    """Core warnings (e.g. SwanLab falling back to offline) as toasts, never on the terminal."""

    def __init__(self, app: App) -> None:
        super().__init__(logging.INFO)
        self.app = app

    def emit(self, record: logging.LogRecord) -> None:
        self.app.post_message(Failed(record.getMessage(), 0, fatal=False))


class VaeApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "vae-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [  # noqa: RUF012
        Binding("left", "browse(-1)", "Image", key_display="←→"),
        Binding("right", "browse(1)", "Next image", show=False),
        Binding("up", "dimension(-1)", "Dim", key_display="↑↓"),
        Binding("down", "dimension(1)", "Next dim", show=False),
        Binding("1", "show_tab('losses')", "Losses", show=False),
        Binding("2", "show_tab('recon')", "Recon", show=False),
        Binding("3", "show_tab('samples')", "Samples", show=False),
        Binding("4", "show_tab('traversal')", "Traversal", show=False),
        # One key, two bindings: the Footer offers the one that applies (see check_action).
        Binding("space", "pause", "Pause", key_display="␣"),
        Binding("space", "resume", "Resume", key_display="␣"),
        Binding("n", "new_samples", "New z"),
        Binding("z", "toggle_base", "Base"),
        Binding("r", "refresh_model", "Redraw"),
        Binding("s", "save", "Save"),
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
        super().__init__(driver_class=driver_class)
        self.request = request
        self.start_run = start_run or start_training_run
        """Wires a planned run for the training worker: the real one, or a test's event stream."""
        self.graphics = graphics
        """How images are drawn; chosen by `graphics.resolve` before the App starts."""
        self.browse_only = request.browsing
        self.control = TrainControl()
        self.history = LossHistory()
        self.state = BrowseState()
        self.status = RunStatus(mode="browse" if self.browse_only else "train")
        self.test_images: Any = None
        self.test_labels: Any = None
        self.config: dict[str, Any] = {}
        self.training_active = False
        self.quitting: int | None = None
        self.lost_terminal = False
        self.paused_at_step: int | None = None
        """The step training is paused at, once the loop has confirmed it."""
        self._gc_frozen = False
        self.last_saved: Any = None
        """The last CheckpointSaved event: where a resume would start."""
        self.fatal: Failed | None = None
        """An error that closed the app at start-up (bad data, a held run folder): one line at exit."""
        self.failure: Failed | None = None
        """Training stopped on an error (NaN, a full disk): the app stays open to browse, and
        says it again, with its exit code, when it closes."""
        self.tracker: Any = None
        self.browsed_run: str | None = None
        """`--checkpoint` of a run's checkpoint: that run's folder."""
        self._rate: list[tuple[float, int]] = []
        self._bindings_key: tuple[Any, ...] = ()

    # -- layout ------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield StatusPanel(id="status")
        with Horizontal(id="main"):
            yield LossPanel(self.history, id="side-losses")
            with TabbedContent(id="tabs", initial="recon"):
                with TabPane("1 Losses", id="losses"):
                    yield LossPanel(self.history, id="tab-losses")
                with TabPane("2 Reconstructions", id="recon"):
                    yield ReconstructionView(self.state, id="view-recon", graphics=self.graphics)
                with TabPane("3 Samples", id="samples"):
                    yield SamplesView(self.state, id="view-samples", graphics=self.graphics)
                with TabPane("4 Traversal", id="traversal"):
                    yield TraversalView(self.state, id="view-traversal", graphics=self.graphics)
        yield Static(
            f"Terminal too small: vae-tui needs at least {MIN_SIZE[0]}×{MIN_SIZE[1]}", id="too-small"
        )
        # Every key fits in 80 columns only without the palette hint (Ctrl+P still opens it).
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(Tabs).can_focus = False  # arrows belong to the image views
        self.set_focus(None)
        self.apply_size(self.size.width, self.size.height)
        if self.size.width < NARROW_WIDTH and not self.browse_only:
            self.query_one(TabbedContent).active = "losses"  # training: show progress first
        self.set_interval(1 / REDRAW_HZ, self.tick)
        if self.request.resume:
            self.show_saved_run(self.request.resume)
        elif self.request.get("run_dir"):
            self.status.run_dir = self.request.get("run_dir")
        self.refresh_status()
        if self.graphics.notice:
            self.notify(self.graphics.notice, title="Graphics", severity="warning", timeout=10)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGTERM, self.action_quit_clean, 143)
            loop.add_signal_handler(signal.SIGHUP, self.terminal_lost)
        if self.browse_only:
            self.status.phase = "opening"
            self.open_model()
        else:
            self.training_active = True
            self.run_training()

    def show_saved_run(self, run_dir: str) -> None:
        """`--resume`: where the run stands, read from its folder before torch has loaded (the
        first frame used to show step 0, β 0.00 and no run folder for seconds)."""
        from .provenance import saved_run  # noqa: PLC0415

        saved = saved_run(run_dir, self.request.overrides)
        if saved is None:
            return
        s = self.status
        s.run_dir, s.swanlab, s.prior_seconds = str(run_dir), saved.swanlab, saved.seconds
        s.epochs, s.batches, s.step, s.beta = saved.epochs, saved.batches, saved.step, saved.beta
        s.epoch = min(saved.epochs_done + 1, saved.epochs)
        s.batch = saved.batch
        self.load_history(saved.history)

    def on_unmount(self) -> None:
        # However the app ends, its training worker must not outlive it: a paused one would
        # otherwise wait forever, and the process with it (it stops within a batch, and saves).
        self.control.request_stop()

    def on_resize(self, event: Any) -> None:
        if self.graphics.kind == "sixel" and self._driver is not None and not self.is_headless:
            # Sixel pictures stay on a terminal's screen until erased, and one left past a
            # shrunk window's new bottom scrolled everything up a line (xterm): erase them all.
            self._driver.write("\x1b[2J")
            self.screen.refresh(repaint=True)
        self.apply_size(event.size.width, event.size.height)

    def apply_size(self, width: int, height: int) -> None:
        screen = self.screen
        screen.set_class(width < MIN_SIZE[0] or height < MIN_SIZE[1], "tiny")
        no_history = self.browse_only and not (self.history.epochs or len(self.history.steps))
        screen.set_class(no_history, "no-history")
        narrow = width < NARROW_WIDTH or no_history
        screen.set_class(narrow, "narrow")
        tabs = self.query_one(TabbedContent)
        if narrow and not no_history:
            tabs.show_tab("losses")
        else:
            if tabs.active == "losses":
                tabs.active = "recon"
            tabs.hide_tab("losses")
        if no_history:
            if tabs.active == "losses":
                tabs.active = "recon"
            tabs.hide_tab("losses")
        self.call_after_refresh(self.redraw_all)

    def redraw_all(self) -> None:
        for view in self.query(ImageView):
            view.stale = True
        self.active_view_update()
        for panel in self.query(LossPanel):
            panel.redraw(force=True)

    # -- periodic redraw ---------------------------------------------------------------------
    def tick(self) -> None:
        if not self.is_running:
            return
        with contextlib.suppress(NoMatches):  # the timer can fire once more while the app closes
            for panel in self.query(LossPanel):
                panel.redraw()
            tracker = self.tracker
            if tracker is not None and tracker.active_mode:  # SwanLab starts on its own thread
                self.status.swanlab = tracker.active_mode
                self.status.swanlab_id = tracker.run_id or ""
            self.refresh_status()

    def refresh_status(self) -> None:
        self.query_one(StatusPanel).show(self.status)
        self.sync_bindings()

    def active_view(self) -> ImageView | None:
        active = self.query_one(TabbedContent).active
        return next((v for v in self.query(ImageView) if v.id == f"view-{active}"), None)

    def active_view_update(self) -> None:
        if view := self.active_view():
            view.update_view()

    @on(TabbedContent.TabActivated)
    def tab_changed(self) -> None:
        self.call_after_refresh(self.active_view_update)  # once the new pane has its size
        self.query_one("#tab-losses", LossPanel).redraw(force=True)
        self.sync_bindings()

    # -- training worker ---------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="model", name="training")
    def run_training(self) -> None:
        from vae_tui.core.errors import VaeTuiError  # noqa: PLC0415
        from vae_tui.core.run import plan_run, user_error  # noqa: PLC0415

        run: TrainingRun | None = None
        try:
            plan = plan_run(self.request.overrides, self.request.resume)
            run = self.start_run(plan, self.control)  # torch loads here, off the UI
            self.tracker = run.tracker
            run.drive(after=[UiBridge(self.post_message)])
        except (VaeTuiError, OSError) as e:  # (TrainingRun.drive words its failures already)
            error = user_error(e, run.run_dir if run else self.request.get("run_dir"))
            self.post_message(Failed(str(error), error.exit_code, fatal=run is None or not run.started))

    @work(thread=True, exclusive=True, exit_on_error=False, group="model", name="open")
    def open_model(self) -> None:
        from vae_tui.core.errors import VaeTuiError  # noqa: PLC0415

        try:
            from vae_tui.core.data import load_split, resolve_dataset_dir  # noqa: PLC0415
            from vae_tui.core.metrics import read_history  # noqa: PLC0415
            from vae_tui.core.models_io import load_model  # noqa: PLC0415

            from .provenance import describe, final_results, history_seconds  # noqa: PLC0415

            loaded = load_model(self.request.checkpoint)
            dataset = self.request.get("dataset", loaded.config.dataset)
            folder = resolve_dataset_dir(dataset, self.request.get("data_dir"), splits=("test",))
            test = load_split(folder, "test", self.request.get("test_limit"))
            info = {
                "source": loaded.source,
                "epoch": loaded.epoch,
                "batch": loaded.batch,
                "dataset": dataset,
                "seed": loaded.config.seed,
            }
            c = loaded.config
            info["run_info"] = (
                ("run", describe(c))
                if loaded.source == "checkpoint"
                else ("model", f"latent {c.latent_dim} · hidden {c.hidden_dim}, read off the weights")
            )
            # A checkpoint inside a run folder brings its history: plot what it logged.
            if loaded.source == "checkpoint":
                run_dir = Path(self.request.checkpoint).parent
                if (run_dir / "config.json").is_file():
                    info["run_dir"] = str(run_dir)
                info["history"] = history = read_history(run_dir, loaded.step)
                info["seconds"] = history_seconds(history)
                info["final"] = final_results(run_dir, loaded.epoch) if not loaded.batch else None
            self.post_message(ModelOpened(loaded.model.state_dict(), test.images, test.labels, info))
        except VaeTuiError as e:
            self.post_message(Failed(str(e), e.exit_code, fatal=True))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}", title="Unexpected error", severity="error", timeout=30
            )
            self.status.message = f"error: {type(error).__name__}: {error}"
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.training_active = False
            self.epochs_over()
            self.refresh_bindings()
            if self.status.phase not in ("finished", "stopped"):
                self.status.phase = "stopped"
            self.stop_clock()
            self.refresh_status()
            if self.quitting is not None and self.lost_terminal:
                os._exit(self.quitting)  # saved and SwanLab finished; nothing left to draw on
            if self.quitting is not None:
                self.exit(return_code=self.quitting)

    # -- messages from the worker -----------------------------------------------------------
    def on_failed(self, message: Failed) -> None:
        if message.fatal:  # said by `closing_line` with print: Textual's exit message wraps at 80 columns
            self.fatal = message
            self.exit(return_code=message.exit_code)
            return
        if message.exit_code:
            self.failure = message
            self.status.message = message.text
            self.notify(message.text, title="Training stopped", severity="error", timeout=30)
        else:
            self.notify(message.text, severity="warning", timeout=10)
        self.refresh_status()

    def on_batches(self, message: Batches) -> None:
        batches = message.batches
        last = batches[-1]
        self.history.add_batches([b.step for b in batches], [b.loss for b in batches])
        s = self.status
        if s.train_started is None:
            s.train_started = time.monotonic()
        s.phase = "training"
        s.epoch, s.epochs, s.batch, s.batches, s.step, s.beta = (
            last.epoch, last.epochs, last.batch, last.batches, last.step, last.beta,
        )  # fmt: skip
        s.done_batches += len(batches)
        s.remaining_batches = (last.epochs - last.epoch) * last.batches + (last.batches - last.batch)
        now = time.monotonic()
        self._rate.append((now, last.step))
        self._rate = [(t, st) for t, st in self._rate if now - t <= 3.0]
        if len(self._rate) > 1 and not s.paused:
            (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
            if t1 > t0:
                s.images_per_second = (s1 - s0) * self.config.get("batch_size", 128) / (t1 - t0)

    def on_train_event(self, message: TrainEvent) -> None:
        from vae_tui.core import events as ev  # noqa: PLC0415 - torch is loaded once events flow

        e = message.event
        s = self.status
        if isinstance(e, ev.RunStarted):
            from vae_tui.core.config import TrainConfig, kl_weight  # noqa: PLC0415

            self.config = e.config
            self.test_images, self.test_labels = e.test_images, e.test_labels
            s.device, s.run_dir, s.swanlab = e.device, e.run_dir, e.config["swanlab"]
            s.epochs, s.batches, s.phase = e.config["epochs"], e.batches_per_epoch, "training"
            # Where it starts: a resumed run at its saved step, in the epoch after those done.
            s.epoch = min(e.start_epoch + 1, s.epochs)
            s.batch, s.step = e.start_batch, e.start_step
            s.beta = kl_weight(e.start_epoch, TrainConfig.from_dict(e.config))
            s.remaining_batches = (e.config["epochs"] - e.start_epoch) * e.batches_per_epoch - e.start_batch
            self.state.sample_seed = 0
            self.state.training = e.start_epoch < s.epochs
            self.sub_title = e.run_dir
        elif isinstance(e, ev.ModelSnapshot):
            self.set_model(e.state, e.epoch, e.batch, live=True)
        elif isinstance(e, ev.EpochEnd):
            row = e.metrics()
            self.history.add_epoch(row)
            s.last_epoch = row
            s.images_per_second = e.images_per_second
        elif isinstance(e, ev.CheckpointSaved):
            self.last_saved = e
            if e.reason == "request":
                where = f"epoch {e.epoch + 1}, batch {e.batch}" if e.batch else f"after epoch {e.epoch}"
                self.notify(f"Checkpoint saved ({where}): {e.path}", title="Saved")
            elif e.reason == "epoch" and e.epoch == s.epochs and self.config.get("iwae_k"):
                s.phase, s.iwae_k = "evaluating", self.config["iwae_k"]  # the last epoch is saved
                self.stop_clock()
                self.epochs_over()
        elif isinstance(e, ev.FinalEvaluation):
            s.final = e.results
        elif isinstance(e, ev.Paused):
            s.step, s.batch, s.epoch, s.beta = e.step, e.batch, e.epoch, e.beta  # exact while it waits
            self.paused_at_step = e.step
        elif isinstance(e, ev.RunFinished):
            s.eval_skipped = s.phase == "evaluating" and s.final is None
            s.phase = "finished" if e.status == "completed" else "stopped"
            self.stop_clock()
            self.epochs_over()
            if e.status == "completed":
                self.notify("Training finished; browse with the arrow keys, q to quit.", title="Done")
        self.refresh_status()

    def epochs_over(self) -> None:
        """No epoch will change the pictures any more: the captions stop saying they will."""
        if self.state.training:
            self.state.training = False
            for view in self.query(ImageView):
                view.stale = True
            self.active_view_update()

    @property
    def last_checkpoint(self) -> str | None:
        return self.last_saved.path if self.last_saved is not None else None

    def stop_clock(self) -> None:
        """Elapsed time is training time: it stops when training does, paused or not."""
        s, now = self.status, time.monotonic()
        if s.paused_at is not None:
            s.paused_total += now - s.paused_at
        s.paused, s.paused_at = False, None
        if s.ended_at is None:
            s.ended_at = now

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        """A resumed run's exact history (as of its checkpoint) replaces the first frame's."""
        from .provenance import history_seconds  # noqa: PLC0415

        self.history.clear()
        self.load_history(message.history)
        self.status.prior_seconds = history_seconds(message.history) + message.carried_seconds
        self.refresh_status()

    def load_history(self, history: Any) -> None:
        """Plot what a run logged before this session (a resumed run, a browsed checkpoint)."""
        self.history.add_batches(history.steps, history.losses)
        for row in history.epochs:
            self.history.add_epoch(row)
        if history.epochs:
            self.status.last_epoch = history.epochs[-1]

    def on_model_opened(self, message: ModelOpened) -> None:
        self.test_images, self.test_labels = message.images, message.labels
        info = message.info
        self.config = {"seed": info["seed"]}
        from .wording import trained_for  # noqa: PLC0415

        epochs = (
            trained_for(info["epoch"], info["batch"]) if info["epoch"] is not None else "reference state_dict"
        )
        self.status.run_dir = str(self.request.checkpoint)
        self.status.message = f"{epochs} · {info['dataset']} test set"
        self.status.device, self.status.swanlab, self.status.phase = "cpu", "not tracking", "browsing"
        self.status.run_info = info["run_info"]
        self.browsed_run = info.get("run_dir")
        self.status.final = info.get("final")
        self.sub_title = str(self.request.checkpoint)
        if "history" in info:
            self.load_history(info["history"])
            self.status.prior_seconds = info["seconds"]
        self.set_model(message.state, info["epoch"], info["batch"] or 0)
        self.apply_size(self.size.width, self.size.height)
        self.refresh_status()

    def set_model(self, state: dict[str, Any], epoch: int | None, batch: int = 0, live: bool = False) -> None:
        """Browse these weights: trained `epoch` epochs and `batch` batches of the next; `live`
        when they are the running model's, so a mid-epoch copy is the weights as they are now."""
        from vae_tui.core.tiles import TileDecoder, random_latents  # noqa: PLC0415

        decoder = TileDecoder(state, self.test_images, self.test_labels)
        if self.state.samples_z is None or self.state.samples_z.shape[1] != decoder.latent_dim:
            self.state.samples_z = random_latents(
                SAMPLE_COUNT, decoder.latent_dim, self.config.get("seed", 0) + 2
            )
        self.state.decoder = decoder
        if not self._gc_frozen:
            # Torch, Textual and the data are loaded now and live as long as the app. Without
            # this, every full GC pass walks all of them: a ~150 ms freeze, several a minute,
            # that a key press can land on (benchmarks/app_latency.py).
            gc.freeze()
            self._gc_frozen = True
        self.state.epoch, self.state.batch, self.state.live = epoch, batch, live
        self.state.dim = min(self.state.dim, decoder.latent_dim - 1)
        self.state.image = min(self.state.image, decoder.count - 1)
        for view in self.query(ImageView):
            view.stale = True
        self.active_view_update()

    # -- key actions -------------------------------------------------------------------------
    def action_browse(self, delta: int) -> None:
        """Select the next test image, or sample: on the traversal tab, whichever it is around."""
        s, e = self.state, self.state.decoder
        if e is None:
            return
        tab = self.query_one(TabbedContent).active
        if tab in ("recon", "samples"):
            s.base = "sample" if tab == "samples" else "image"
        if s.base == "sample":
            s.sample = (s.sample + delta) % SAMPLE_COUNT
            self.query_one(SamplesView).stale = True
        else:
            s.image = (s.image + delta) % e.count
            self.query_one(ReconstructionView).stale = True
        self.query_one(TraversalView).stale = True
        self.active_view_update()

    def action_dimension(self, delta: int) -> None:
        e = self.state.decoder
        if e is None:
            return
        tab = self.query_one(TabbedContent).active
        if tab in ("recon", "samples"):  # the traversal opens around what is selected there
            self.state.base = "sample" if tab == "samples" else "image"
        self.state.dim = (self.state.dim + delta) % e.latent_dim
        view = self.query_one(TraversalView)
        view.stale = True
        if self.query_one(TabbedContent).active != "traversal":
            self.action_show_tab("traversal")
        else:
            view.update_view()

    def action_toggle_base(self) -> None:
        self.state.zero_base = not self.state.zero_base
        self.query_one(TraversalView).update_view(force=True)
        self.sync_bindings()  # around z = 0, ←/→ have nothing to select

    def action_show_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        if tab == "losses" and (not self.screen.has_class("narrow") or self.screen.has_class("no-history")):
            return  # the loss plots are always on screen at this width (or there are none)
        tabs.active = tab

    def action_next_tab(self, step: int = 1) -> None:
        losses_tab = self.screen.has_class("narrow") and not self.screen.has_class("no-history")
        visible = [t for t in TAB_ORDER if t != "losses" or losses_tab]
        tabs = self.query_one(TabbedContent)
        current = visible.index(tabs.active) if tabs.active in visible else 0
        tabs.active = visible[(current + step) % len(visible)]

    def action_new_samples(self) -> None:
        from vae_tui.core.tiles import random_latents  # noqa: PLC0415

        e = self.state.decoder
        if e is None:
            return
        self.state.sample_seed += 1
        seed = self.config.get("seed", 0) + 2 + 1000 * self.state.sample_seed
        self.state.samples_z = random_latents(SAMPLE_COUNT, e.latent_dim, seed)
        self.query_one(TraversalView).stale = True  # it may be around a sample
        if self.query_one(TabbedContent).active != "samples":
            self.action_show_tab("samples")
        self.query_one(SamplesView).update_view(force=True)

    @property
    def training_keys_act(self) -> bool:
        """Pause, save and redraw act on the training loop: only while it trains. Not while the
        final bound is computed (space there turned the status to PAUSED and lost the clock, and
        s saved nothing), nor once the run has ended or is stopping, nor when browsing."""
        return self.training_active and self.quitting is None and self.status.phase != "evaluating"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer a key only where it acts: the Footer hides the others, and they do nothing."""
        if action in ("pause", "resume"):
            return self.training_keys_act and self.control.paused == (action == "resume")
        if action in ("save", "refresh_model"):
            return self.training_keys_act
        if action not in ("browse", "dimension", "toggle_base", "new_samples"):
            return True
        if self.state.decoder is None:
            return False  # nothing to browse before the model is there
        try:
            tab = self.query_one(TabbedContent).active
        except NoMatches:
            return False
        if action == "browse":  # the losses tab shows no image; nor does a traversal around z = 0
            return tab in ("recon", "samples") or (tab == "traversal" and not self.state.zero_base)
        if action == "toggle_base":  # it changes only the traversal
            return tab == "traversal"
        return True  # ↑↓ and n open their tab

    def sync_bindings(self) -> None:
        """Have the Footer re-ask `check_action` when something it depends on has changed (not
        at every status tick: the Footer rebuilds itself each time it is asked)."""
        with contextlib.suppress(NoMatches):
            key = (
                self.training_keys_act,
                self.control.paused,
                self.state.decoder is not None,
                self.state.zero_base,
                self.query_one(TabbedContent).active,
            )
            if key != self._bindings_key:
                self._bindings_key = key
                self.refresh_bindings()

    def action_pause(self) -> None:
        if not self.training_keys_act or self.control.paused:
            return
        s = self.status
        self.control.pause()
        s.paused, s.paused_at = True, time.monotonic()
        self._rate.clear()
        self.refresh_status()

    def action_resume(self) -> None:
        if not self.training_keys_act or not self.control.paused:
            return
        s = self.status
        self.paused_at_step = None
        self.control.resume()
        if s.paused_at is not None:
            s.paused_total += time.monotonic() - s.paused_at
        s.paused, s.paused_at = False, None
        self._rate.clear()
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

    # -- the command palette ----------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Run details", "Run folder, checkpoint, SwanLab run id and log folder", self.action_run_details
        )

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
                lines.append(f"Upload: swanlab login (once), then {command}")
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

    def terminal_lost(self) -> None:
        """SIGHUP: the terminal is gone (SSH dropped, tmux killed). Stop, save, finish SwanLab and
        leave without Textual's shutdown, which would block forever writing to the lost terminal."""
        self.lost_terminal = True
        guard = threading.Timer(TERMINAL_LOST_GRACE, os._exit, (129,))
        guard.daemon = True
        guard.start()  # whatever happens, the process does not outlive its terminal for long
        if not self.training_active:
            os._exit(129)
        self.quitting = 129
        self.control.request_stop()

    async def action_quit(self) -> None:
        """ctrl+q and the command palette's Quit: the same clean stop as q, not an abrupt exit
        that leaves the trainer to save after the screen (and its closing line) has gone."""
        self.action_quit_clean(0)

    def action_quit_clean(self, code: int = 0) -> None:
        """Stop between batches, save, finish SwanLab, then exit; a second press exits at once."""
        if self.quitting is not None or not self.training_active:
            self.exit(return_code=code if self.quitting is None else self.quitting)
            return
        self.quitting = code
        self.control.request_stop()
        self.status.message = "stopping: saving a checkpoint and closing the SwanLab run… (q again: quit now)"
        self.refresh_status()


def make_app(
    request: Request, *, driver_class: type[Driver] | None = None, graphics: Graphics = HALFBLOCK
) -> VaeApp:
    """The app for `request`: what the CLI runs, and what the tests, the snapshots and the
    benchmark drive (they keep Textual's own driver, e.g. the headless one of `run_test`)."""
    return VaeApp(request, driver_class=driver_class, graphics=graphics)


def run_app(request: Request) -> int:
    graphics = resolve(request.graphics or "halfblock")  # queries the terminal: before the App
    app = make_app(request, driver_class=terminal_driver(), graphics=graphics)
    logger = logging.getLogger("vae_tui")
    handler = Notice(app)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        code = app.run()
    finally:
        logger.removeHandler(handler)
        app.control.request_stop()  # if anything still runs, it stops within a batch and saves
    line, exit_code = closing_line(app, code or 0)
    if line:
        print(line, file=sys.stderr)
    return exit_code


def closing_line(app: VaeApp, code: int = 0) -> tuple[str | None, int]:
    """What the shell sees once the screen is gone: where the run is and how to go on (or the
    error training stopped on), and the exit code."""
    exit_code = app.return_code if app.return_code is not None else code
    if app.fatal is not None:
        return f"vae-tui: error: {app.fatal.text}", app.fatal.exit_code
    if app.failure is not None and not exit_code:
        return f"vae-tui: error: {app.failure.text}", app.failure.exit_code
    if not (app.status.run_dir and not app.browse_only and app.last_checkpoint):
        return None, exit_code
    line = f"vae-tui: run in {app.status.run_dir} (checkpoint {app.last_checkpoint})"
    saved = app.last_saved
    if app.status.phase != "finished" and saved is not None and saved.epoch < app.status.epochs:
        at = (
            f"epoch {saved.epoch + 1}, batch {saved.batch}"
            if saved.batch
            else f"the end of epoch {saved.epoch}"
        )
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
            f"to upload it: swanlab login (once), then {command}"
        )
    return f"\nvae-tui: SwanLab {tracker.active_mode} run {tracker.run_id}"
