"""Snapshots of the reconstructions ordered by error, with marks, at 80×24 and 160×48, from the
fixed tiny model (`test_snapshots.py`'s: no training, stable)."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from .test_snapshots import REPO, browse_app, model_shown


@pytest.fixture(autouse=True)
def at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the model's relative path is shown on screen


def test_recon_by_error_with_marks_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        # The worst reconstruction first; the 2nd worst marked A, the 4th B, the 3rd selected.
        await pilot.press("o", "right", "a", "right", "right", "b", "left")
        await pilot.pause(0.1)

    assert snap_compare(browse_app(), terminal_size=(80, 24), run_before=run_before)


def test_recon_by_error_of_one_class_160x48(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await model_shown(pilot)
        # The first class's images, the worst first; its worst marked A, the next selected.
        await pilot.press("o", "c", "a", "right")
        await pilot.pause(0.1)

    assert snap_compare(browse_app(), terminal_size=(160, 48), run_before=run_before)
