"""What the app shows of a run, and what each of the workers' messages changes in it.

`RunDisplay` is the app's base: the run's state (status, loss history, the selection, how it
ended), the main screen (laid out by `layout.py`), the 2 Hz redraw, and one handler per worker
message (`messages.py`): Textual looks a handler up on the class of the node posted to (the
app), so they are App methods, apart from `VaeApp`'s start-up, keys and exit (`app.py`).
"""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, ComposeResult
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.screen import Screen

from vae_tui.core.classes import class_names
from vae_tui.core.control import TrainControl

from .browse import BrowseState
from .graphics import HALFBLOCK, Graphics
from .layout import compose_main
from .messages import (
    Batches,
    CheckpointWritten,
    CoreWarning,
    EpochFinished,
    Failed,
    FinalScores,
    HistoryLoaded,
    ModelOpened,
    TrainingEnded,
    TrainingPaused,
    TrainingStarted,
    WeightsUpdated,
)
from .no_color import keep_no_color_working
from .request import Request
from .run_status import RunStatus
from .screen import MainScreen
from .shutdown import ExitPolicy
from .widgets.losses import LossHistory, LossPanel
from .widgets.status import StatusPanel
from .wording import mid_epoch

if TYPE_CHECKING:
    from vae_tui.core.events import CheckpointSaved
    from vae_tui.core.metrics import History

REDRAW_HZ = 2  # loss plots and status; the issue allows 2–4 Hz, and each redraw costs the trainer


