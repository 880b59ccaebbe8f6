"""Snapshots of the interpolation and latent health views at 80×24 and 160×48, from the fixed
tiny model (no training: stable)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from vae_tui.tui.app import make_app
from vae_tui.tui.cli import parse_request

from .test_explore import tab_key, with_a_collapsed_dimension
from .test_snapshots import REPO, browse_app, model_shown


@pytest.fixture(autouse=True)
def at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the model's relative path is shown on screen


def test_interp_80x24(snap_compare) -> None:
    """Unmarked: the selected image and the next, both paths in two rows."""

    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("right", tab_key("interp"))

    assert snap_compare(browse_app(), terminal_size=(80, 24), run_before=run_before)


def test_interp_160x48(snap_compare) -> None:
    """A and B marked in the reconstructions (a 7 and a 0), slerp framed."""

    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("a", "right", "right", "right", "b", tab_key("interp"), "l")

    assert snap_compare(browse_app(), terminal_size=(160, 48), run_before=run_before)


def test_latents_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press(tab_key("latents"), "down")

    assert snap_compare(browse_app(), terminal_size=(80, 24), run_before=run_before)


def test_latents_160x48(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press(tab_key("latents"))

    assert snap_compare(browse_app(), terminal_size=(160, 48), run_before=run_before)


def test_latents_with_a_collapsed_dimension_80x24(
    snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixed model with z3 cut off from the input (`with_a_collapsed_dimension`): its row
    greyed out, last, and labelled."""
    monkeypatch.chdir(tmp_path)
    with_a_collapsed_dimension(tmp_path / "collapsed-z3.pt")
    app = make_app(parse_request(["--checkpoint", "collapsed-z3.pt", "--test-limit", "200"]))

    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press(tab_key("latents"))

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
