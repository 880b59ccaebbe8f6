"""`NO_COLOR` without the crash: Textual 8's monochrome filter (what `NO_COLOR=1` turns on) fails
on an unstyled segment (`style.color` of None), which the plots' canvases draw, so every app
swaps it for this one at start.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.app import App
from textual.color import Color
from textual.filter import Monochrome, monochrome_style


class SafeMonochrome(Monochrome):
    """Textual's `Monochrome`, leaving unstyled segments as they are."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(text, style and monochrome_style(style), None) for text, style, _ in segments]


def keep_no_color_working(app: App[object]) -> None:
    """Replace the app's monochrome filter (present only under NO_COLOR) with the safe one."""
    app._filters = [SafeMonochrome() if type(f) is Monochrome else f for f in app._filters]
