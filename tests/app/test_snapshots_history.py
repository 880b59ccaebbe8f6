"""Snapshots of a past epoch (`[`), from the repository's run of before issue 14 (read only)."""

from __future__ import annotations

from textual.pilot import Pilot

from vae_tui.tui.app import VaeApp, make_app
from vae_tui.tui.cli import parse_request
from vae_tui.tui.widgets.losses import LossPanel

from .helpers import wait_for
from .test_snapshots import at_repo, model_shown  # noqa: F401 - at_repo: autouse, runs from the repository

OLD_RUN_CHECKPOINT = "tests/data/run-issue13/checkpoint.pt"  # relative: the path is shown on screen


def old_run_app() -> VaeApp:
    return make_app(parse_request(["--checkpoint", OLD_RUN_CHECKPOINT, "--test-limit", "200"]))


def test_past_epoch_reconstructions_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("left_square_bracket", "left_square_bracket")  # epoch 3 (the last), then 2
        await pilot.pause(0.2)

    assert snap_compare(old_run_app(), terminal_size=(80, 24), run_before=run_before)


def test_past_epoch_samples_160x48(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("3", "left_square_bracket", "left_square_bracket")  # the samples of epoch 2
        await pilot.pause(0.2)
        panel = pilot.app.query_one("#side-losses", LossPanel)
        await wait_for(pilot, lambda: panel.drawn[1] == panel.history.epoch_version)  # the plots' cursor

    assert snap_compare(old_run_app(), terminal_size=(160, 48), run_before=run_before)
