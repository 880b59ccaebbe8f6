"""Snapshots of the latent traversal from the fixed tiny model (tests/app/test_snapshots.py's
pattern): rows by KL with their labels (compact at 80 columns, where the large image fits
beside them so), the offsets over the columns, the base column framed apart and the large image
scrubbed a few steps."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from .test_snapshots import REPO, browse_app, model_shown


@pytest.fixture(autouse=True)
def at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the model's relative path is shown on screen


def test_traversal_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        await pilot.press("4", "down")  # the second row by KL
        await pilot.pause(0.2)

    assert snap_compare(browse_app(), terminal_size=(80, 24), run_before=run_before)


def test_traversal_scrubbed_160x48(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        # Index order, ↓ from the first by KL (z3) to z4, scrubbed to +0.5.
        await pilot.press("4", "k", "down", "plus", "plus", "plus", "shift+left")
        await pilot.pause(0.2)

    assert snap_compare(browse_app(), terminal_size=(160, 48), run_before=run_before)
