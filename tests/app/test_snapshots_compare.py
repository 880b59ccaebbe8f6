"""Snapshots of `--compare` (tests/app/test_snapshots.py's pattern) from two stored runs, so the
picture is the same on every machine: the run from before this issue (latent 2, linear β) and
one written by this issue's trainer (latent 4, warmup β), both 3 epochs."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from vae_tui.tui.cli import parse_request
from vae_tui.tui.compare_app import CompareApp, make_compare_app

from .test_snapshots import REPO

RUNS = ["tests/data/run-issue13", "tests/data/run-warmup14"]


@pytest.fixture(autouse=True)
def at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def compare_app() -> CompareApp:
    return make_compare_app(parse_request(["--compare", *RUNS]))


def test_compare_80x24(snap_compare) -> None:
    """One part at a time: the held-out −ELBO of both runs, the cursor at epoch 2."""

    async def run_before(pilot: Pilot) -> None:
        await pilot.pause(0.2)
        await pilot.press("left_square_bracket")
        await pilot.pause(0.2)

    assert snap_compare(compare_app(), terminal_size=(80, 24), run_before=run_before)


def test_compare_samples_80x24(snap_compare) -> None:
    """The samples part: both runs' first epoch side by side, 2× smaller."""

    async def run_before(pilot: Pilot) -> None:
        await pilot.pause(0.2)
        await pilot.press("home", "tab", "tab")
        await pilot.pause(0.2)

    assert snap_compare(compare_app(), terminal_size=(80, 24), run_before=run_before)


def test_compare_160x48(snap_compare) -> None:
    """Everything at once: the four curves, the table, the samples at epoch 2."""

    async def run_before(pilot: Pilot) -> None:
        await pilot.pause(0.2)
        await pilot.press("left_square_bracket")
        await pilot.pause(0.2)

    assert snap_compare(compare_app(), terminal_size=(160, 48), run_before=run_before)
