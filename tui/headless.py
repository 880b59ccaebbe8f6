"""`vae-tui --train-only`: the event stream printed as the reference prints it.

With a terminal on stdout a rich progress bar runs within each epoch; without one (a pipe,
nohup, `ssh -T`, CI) only plain lines are written, with no control codes. Ctrl-C or SIGTERM
stops between batches and saves; a second Ctrl-C quits at once (the last checkpoint stays valid).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import Any, TextIO

from vae_tui.core.events import (
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    Event,
    FinalEvaluation,
    RunFinished,
    RunStarted,
)

from .launch import log_warnings_to_stderr, plan_run


def summary_lines(e: EpochEnd) -> list[str]:
    """The reference's epoch summary, to the character."""
    return [
        f"--- Epoch [{e.epoch}/{e.epochs}] Summary ---",
        f"Avg Loss: {e.loss:.4f}, Avg BCE: {e.bce:.4f}, Avg KLD: {e.kld:.4f}",
    ]


def heldout_line(e: EpochEnd) -> str:
    return (
        f"Held-out Loss: {e.test_loss:.4f} ± {e.test_loss_stderr:.4f}, BCE: {e.test_bce:.4f}, "
        f"KLD: {e.test_kld:.4f} (beta {e.beta:.2f}, {e.seconds:.1f} s, {e.images_per_second:,.0f} img/s)"
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
                    self.task = self.progress.add_task("", total=event.batches, loss=event.loss)
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
            else:
                where = (
                    f"epoch {event.epoch + 1}, batch {event.batch}" if event.batch else f"epoch {event.epoch}"
                )
                self.say(f"Checkpoint saved ({event.reason}) at {where}: {event.path}")
        elif isinstance(event, RunStarted):
            c = event.config
            resumed = f", resuming after epoch {event.start_epoch}" if event.start_step else ""
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
                f"{verb} after {event.epochs_completed} epochs, {event.step} steps, {event.seconds:.1f} s."
            )

    def _stop_bar(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def close(self, state: str) -> None:
        self._stop_bar()


class StopOnSignals:
    """First SIGINT/SIGTERM: ask the loop to stop and save. Second SIGINT: quit at once."""

    def __init__(self, control: Any, err: TextIO) -> None:
        self.control = control
        self.err = err
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum
        name = signal.Signals(signum).name
        print(f"vae-tui: {name}: stopping after this batch and saving (Ctrl-C again to quit now)",
              file=self.err, flush=True)  # fmt: skip
        self.control.request_stop()

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def exit_code(self) -> int:
        return 128 + self.received if self.received else 0


def run_headless(args: argparse.Namespace) -> int:
    config, resume = plan_run(args)
    log_warnings_to_stderr()
    from vae_tui.core.consumers import drive  # noqa: PLC0415 - torch loads from here on
    from vae_tui.core.session import standard_consumers  # noqa: PLC0415
    from vae_tui.core.train import TrainControl, train  # noqa: PLC0415

    control = TrainControl()
    printer = HeadlessPrinter(sys.stdout, progress=sys.stdout.isatty())
    with StopOnSignals(control, sys.stderr) as signals:
        try:
            drive(train(config, control, resume=resume), [*standard_consumers(config), printer])
        except KeyboardInterrupt:
            print("vae-tui: interrupted; the last complete checkpoint is kept", file=sys.stderr)
            return 130
    return signals.exit_code
