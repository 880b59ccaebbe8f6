"""`NO_COLOR=1` (a setting many people keep in their shell) draws the app in greys instead of
crashing: Textual 8's monochrome filter failed on the plots' unstyled segments (tui/no_color.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vae_tui.tui.cli import parse_request
from vae_tui.tui.compare_app import make_compare_app
from vae_tui.tui.no_color import SafeMonochrome

from ..conftest import OLD_RUN
from .helpers import DATA, make_app, wait_for


async def test_the_app_and_compare_draw_under_no_color(
    monkeypatch: pytest.MonkeyPatch, mnist_dir: Path
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # (Textual reads it, and removes it, when an App is made)
    app = make_app("--checkpoint", str(DATA), "--test-limit", "64")
    assert [type(f) for f in app._filters if isinstance(f, SafeMonochrome)] == [SafeMonochrome]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.pause(0.6)  # past a 2 Hz redraw of the plots
        assert app.is_running and app.screen.get_style_at(2, 2) is not None
    monkeypatch.setenv("NO_COLOR", "1")
    compare = make_compare_app(
        parse_request(["--compare", str(OLD_RUN), str(OLD_RUN.parent / "run-warmup14")])
    )
    async with compare.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.6)
        assert compare.is_running
