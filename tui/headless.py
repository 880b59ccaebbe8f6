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

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, SimpleNamespace
from typing import Any, TextIO

from vae_tui.core.control import TrainControl
from vae_tui.core.events import (  # torch-free, like this module: the signal handlers go in first
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    Event,
    FinalEvaluation,
    RunFinished,
    RunStarted,
)

from .launch import checkpoint_note, counted, log_warnings_to_stderr, plan_run, user_error


def summary_lines(e: EpochEnd) -> list[str]:
    """The reference's epoch summary, to the character."""
    return [
        f"--- Epoch [{e.epoch}/{e.epochs}] Summary ---",
        f"Avg Loss: {e.loss:.4f}, Avg BCE: {e.bce:.4f}, Avg KLD: {e.kld:.4f}",
    ]


def heldout_line(e: EpochEnd) -> str:
    return (
        f"Held-out -ELBO (beta 1): {e.test_loss:.4f} ± {e.test_loss_stderr:.4f}, BCE: {e.test_bce:.4f}, "
        f"KLD: {e.test_kld:.4f} (trained at beta {e.beta:.2f}, {e.seconds:.1f} s, "
        f"{e.images_per_second:,.0f} img/s)"
    )


def final_line(results: dict[str, Any]) -> str:
    parts = [f"Final held-out: -ELBO {results['neg_elbo']:.4f} ± {results['neg_elbo_stderr']:.4f}"]
    if "iwae_nll" in results:
        parts.append(f"IWAE -log p(x) ≤ {results['iwae_nll']:.4f} (K={results['iwae_k']})")
    parts.append(f"active units {results['active_units']}/{len(results['kl_per_dim'])}")
    return ", ".join(parts)


class HeadlessPrinter:
    """Consumer that prints progress; `progress=True` adds a rich bar (terminals only)."""

    def __init__(self, out: TextIO, progress: bool) -> None:
        self.out = out
        self.progress: Any = None
        self.task: Any = None
        self.pending_heldout: str | None = None
        self.config: dict[str, Any] = {}
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
            for line in summary_lines(event):
                self.say(line)
            self.pending_heldout = heldout_line(event)
        elif isinstance(event, CheckpointSaved):
            if event.reason == "epoch":
                self.say(f"Model saved at epoch {event.epoch}.")
                if self.pending_heldout:
                    self.say(self.pending_heldout)
                    self.pending_heldout = None
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
            self.say(
                f"Training on {c['dataset']} ({event.train_size} train / {event.test_size} test images) "
                f"on {event.device}, {c['epochs']} epochs{resumed}; run dir {event.run_dir}; "
                f"SwanLab {c['swanlab']}"
            )
        elif isinstance(event, FinalEvaluation):
            self.say(final_line(event.results))
        elif isinstance(event, RunFinished):
            self._stop_bar()
            verb = "Finished" if event.status == "completed" else "Stopped"
            self.say(
                f"{verb} after {counted(event.epochs_completed, 'epoch')}, {counted(event.step, 'step')}, "
                f"{event.seconds:.1f} s."
            )

    def _stop_bar(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def close(self, state: str) -> None:
        self._stop_bar()


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


def run_headless(args: argparse.Namespace) -> int:
    """Train as the flags say, printing progress; the exit code (0, or 128 + signal)."""
    control = TrainControl()
    run = SimpleNamespace(dir=getattr(args, "resume", None))  # known once the flags are checked
    # Installed before anything heavy loads, so a signal during imports or data loading is
    # handled like any other: no traceback, the right exit code.
    with StopOnSignals(control, sys.stderr) as signals:
        try:
            return _train(args, control, signals, run)
        except KeyboardInterrupt:
            if signals.received is None:  # a KeyboardInterrupt not from our handler (e.g. in tests)
                signals.received = signal.SIGINT
            signals.say(f"interrupted; {checkpoint_note(run.dir)}")
            return signals.exit_code


def _train(
    args: argparse.Namespace, control: TrainControl, signals: StopOnSignals, run: SimpleNamespace
) -> int:
    config, resume = plan_run(args)
    run.dir = config.run_dir
    if control.stop_requested:  # before torch's seconds of imports, if it can be
        signals.say("stopped before training started; nothing was written")
        return signals.exit_code
    log_warnings_to_stderr()
    from vae_tui.core.consumers import drive  # noqa: PLC0415 - torch loads from here on
    from vae_tui.core.errors import VaeTuiError  # noqa: PLC0415
    from vae_tui.core.session import standard_consumers  # noqa: PLC0415
    from vae_tui.core.tracking import SwanLabTracker  # noqa: PLC0415
    from vae_tui.core.train import train, training_threads  # noqa: PLC0415

    if control.stop_requested:
        signals.say("stopped before training started; nothing was written")
        return signals.exit_code
    printer = HeadlessPrinter(sys.stdout, progress=sys.stdout.isatty())
    consumers = standard_consumers(config)
    signals.on_quit.extend(c.abandon for c in consumers if isinstance(c, SwanLabTracker))
    try:
        drive(
            train(
                config,
                control,
                resume=resume,
                threads=training_threads(busy_threads=int(config.swanlab != "disabled")),
            ),
            [signals, *consumers, printer],
        )
    except (VaeTuiError, OSError) as e:
        raise user_error(e, config.run_dir) from None
    finally:
        printer.close("")  # a quit can skip it in `drive` (idempotent): never leave a bar drawn
    return signals.exit_code
