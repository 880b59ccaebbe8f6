"""The instrument of `app_latency.py`: when a key reached the app's bindings, when the view shown
last redrew for it, and when each frame was composed, from hooks installed on Textual's and the
views' classes while a `Clock` is in use.

A redraw is any view's own: every `ImageView` subclass's `update_view` (the latent health view
overrides it without calling ImageView's) and the traversal's `draw_scrub` (the scrub keys redraw
only its large image). One counts only if it drew: it found the view out of date and left it up to
date (a call that returns to draw after the next refresh does not). A press is answered by the
first frame composed after both its binding returned and its view's last redraw since the key,
once the view shown is up to date; a key no binding took is no answer.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from textual import events
from textual.app import App
from textual.screen import Screen

from vae_tui.tui import layout  # noqa: F401 - imports every view class, for `redraw_methods`
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.views import ImageView

WAIT = 2.0
"""Seconds a press may take before it counts as missed."""


def view_classes(base: type = ImageView) -> list[type]:
    return [base, *(c for sub in base.__subclasses__() for c in view_classes(sub))]


def redraw_methods() -> list[tuple[type, str]]:
    """Each view class's own redraw methods (a subclass's override is a method of its own)."""
    found = [(cls, "update_view") for cls in view_classes() if "update_view" in vars(cls)]
    return [*found, (TraversalView, "draw_scrub")]


class Clock:
    """Timestamps of a key's dispatch, its binding's end, the shown view's last redraw, and
    screen compositions."""

    def __init__(self) -> None:
        self.key = self.bound = self.drawn = 0.0
        self.handled = False
        self.frames: list[float] = []
        self._depth = 0  # redraw calls in progress (an override calling ImageView's is one redraw)
        self._saved: list[tuple[type, str, Any]] = []

    def timed_redraw(self, original: Any, name: str) -> Any:
        clock = self

        @functools.wraps(original)
        def timed(view: ImageView, *args: Any, **kwargs: Any) -> Any:
            out_of_date = view.stale or bool(args and args[0]) or bool(kwargs.get("force"))
            clock._depth += 1
            try:
                return original(view, *args, **kwargs)
            finally:
                clock._depth -= 1
                drew = name == "draw_scrub" or (out_of_date and not view.stale)
                if not clock._depth and drew and clock.key:
                    clock.drawn = time.perf_counter()

        return timed

    def __enter__(self) -> Clock:
        clock = self
        check_bindings, compositor_refresh = App._check_bindings, Screen._compositor_refresh

        async def timed_bindings(app: App, key: str, priority: bool = False) -> bool:
            if priority:  # the first look at a key (before the screen's own bindings)
                clock.key, clock.bound, clock.drawn, clock.handled = time.perf_counter(), 0.0, 0.0, False
            handled = await check_bindings(app, key, priority)
            if handled or not priority:
                clock.bound, clock.handled = time.perf_counter(), handled
            return handled

        def timed_refresh(screen: Screen) -> None:
            compositor_refresh(screen)
            clock.frames.append(time.perf_counter())

        hooks = [(App, "_check_bindings", timed_bindings), (Screen, "_compositor_refresh", timed_refresh)]
        hooks += [(cls, name, self.timed_redraw(vars(cls)[name], name)) for cls, name in redraw_methods()]
        for owner, name, timed in hooks:
            self._saved.append((owner, name, vars(owner)[name]))
            setattr(owner, name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def answer(self, app: Any, sent: float) -> float | None:
        """Milliseconds from the key to the frame that answered it, if one has (see the module)."""
        if self.key < sent or not self.bound or not self.handled:
            return None
        view = app.main.active_view()
        if view is not None and view.stale:
            return None  # a redraw is still to come (a worker's result, the next refresh)
        since = max(self.bound, self.drawn)
        frame = next((t for t in self.frames if t >= since), None)
        return None if frame is None else (frame - self.key) * 1000


def send_key(app: App, key: str) -> None:
    """The key as a terminal's driver delivers it (what Pilot's `press` sends, without its waits)."""
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app._driver.send_message(event)


async def press(app: App, clock: Clock, key: str) -> float | None:
    """Milliseconds from `key` reaching the bindings to the frame that answered it; None if none
    did within `WAIT`."""
    clock.frames.clear()
    sent = time.perf_counter()
    send_key(app, key)
    while time.perf_counter() - sent < WAIT:
        await asyncio.sleep(0.002)
        if (ms := clock.answer(app, sent)) is not None:
            return ms
    return None
