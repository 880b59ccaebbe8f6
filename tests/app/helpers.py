"""Driving the app in tests: building it, waiting on it, reading what it shows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from vae_tui.tui import app as app_module
from vae_tui.tui.app import VaeApp
from vae_tui.tui.cli import parse_request
from vae_tui.tui.widgets.halfblock import HalfBlockView

from .fake_stream import FakeRuns

TINY = ["--hidden-dim", "32", "--latent-dim", "4", "--swanlab", "disabled", "--iwae-k", "0"]
DATA = Path(__file__).parents[1] / "data" / "tiny-vae-state_dict.pt"


def make_app(*flags: str) -> VaeApp:
    """The app as `vae-tui FLAGS` builds it (the same factory), on Textual's test driver."""
    return app_module.make_app(parse_request(list(flags)))


def make_fake_app(*flags: str, run_dir: Path, **options: Any) -> tuple[VaeApp, FakeRuns]:
    """The same app fed a fake event stream (`FakeRuns(run_dir, **options)`) instead of
    training: for what the app does with the events, not what the loop writes."""
    runs = FakeRuns(run_dir, **options)
    return app_module.make_app(parse_request(list(flags)), start_run=runs), runs


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Let the app run until `condition` holds (training runs in a real thread meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {condition.__doc__ or condition}")
        await pilot.pause(0.05)


def kl_order(decoder: Any) -> list[int]:
    """A decoder's latent dimensions by KL over its test images, most first (ties by index):
    the order the traversal lists them in, and ↑/↓ move along, computed here from its usage."""
    kl = decoder.usage()["kl_per_dim"]
    return sorted(range(len(kl)), key=lambda d: (-kl[d], d))


def swept(traversal: Widget) -> str:
    """The dimension the traversal names over its columns ("offset→z5" or, tight, "z5"): the
    selected one, which its rows sweep and the large image scrubs."""
    header = text_of(traversal.query_one(".columns")).split()
    return header[0].removeprefix("offset→") if header else ""


def text_of(widget: Widget) -> str:
    """What a widget shows on screen, as plain text."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "\n".join(strip.text for strip in strips)


def screen_pixels(app: VaeApp, view_type: type) -> list:
    """The segments a view's image is drawn with (to tell whether the picture changed)."""
    view = app.query_one(view_type).query_one(HalfBlockView)
    return [[(s.text, s.style) for s in line] for line in view._lines]
