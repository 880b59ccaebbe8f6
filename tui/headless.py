"""`vae-tui --train-only`: the event stream printed as the reference prints it.

With a terminal on stdout a rich progress bar runs within each epoch; without one (a pipe,
nohup, `ssh -T`, CI) only plain lines are written, with no control codes.

Signals: the handlers are installed before torch is imported, so a Ctrl-C (SIGINT) or SIGTERM
at any moment is handled. The first one asks the loop to stop at the next batch boundary and
save a checkpoint of that exact position; SwanLab is finished as `aborted`, and the exit code
is 128 + the signal (130, 143). During start-up (flags, imports) it exits with that code and
writes nothing; during data loading the loop saves its starting position. A second one quits
at once, without waiting for SwanLab: the checkpoint on disk is whole (it is only ever replaced
atomically), the SwanLab log may lack its finish record. A third exits immediately.
Write failures (a full disk) and a diverging loss end the run with one line, not a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

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
from .wording import counted

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


class HeadlessPrinter:
    """Consumer that prints progress; `progress=True` adds a rich bar (terminals only)."""

    def __init__(self, out: TextIO, progress: bool, tracker: SwanLabTracker | None = None) -> None:
        self.out = out
        self.tracker = tracker
        """Asked where the SwanLab log is, once it has started (on its own thread)."""
        self.swanlab_said = False
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
            from rich.console import Console  # noqa: PLC0415
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )  # fmt: skip

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.2f}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(file=out), transient=True,
            )  # fmt: skip
            self.console = self.progress.console

    def say(self, line: str) -> None:
        if self.progress is not None:
            self.progress.console.print(line, highlight=False, markup=False, soft_wrap=True)
        else:
            print(line, file=self.out, flush=True)

    def handle(self, event: Event) -> None:
        if isinstance(event, BatchEnd):
            if self.progress is not None:
                if self.task is None:
                    self.progress.start()
                    self.task = self.progress.add_task(
                        f"Epoch {event.epoch}/{event.epochs}", total=event.batches, loss=event.loss
                    )
                self.progress.update(
                    self.task, completed=event.batch, loss=event.loss,
                    description=f"Epoch {event.epoch}/{event.epochs}",
                )  # fmt: skip
        elif isinstance(event, EpochEnd):
            self.session_seconds += event.seconds - self.carried
            self.carried = 0.0
            for line in summary_lines(event):
                self.say(line)
            self.pending_heldout = heldout_line(event)
        elif isinstance(event, CheckpointSaved):
            if event.reason == "epoch":
                self.say(f"Model saved at epoch {event.epoch}.")
                if self.pending_heldout:
                    self.say(self.pending_heldout)
                    self.pending_heldout = None
                self.say_swanlab()
                if event.epoch == self.config.get("epochs") and self.config.get("iwae_k"):
                    self.say(f"Computing the IWAE bound on -log p(x) (K={self.config['iwae_k']})…")
            else:
                where = (
                    f"epoch {event.epoch + 1}, batch {event.batch}" if event.batch else f"epoch {event.epoch}"
                )
                self.say(f"Checkpoint saved ({event.reason}) at {where}: {event.path}")
        elif isinstance(event, RunStarted):
            c = self.config = event.config
            resumed = ""
            if event.start_batch:  # stopped mid-epoch: it goes on inside that epoch
                resumed = f", resuming epoch {event.start_epoch + 1} at batch {event.start_batch + 1}"
            elif event.start_step:
                resumed = f", resuming after epoch {event.start_epoch}"
            self.resumed_in = event.run_dir if event.start_step else None
            self.carried = event.start_seconds
            self.say(
                f"Training on {c['dataset']} ({event.train_size} train / {event.test_size} test images) "
                f"on {event.device}, {c['epochs']} epochs{resumed}; run dir {event.run_dir}; "
                f"SwanLab {c['swanlab']}"
            )
        elif isinstance(event, FinalEvaluation):
            self.say(final_line(event.results))
        elif isinstance(event, EpochImages):
            self.images = event
        elif isinstance(event, RunFinished):
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
                    f"{line}{event.seconds:.1f} s; training time {seconds:.1f} s over the run's {epochs} "
                    f"{complete}epoch{'s' * (epochs != 1)}, {self.session_seconds:.1f} s of it in this session."
                )
            self.say_swanlab()

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
            self.say(f"To upload the SwanLab log: swanlab login (once), then {command}")


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

    run = TrainingRun(plan, control)  # torch loads from here on
    if control.stop_requested:
        signals.say("stopped before training started; nothing was written")
        return signals.exit_code
    printer = HeadlessPrinter(sys.stdout, progress=sys.stdout.isatty(), tracker=run.tracker)
    if run.tracker is not None:
        signals.on_quit.append(run.tracker.abandon)
    try:
        run.drive(before=[signals], after=[printer])
    finally:
        printer.close("")  # a quit can skip it in `drive` (idempotent): never leave a bar drawn
    return signals.exit_code
