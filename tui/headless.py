"""`vae-tui --train-only`: the event stream printed as the reference prints it.

With a terminal on stdout a rich progress bar runs within each epoch; without one (a pipe,
nohup, `ssh -T`, CI) only plain lines are written, with no control codes. `run_headless` installs
the signal policy (tui/signals.py: the first Ctrl-C or SIGTERM stops and saves, the exit code is
128 + the signal) before torch is imported, which is why this module is torch-free too.
Write failures (a full disk) and a diverging loss end the run with one line, not a traceback.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from vae_tui.core.control import TrainControl
from vae_tui.core.events import (  # torch-free, like this module: the signal handlers go in first
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    EpochImages,
    Event,
    FinalEvaluation,
    RunFinished,
    RunStarted,
)
from vae_tui.core.run import checkpoint_note, plan_run

from .logs import log_warnings_to_stderr
from .request import Request
from .signals import StopOnSignals
from .wording import counted, mid_epoch, upload_hint

if TYPE_CHECKING:
    from vae_tui.core.run import RunPlan
    from vae_tui.core.tracking import SwanLabTracker


def summary_lines(e: EpochEnd) -> list[str]:
    """The reference's epoch summary, to the character."""
    return [
        f"--- Epoch [{e.epoch}/{e.epochs}] Summary ---",
        f"Avg Loss: {e.loss:.4f}, Avg BCE: {e.bce:.4f}, Avg KLD: {e.kld:.4f}",
    ]


def heldout_line(e: EpochEnd) -> str:
    """Training and held-out -ELBO side by side, both at β = 1: the reference's Avg Loss weights
    the KLD by the epoch's β, so beside a held-out -ELBO it would mislead (a gap that is only β)."""
    return (
        f"-ELBO (beta 1): train {e.bce + e.kld:.4f}, held-out {e.test_loss:.4f} ± {e.test_loss_stderr:.4f} "
        f"(BCE {e.test_bce:.4f} + KLD {e.test_kld:.4f}); Avg Loss above is at beta {e.beta:.3g}; "
        f"{e.seconds:.1f} s, {e.images_per_second:,.0f} img/s"
    )


def final_line(results: dict[str, Any]) -> str:
    parts = [f"Final held-out: -ELBO {results['neg_elbo']:.4f} ± {results['neg_elbo_stderr']:.4f}"]
    if "iwae_nll" in results:
        parts.append(f"IWAE -log p(x) ≤ {results['iwae_nll']:.4f} (K={results['iwae_k']})")
    parts.append(f"active units {results['active_units']}/{len(results['kl_per_dim'])}")
    return ", ".join(parts)


def progress_bar(out: TextIO) -> Any:
    """The rich progress bar drawn within each epoch (rich is imported only for a terminal)."""
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.2f}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(file=out), transient=True,
    )  # fmt: skip


