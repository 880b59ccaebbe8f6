"""From parsed flags to what a front end runs: the config and, for --resume, the checkpoint."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vae_tui.core.config import TrainConfig
from vae_tui.core.runlock import refuse_if_trained

from .cli import config_overrides

if TYPE_CHECKING:
    from vae_tui.core.errors import VaeTuiError


def plan_run(args: argparse.Namespace) -> tuple[TrainConfig, dict[str, Any] | None]:
    """New run: the defaults with the flags applied (no --run-dir: training claims a fresh
    folder, known from its RunStarted). `--resume`: the saved run, checked.

    A folder another process is training is refused here, before torch loads; the lock that
    training takes is what guarantees it (a run may start between this look and that)."""
    overrides = config_overrides(args)
    if args.resume:
        refuse_if_trained(args.resume, resuming=True)
        from vae_tui.core.resume import load_resume  # noqa: PLC0415 - imports torch

        return load_resume(args.resume, overrides)
    config = TrainConfig(**overrides)
    if config.run_dir:
        refuse_if_trained(config.run_dir, resuming=False)
    return config, None


def finished_run_note(args: argparse.Namespace) -> str | None:
    """For `--resume`: the line saying the run has trained all its epochs (and how to go on), or
    None. A run that does not look finished is known to have work left without loading torch; one
    that does is checked as a resume would be, so a damaged or refused one still gets its error."""
    from vae_tui.core.runinfo import completion_note, saved_position  # noqa: PLC0415

    epochs, iwae_k = getattr(args, "epochs", None), getattr(args, "iwae_k", None)
    position = saved_position(Path(args.resume) / "checkpoint.pt")
    if position is None or completion_note(args.resume, position, epochs, iwae_k) is None:
        return None
    config, saved = plan_run(args)
    return completion_note(args.resume, saved, config.epochs, config.iwae_k) if saved is not None else None


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"vae-tui: {record.levelname.lower()}: {record.getMessage()}"


def log_warnings_to_stderr() -> None:
    """Core warnings (SwanLab trouble, fallbacks) as one line each on stderr."""
    logger = logging.getLogger("vae_tui")
    if not any(getattr(h, "vae_tui", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter())
        handler.vae_tui = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def checkpoint_note(run_dir: str | None) -> str:
    """What a stopped run leaves to go on from, for the end of its one-line message."""
    path = Path(run_dir) / "checkpoint.pt" if run_dir else None
    if path is not None and path.is_file():
        return f"the last complete checkpoint, {path}, is kept (continue with --resume {run_dir})"
    return "no checkpoint had been saved yet, so there is nothing to resume"


def user_error(e: VaeTuiError | OSError, run_dir: str | None) -> VaeTuiError:
    """A training failure as the one line both front ends show, naming what is kept."""
    from vae_tui.core.errors import OutputClosed, VaeTuiError  # noqa: PLC0415
    from vae_tui.core.metrics import MetricsError  # noqa: PLC0415
    from vae_tui.core.train import TrainingDiverged  # noqa: PLC0415

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


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 epoch`, `2 epochs`."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def trained_for(epoch: int | None, batch: int | None) -> str:
    """How far a saved model was trained: `6 epochs`, or `1 epoch + 312 batches` when it was
    saved mid-epoch (its weights are then newer than its last epoch's numbers)."""
    if epoch is None:
        return "training not recorded"
    if not batch:
        return counted(epoch, "epoch")
    batches = counted(batch, "batch", "batches")
    return f"{counted(epoch, 'epoch')} + {batches}" if epoch else batches
