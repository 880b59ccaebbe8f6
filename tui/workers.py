"""The app's two jobs, run in thread workers: train (the one run wiring, plus the UI bridge), or
open a saved model to browse. Torch is imported here, off the UI thread, so the first frame
never waits for it.

A worker never touches a widget: it reports through `post` (the app's `post_message`), which
only enqueues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from vae_tui.core.control import TrainControl

from .messages import Failed, ModelOpened, OpenedModel, UiBridge
from .request import Request

if TYPE_CHECKING:
    from vae_tui.core.run import RunPlan, TrainingRun
    from vae_tui.core.tracking import SwanLabTracker

StartRun = Callable[["RunPlan", TrainControl], "TrainingRun"]
"""Wires a planned run for the training worker: the real one, or a test's event stream."""
Post = Callable[[Message], Any]


def start_training_run(plan: RunPlan, control: TrainControl) -> TrainingRun:
    """The real run (on every free core: the UI thread keeps off torch's, `serial_on_this_thread`)."""
    from vae_tui.core.run import TrainingRun  # noqa: PLC0415 - torch

    return TrainingRun(plan, control)


def train(
    request: Request,
    control: TrainControl,
    start_run: StartRun,
    post: Post,
    tracked: Callable[[SwanLabTracker | None], None],
) -> None:
    """Plan, start and drive the run; `tracked` learns its SwanLab tracker once it exists.
    A failure is posted as `Failed`: fatal when training never started (nothing to show)."""
    from vae_tui.core.errors import VaeTuiError  # noqa: PLC0415
    from vae_tui.core.run import plan_run, user_error  # noqa: PLC0415

    run_dir = request.resume or request.config.run_dir
    try:
        plan = plan_run(request.overrides, request.resume)
        run_dir = plan.config.run_dir
        run = start_run(plan, control)  # torch loads here, off the UI
    except (VaeTuiError, OSError) as e:
        error = user_error(e, run_dir)
        post(Failed(str(error), error.exit_code, fatal=True))
        return
    tracked(run.tracker)
    try:
        run.drive(after=[UiBridge(post)])
    except VaeTuiError as e:  # worded by TrainingRun.drive already, naming what is kept
        post(Failed(str(e), e.exit_code, fatal=not run.started))


def open_model(request: Request, post: Post) -> None:
    """`--checkpoint`: the model, the test set to browse it with, and what its run folder says."""
    from vae_tui.core.errors import VaeTuiError  # noqa: PLC0415

    try:
        post(ModelOpened(read_model(request)))
    except VaeTuiError as e:
        post(Failed(str(e), e.exit_code, fatal=True))


def read_model(request: Request) -> OpenedModel:
    from vae_tui.core.checkpoint import load_model  # noqa: PLC0415
    from vae_tui.core.data import load_split, resolve_dataset_dir  # noqa: PLC0415
    from vae_tui.core.metrics import read_history  # noqa: PLC0415
    from vae_tui.core.runinfo import CONFIG_FILE, final_results, history_seconds  # noqa: PLC0415

    from .wording import describe  # noqa: PLC0415

    assert request.checkpoint is not None
    loaded = load_model(request.checkpoint)
    dataset = request.config.dataset if request.given("dataset") else loaded.config.dataset
    folder = resolve_dataset_dir(dataset, request.config.data_dir, splits=("test",))
    test = load_split(folder, "test", request.config.test_limit)
    c = loaded.config
    opened = OpenedModel(
        loaded.model.state_dict(), test.images, test.labels, loaded.epoch, loaded.batch, dataset, c.seed,
        ("run", describe(c)) if loaded.source == "checkpoint"
        else ("model", f"latent {c.latent_dim} · hidden {c.hidden_dim}, read off the weights"),
    )  # fmt: skip
    if loaded.source != "checkpoint":
        return opened
    # A checkpoint inside a run folder brings its history: plot what it logged.
    run_dir = Path(request.checkpoint).parent
    history = read_history(run_dir, loaded.step)
    return replace(
        opened,
        run_dir=str(run_dir) if (run_dir / CONFIG_FILE).is_file() else None,
        history=history,
        seconds=history_seconds(history),
        final=final_results(run_dir, loaded.epoch) if not loaded.batch else None,
    )
