"""Snapshots of the main screen at fixed sizes, from a fixed tiny model (no training: stable)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from vae_tui.tui.app import VaeApp, make_app
from vae_tui.tui.cli import parse_request

REPO = Path(__file__).resolve().parents[2]
MODEL = "tests/data/tiny-vae-state_dict.pt"  # relative: the path is shown on screen


def browse_app() -> VaeApp:
    return make_app(parse_request(["--checkpoint", MODEL, "--test-limit", "200"]))


async def model_shown(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, VaeApp)
    for _ in range(600):
        if app.state.decoder is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.1)


@pytest.fixture(autouse=True)
def at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_main_screen_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("right", "right")

    assert snap_compare(browse_app(), terminal_size=(80, 24), run_before=run_before)


def test_main_screen_160x48(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("right")

    assert snap_compare(browse_app(), terminal_size=(160, 48), run_before=run_before)


def test_traversal_160x48(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("down", "down", "down")

    assert snap_compare(browse_app(), terminal_size=(160, 48), run_before=run_before)


def test_samples_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("3", "right")

    assert snap_compare(browse_app(), terminal_size=(80, 24), run_before=run_before)
