"""One training run, whichever front end watches it: plan, consumers, threads, drive, outcome.

`--train-only`'s printer, the app's training worker and the benchmark all go through
`TrainingRun`, so a run writes the same files, picks its threads the same way and reports a
failure in the same words whoever started it. Importing this module loads no torch: a front end
can plan (and refuse) a run, and install its signal handlers, before torch's seconds of imports.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoint import FILE_NAME as CHECKPOINT_FILE
from .checkpoint import RunCheckpoint, saved_position
from .config import TrainConfig
from .control import TrainControl
from .errors import TrainingDiverged, VaeTuiError
from .events import Event, RunFinished, RunStarted
from .runlock import refuse_if_trained

if TYPE_CHECKING:
    from .consumers import Consumer
    from .tracking import SwanLabTracker


@dataclass(frozen=True)
class RunPlan:
    """What to train: a checked config and, for a resume, the checked checkpoint it goes on from."""

    config: TrainConfig
    resume: RunCheckpoint | None = None


def plan_run(overrides: Mapping[str, Any], resume_dir: str | None = None) -> RunPlan:
    """A new run: the defaults with `overrides` applied (no run_dir: training claims a fresh
    folder, known from its RunStarted). A resume: the saved run in `resume_dir`, checked.

    A folder another process is training is refused here, before torch loads; the lock that
    training takes is what guarantees it (a run may start between this look and that)."""
    if resume_dir:
        refuse_if_trained(resume_dir, resuming=True)
        from .resume import load_resume  # noqa: PLC0415 - imports torch

        return RunPlan(*load_resume(resume_dir, dict(overrides)))
    config = TrainConfig(**overrides)
    if config.run_dir:
        refuse_if_trained(config.run_dir, resuming=False)
    return RunPlan(config)


def finished_run_note(overrides: Mapping[str, Any], resume_dir: str) -> str | None:
    """For a resume: the line saying the run has trained all its epochs (and how to go on), or
    None. A run that does not look finished is known to have work left without loading torch; one
    that does is checked as a resume would be, so a damaged or refused one still gets its error."""
    from .runinfo import completion_note  # noqa: PLC0415

    epochs, iwae_k = overrides.get("epochs"), overrides.get("iwae_k")
    position = saved_position(Path(resume_dir) / CHECKPOINT_FILE)
    if position is None or completion_note(resume_dir, position, epochs, iwae_k) is None:
        return None
    plan = plan_run(overrides, resume_dir)
    if plan.resume is None:
        return None
    return completion_note(resume_dir, plan.resume, plan.config.epochs, plan.config.iwae_k)


def standard_consumers(config: TrainConfig) -> list[Consumer]:
    """Writers for the run folder, in the order they should see each event."""
    from .grids import GridWriter  # noqa: PLC0415 - torch
    from .metrics import MetricsWriter  # noqa: PLC0415
    from .tracking import SwanLabTracker  # noqa: PLC0415

    return [MetricsWriter(), GridWriter(), SwanLabTracker(config.swanlab)]


class TrainingRun:
    """A planned run wired to the standard consumers, ready to be driven once.

    Torch trains on every core no other process keeps busy (`threads.training_threads`);
    `threads` fixes the count instead."""

    def __init__(
        self,
        plan: RunPlan,
        control: TrainControl | None = None,
        *,
        threads: int | None = None,
    ) -> None:
        from .request_server import RequestServer  # noqa: PLC0415
        from .swanlab_load import preload  # noqa: PLC0415
        from .threads import BusyCores, training_threads  # noqa: PLC0415
        from .tracking import SwanLabTracker  # noqa: PLC0415

        if plan.config.swanlab != "disabled":
            preload()  # before `standard_consumers` imports torch: not during the first epoch
        busy = BusyCores() if threads is None else None  # its 0.25 s look, also while torch imports
        self.plan = plan
        self.control = control or TrainControl()
        # Every run answers watchers' requests (core/requests.py) from its first event on.
        self.consumers = [*standard_consumers(plan.config), RequestServer(self.control)]
        self.tracker: SwanLabTracker | None = next(
            (c for c in self.consumers if isinstance(c, SwanLabTracker)), None
        )
        self.threads = threads if threads is not None else training_threads(busy)
        if self.tracker is not None and busy is not None:
            self.tracker.cores_were_free = busy.result() == 0
        self.run_dir = plan.config.run_dir
        """The run folder: a new run's default one is claimed as training starts."""
        self.started = False
        """Whether the loop has yielded anything (an error before that closes the app)."""

    def events(self) -> Iterator[Event]:
        from .train import train  # noqa: PLC0415

        for event in train(self.plan.config, self.control, resume=self.plan.resume, threads=self.threads):
            self.started = True
            if isinstance(event, RunStarted):
                self.run_dir = event.run_dir
            yield event

    def drive(self, before: Sequence[Consumer] = (), after: Sequence[Consumer] = ()) -> RunFinished | None:
        """Train to the end, feeding `before`, the run's writers, then `after`, each event in turn;
        a failure comes back as the one line both front ends show, naming what is kept."""
        from .consumers import drive  # noqa: PLC0415

        try:
            return drive(self.events(), [*before, *self.consumers, *after])
        except (VaeTuiError, OSError) as e:
            raise user_error(e, self.run_dir) from None


def checkpoint_note(run_dir: str | None) -> str:
    """What a stopped run leaves to go on from, for the end of its one-line message."""
    path = Path(run_dir) / CHECKPOINT_FILE if run_dir else None
    if path is not None and path.is_file():
        return f"the last complete checkpoint, {path}, is kept (continue with --resume {run_dir})"
    return "no checkpoint had been saved yet, so there is nothing to resume"


def user_error(e: VaeTuiError | OSError, run_dir: str | None) -> VaeTuiError:
    """A training failure as the one line both front ends show, naming what is kept."""
    from .errors import OutputClosed  # noqa: PLC0415
    from .metrics import MetricsError  # noqa: PLC0415

    note = checkpoint_note(run_dir)
    if isinstance(e, TrainingDiverged):
        if "nothing to resume" in note:  # the loop cannot tell whether one was saved before
            return TrainingDiverged(str(e).replace("the last good checkpoint is kept", note))
        return e
    if isinstance(e, MetricsError):
        return MetricsError(f"{e}; {note}")
    if isinstance(e, VaeTuiError):
        return e
    if isinstance(e, BrokenPipeError):
        return OutputClosed(f"the output was closed (broken pipe), so training stopped; {note}")
    where = f" ({e.filename})" if e.filename else ""  # a full disk or a vanished folder mid-run
    return VaeTuiError(f"cannot write the run{where}: {e.strerror or e}; {note}")