class HeadlessPrinter:
    """Consumer that prints progress; `progress=True` adds a rich bar (terminals only)."""

    def __init__(self, out: TextIO, progress: bool, tracker: SwanLabTracker | None = None) -> None:
        self.out = out
        self.tracker = tracker
        """Asked where the SwanLab log is, once it has started (on its own thread)."""
        self.swanlab_said = False
        self.run_dir = ""
        self.resumed_in: str | None = None
        """The run folder of a resumed run: its earlier sessions' time is in its metrics.jsonl."""
        self.session_seconds = 0.0
        """Time this process spent on the epochs it completed (as metrics.jsonl counts it)."""
        self.carried = 0.0
        """Time an earlier session spent on the epoch this one resumed inside."""
        self.progress: Any = None
        self.task: Any = None
        self.pending_heldout: str | None = None
        self.config: dict[str, Any] = {}
        self.console: Any = None
        """On a terminal: where the final grids are drawn when the run ends."""
        self.images: EpochImages | None = None
        if progress:
            self.progress = progress_bar(out)
            self.console = self.progress.console

    def say(self, line: str) -> None:
        if self.progress is not None:
            self.progress.console.print(line, highlight=False, markup=False, soft_wrap=True)
        else:
            print(line, file=self.out, flush=True)

    def handle(self, event: Event) -> None:
        handler = self.HANDLERS.get(type(event))
        if handler is not None:  # snapshots and pauses print nothing
            handler(self, event)

    def on_run_started(self, event: RunStarted) -> None:
        c = self.config = event.config
        resumed = ""
        if event.start_batch:  # stopped mid-epoch: it goes on inside that epoch
            resumed = f", resuming epoch {event.start_epoch + 1} at batch {event.start_batch + 1}"
        elif event.start_step:
            resumed = f", resuming after epoch {event.start_epoch}"
        self.resumed_in = event.run_dir if event.start_step else None
        self.run_dir = event.run_dir
        self.carried = event.start_seconds
        self.say(
            f"Training on {c['dataset']} ({event.train_size} train / {event.test_size} test images) "
            f"on {event.device}, {c['epochs']} epochs{resumed}; run dir {event.run_dir}; "
            f"SwanLab {c['swanlab']}"
        )

    def on_batch_end(self, event: BatchEnd) -> None:
        if self.progress is None:
            return
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(
                f"Epoch {event.epoch}/{event.epochs}", total=event.batches, loss=event.loss
            )
        self.progress.update(
            self.task, completed=event.batch, loss=event.loss,
            description=f"Epoch {event.epoch}/{event.epochs}",
        )  # fmt: skip

    def on_epoch_end(self, event: EpochEnd) -> None:
        self.session_seconds += event.seconds - self.carried
        self.carried = 0.0
        for line in summary_lines(event):
            self.say(line)
        self.pending_heldout = heldout_line(event)

    def on_epoch_images(self, event: EpochImages) -> None:
        self.images = event

    def on_checkpoint_saved(self, event: CheckpointSaved) -> None:
        if event.reason != "epoch":
            where = mid_epoch(event.epoch, event.batch) if event.batch else f"epoch {event.epoch}"
            self.say(f"Checkpoint saved ({event.reason}) at {where}: {event.path}")
            return
        self.say(f"Model saved at epoch {event.epoch}.")
        if self.pending_heldout:
            self.say(self.pending_heldout)
            self.pending_heldout = None
        self.say_swanlab()
        if event.epoch == self.config.get("epochs") and self.config.get("iwae_k"):
            self.say(f"Computing the IWAE bound on -log p(x) (K={self.config['iwae_k']})…")

    def on_final_evaluation(self, event: FinalEvaluation) -> None:
        self.say(final_line(event.results))

    def on_run_finished(self, event: RunFinished) -> None:
        self._stop_bar()
        verb = "Finished" if event.status == "completed" else "Stopped"
        line = f"{verb} after {counted(event.epochs_completed, 'epoch')}, {counted(event.step, 'step')}, "
        if self.resumed_in is None:
            self.say(f"{line}{event.seconds:.1f} s.")
        else:  # this process is only the last part of the run
            from vae_tui.core.metrics import training_time  # noqa: PLC0415

            epochs, seconds = training_time(self.resumed_in)
            complete = "" if event.status == "completed" else "complete "
            self.say(
                f"{line}{event.seconds:.1f} s; training time {seconds:.1f} s over the run's "
                f"{counted(epochs, complete + 'epoch')}, {self.session_seconds:.1f} s of it in this session."
            )
        if event.status != "completed" and self.run_dir:  # as the app's closing line says it
            self.say(f"Continue with: vae-tui --resume {self.run_dir}")
        self.say_swanlab()

    HANDLERS: ClassVar[dict[type, Callable[[Any, Any], None]]] = {
        RunStarted: on_run_started,
        BatchEnd: on_batch_end,
        EpochEnd: on_epoch_end,
        EpochImages: on_epoch_images,
        CheckpointSaved: on_checkpoint_saved,
        FinalEvaluation: on_final_evaluation,
        RunFinished: on_run_finished,
    }
    """The method that prints each kind of event."""

    def say_swanlab(self) -> None:
        """Once SwanLab has started: its run id and where its log is."""
        t = self.tracker
        if t is None or self.swanlab_said or not t.tracking or t.log_dir is None:
            return
        self.swanlab_said = True
        self.say(f"SwanLab {t.active_mode} run {t.run_id}: {t.log_dir}")

    def _stop_bar(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def close(self, state: str) -> None:
        self._stop_bar()
        if state == "success" and self.console is not None and self.images is not None:
            from .inline import print_final_grids  # noqa: PLC0415 - PIL and rich-pixels, terminals only

            images, self.images = self.images, None  # (close is called twice on some paths)
            print_final_grids(self.console, images.reconstructions, images.samples, f"epoch {images.epoch}")
        # After the tracker's own close (it comes first): the log is complete, and uploadable.
        if state in ("success", "aborted") and self.tracker and (command := self.tracker.sync_command()):
            self.say_swanlab()  # if it started too late to be said during the run
            self.tracker = None  # (close is called twice on some paths)
            self.say(f"To upload the SwanLab log: {upload_hint(command)}")


def run_headless(request: Request) -> int:
    """Train as the request says, printing progress; the exit code (0, or 128 + signal)."""
    control = TrainControl()
    run_dir = request.resume  # known once the flags are checked
    # Installed before anything heavy loads, so a signal during imports or data loading is
    # handled like any other: no traceback, the right exit code.
    with StopOnSignals(control, sys.stderr) as signals:
        try:
            log_warnings_to_stderr()  # before planning: a resume can warn (another --epochs changes β)
            plan = plan_run(request.overrides, request.resume)
            run_dir = plan.config.run_dir
            return _train(plan, control, signals)
        except KeyboardInterrupt:
            if signals.received is None:  # a KeyboardInterrupt not from our handler (e.g. in tests)
                signals.received = signal.SIGINT
            signals.say(f"interrupted; {checkpoint_note(signals.run_dir or run_dir)}")
            return signals.exit_code


def _train(plan: RunPlan, control: TrainControl, signals: StopOnSignals) -> int:
    if control.stop_requested:  # before torch's seconds of imports, if it can be
        signals.say("stopped before training started; nothing was written")
        return signals.exit_code
    from vae_tui.core.run import TrainingRun  # noqa: PLC0415

    # Built before torch loads: on a terminal its progress bar imports rich (~20 ms), which would
    # otherwise come between torch's import and the first batch.
    printer = HeadlessPrinter(sys.stdout, progress=sys.stdout.isatty())
    run = TrainingRun(plan, control)  # torch loads from here on
    if control.stop_requested:
        signals.say("stopped before training started; nothing was written")
        return signals.exit_code
    printer.tracker = run.tracker
    if run.tracker is not None:
        signals.on_quit.append(run.tracker.abandon)
    try:
        run.drive(before=[signals], after=[printer])
    finally:
        printer.close("")  # a quit can skip it in `drive` (idempotent): never leave a bar drawn
    return signals.exit_code
