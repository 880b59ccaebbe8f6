"""Snapshots of the latent map (the fixed tiny model: a PCA map of its 8-D codes, the cursor
moved a few steps) and of the decoded manifold (the 2-D model of tests/app/test_map.py), in
tests/app/test_snapshots.py's pattern."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from vae_tui.tui.app import VaeApp, make_app
from vae_tui.tui.cli import parse_request
from vae_tui.tui.widgets.latent_map import LatentMapView
from vae_tui.tui.widgets.manifold import ManifoldView

from .helpers import wait_for
from .test_snapshots import REPO, browse_app, model_shown

PLANE_MODEL = "tests/data/tiny-vae-2d-state_dict.pt"  # relative: the path is shown on screen


@pytest.fixture(autouse=True)
def at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def plane_app() -> VaeApp:
    return make_app(parse_request(["--checkpoint", PLANE_MODEL, "--test-limit", "200"]))


async def map_moved(pilot: Pilot) -> None:
    """Open the map, wait for its fit (a worker's), move the cursor right 2 and up 1."""
    await model_shown(pilot)
    await pilot.press("6")
    view = pilot.app.query_one(LatentMapView)
    await wait_for(pilot, lambda: view.fitted is not None and not view.stale)
    await pilot.press("right", "right", "up")
    await pilot.pause(0.2)


async def manifold_shown(pilot: Pilot) -> None:
    await model_shown(pilot)
    await pilot.press("8")
    view = pilot.app.query_one(ManifoldView)
    await wait_for(pilot, lambda: view.codes is not None and not view.stale)
    await pilot.pause(0.2)


def test_map_80x24(snap_compare) -> None:
    assert snap_compare(browse_app(), terminal_size=(80, 24), run_before=map_moved)


def test_map_160x48(snap_compare) -> None:
    assert snap_compare(browse_app(), terminal_size=(160, 48), run_before=map_moved)


def test_manifold_80x24(snap_compare) -> None:
    assert snap_compare(plane_app(), terminal_size=(80, 24), run_before=manifold_shown)


def test_manifold_160x48(snap_compare) -> None:
    assert snap_compare(plane_app(), terminal_size=(160, 48), run_before=manifold_shown)