class RunDisplay(App[int]):
    """The run's state and its display; `VaeApp` starts the worker that feeds it."""

    main: MainScreen

    def __init__(
        self, request: Request, driver_class: type[Driver] | None = None, graphics: Graphics = HALFBLOCK
    ) -> None:
        super().__init__(driver_class=driver_class)
        keep_no_color_working(self)
        self.request = request
        self.graphics = graphics
        """How images are drawn; chosen by `graphics.resolve` before the App starts."""
        self.browse_only = request.browsing
        self.control = TrainControl()
        self.history = LossHistory()
        self.state = BrowseState()
        self.status = RunStatus(mode="browse" if self.browse_only else "train")
        self.exits = ExitPolicy(self, self.control, lambda: self.training_active)
        self.test_images: Any = None
        self.test_labels: Any = None
        self.config: dict[str, Any] = {}
        self.training_active = False
        self.paused_at_step: int | None = None
        """The step training is paused at, once the loop has confirmed it."""
        self._gc_frozen = False
        self.last_saved: CheckpointSaved | None = None
        """The last CheckpointSaved event: where a resume would start."""
        self.fatal: Failed | None = None
        """An error that closed the app at start-up (bad data, a held run folder): one line at exit."""
        self.failure: Failed | None = None
        """Training stopped on an error (NaN, full disk): the app stays to browse; said at exit."""
        self.tracker: Any = None
        self.browsed_run: str | None = None
        """`--checkpoint` of a run's checkpoint: that run's folder."""
        self._bindings_key: tuple[Any, ...] = ()
        self.warmer: Any = None
        """`core.tiles.Warmer` (torch), once there are weights to show."""
        self.epoch_usage: dict[int, dict[str, Any]] = {}
        """The last epoch end's held-out latent usage, by epoch: its weights' views need no pass."""

    # -- the screen, its size and the 2 Hz redraw --------------------------------------------
    def get_default_screen(self) -> Screen:
        self.main = MainScreen(self, id="_default")
        return self.main

    def compose(self) -> ComposeResult:
        # Into the default screen, so that it is all there when `on_mount` runs.
        yield from compose_main(self)

    def on_resize(self, event: events.Resize) -> None:
        if self.graphics.kind == "sixel" and self._driver is not None and not self.is_headless:
            # Sixel pictures stay on a terminal's screen until erased, and one left past a
            # shrunk window's new bottom scrolled everything up a line (xterm): erase them all.
            self._driver.write("\x1b[2J")
            self.screen.refresh(repaint=True)
        self.apply_size(event.size.width, event.size.height)

    def apply_size(self, width: int, height: int) -> None:
        no_history = self.browse_only and not (self.history.epochs or len(self.history.steps))
        self.main.fit(width, height, no_history)

    def tick(self) -> None:
        if not self.is_running:
            return
        with contextlib.suppress(NoMatches):  # the timer can fire once more while the app closes
            for panel in self.main.query(LossPanel):
                panel.redraw()
            self.freeze_survivors()
            tracker = self.tracker
            if tracker is not None and tracker.active_mode:  # SwanLab starts on its own thread
                self.status.swanlab = tracker.active_mode
                self.status.swanlab_id = tracker.run_id or ""
            self.refresh_status()

    def refresh_status(self) -> None:
        self.main.query_one(StatusPanel).show(self.status)
        self.sync_bindings()

    def sync_bindings(self) -> None:
        """The Footer re-asks `check_action` only on a change (it rebuilds itself when asked)."""
        with contextlib.suppress(NoMatches):
            key = (self.training_keys_act, self.control.paused, self.main.browse_keys_offered())
            if key != self._bindings_key:
                self._bindings_key = key
                self.refresh_bindings()

    # -- the workers' messages, one handler each ---------------------------------------------
    def on_failed(self, message: Failed) -> None:
        if message.fatal:  # said by `closing_line` with print: Textual's exit message wraps at 80 columns
            self.fatal = message
            self.exit(return_code=message.exit_code)
            return
        self.failure = message
        self.status.message = message.text
        self.notify(message.text, title="Training stopped", severity="error", timeout=30)
        self.refresh_status()

    def on_core_warning(self, message: CoreWarning) -> None:
        self.notify(message.text, severity="warning", timeout=10)

    def on_batches(self, message: Batches) -> None:
        batches = message.batches
        self.history.add_batches([b.step for b in batches], [b.loss for b in batches])
        self.status.batches_done(batches)

    def on_training_started(self, message: TrainingStarted) -> None:
        from vae_tui.core.config import TrainConfig  # noqa: PLC0415
        from vae_tui.core.schedules import kl_weight  # noqa: PLC0415

        e = message.event
        self.config = e.config
        self.test_images, self.test_labels = e.test_images, e.test_labels
        last = min(e.start_epoch, e.config["epochs"] - 1)  # a finished run: its last epoch's β
        self.status.run_started(e, kl_weight(last, TrainConfig.from_dict(e.config)))
        self.state.seed, self.state.sample_seed = e.config.get("seed", 0), 0
        self.state.classes = class_names(e.config.get("dataset", "mnist"))
        self.state.training = e.start_epoch < self.status.epochs
        self.sub_title = e.run_dir
        self.refresh_status()

    def on_weights_updated(self, message: WeightsUpdated) -> None:
        e = message.event
        self.show_weights(e.state, e.epoch, e.batch, live=True)
        self.refresh_status()

    def on_epoch_finished(self, message: EpochFinished) -> None:
        row = message.event.metrics()
        if (usage := message.event.usage()) is not None:
            self.epoch_usage = {message.event.epoch: usage}  # for its weights, which come next
        self.history.add_epoch(row)
        self.status.last_epoch = row
        self.status.images_per_second = message.event.images_per_second
        self.refresh_status()

    def on_checkpoint_written(self, message: CheckpointWritten) -> None:
        e = self.last_saved = message.event
        if e.reason == "request":
            where = mid_epoch(e.epoch, e.batch) if e.batch else f"after epoch {e.epoch}"
            self.notify(f"Checkpoint saved ({where}): {e.path}", title="Saved")
        elif e.reason == "epoch" and e.epoch == self.status.epochs and self.config.get("iwae_k"):
            self.status.evaluating(self.config["iwae_k"])  # the last epoch is saved
            self.epochs_over()
        self.refresh_status()

    def on_final_scores(self, message: FinalScores) -> None:
        self.status.final = message.event.results
        self.refresh_status()

    def on_training_paused(self, message: TrainingPaused) -> None:
        self.status.paused_where(message.event)
        self.paused_at_step = message.event.step
        self.refresh_status()

    def on_training_ended(self, message: TrainingEnded) -> None:
        self.status.run_finished(message.event)
        self.epochs_over()
        if message.event.status == "completed":
            self.notify("Training finished; browse with the arrow keys, q to quit.", title="Done")
        self.refresh_status()

    def on_history_loaded(self, message: HistoryLoaded) -> None:
        """A resumed run's exact history (as of its checkpoint) replaces the first frame's."""
        from vae_tui.core.runinfo import history_seconds  # noqa: PLC0415

        self.history.clear()
        self.load_history(message.history)
        self.status.prior_seconds = history_seconds(message.history) + message.carried_seconds
        self.refresh_status()

    def on_model_opened(self, message: ModelOpened) -> None:
        m = message.model
        self.test_images, self.test_labels = m.images, m.labels
        self.state.seed = m.seed
        self.state.classes = class_names(m.dataset)
        self.status.browsing(m, str(self.request.checkpoint))
        self.browsed_run = m.run_dir
        self.sub_title = str(self.request.checkpoint)
        if m.history is not None:
            self.load_history(m.history)
        self.show_weights(m.weights, m.epoch, m.batch or 0)
        self.apply_size(self.size.width, self.size.height)
        self.refresh_status()

    # -- what the handlers share -------------------------------------------------------------
    def load_history(self, history: History) -> None:
        """Plot what a run logged before this session (a resumed run, a browsed checkpoint)."""
        self.history.add_batches(history.steps, history.losses)
        for row in history.epochs:
            self.history.add_epoch(row)
        if history.epochs:
            self.status.last_epoch = history.epochs[-1]

    def show_weights(
        self, weights: dict[str, Any], epoch: int | None, batch: int = 0, live: bool = False
    ) -> None:
        """Browse these weights: trained `epoch` epochs and `batch` batches of the next; `live`
        when they are the running model's, so a mid-epoch copy is the weights as they are now."""
        from vae_tui.core.threads import serial_on_this_thread  # noqa: PLC0415
        from vae_tui.core.tiles import TileDecoder, Warmer  # noqa: PLC0415

        serial_on_this_thread()  # before this thread's first op (cheap to repeat)
        decoder = TileDecoder(weights, self.test_images, self.test_labels)
        if not batch and epoch is not None and (usage := self.epoch_usage.get(epoch)) is not None:
            decoder.know_usage(usage)  # the epoch-end weights the held-out pass just measured
        if not live:  # (while training, a third busy thread stalls both of torch's)
            if self.warmer is None:
                self.warmer = Warmer()
            self.warmer.warm(decoder)
        self.state.show(decoder, epoch, batch, live)
        if not self._gc_frozen:
            # Torch, Textual and the data are loaded now and live as long as the app. Without
            # this, every full GC pass walks all of them: a ~150 ms freeze, several a minute,
            # that a key press can land on (benchmarks/app_latency.py).
            gc.freeze()
            self._gc_frozen = True
        self.main.views_changed()

    def freeze_survivors(self) -> None:
        """What survived the young generations since the last tick joins the frozen objects, so
        no full collection has much to walk: redraws leave ~2,000 long-lived objects a second
        (Rich segments, Textual's strip caches), and the full collection they caused every
        1–1.5 s held the UI thread 86–147 ms (benchmarks/app_latency.py). The price: a cycle that
        becomes garbage only after it was frozen (a closed toast) is never collected."""
        if self._gc_frozen:
            gc.collect(1)
            gc.freeze()

    def epochs_over(self) -> None:
        """No epoch will change the pictures any more: the captions stop saying they will."""
        if self.state.training:
            self.state.training = False
            self.main.views_changed()

    @property
    def last_checkpoint(self) -> str | None:
        return self.last_saved.path if self.last_saved is not None else None

    @property
    def training_keys_act(self) -> bool:
        """Pause, save and redraw act on the training loop: only while it trains. Not while the
        final bound is computed (space there turned the status to PAUSED and lost the clock, and
        s saved nothing), nor once the run has ended or is stopping, nor when browsing."""
        return self.training_active and self.exits.quitting is None and self.status.phase != "evaluating"
