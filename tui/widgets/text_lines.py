"""Text that redraws in place: no layout pass unless its number of lines changes.

`Static.update` asks for a layout refresh every time, which re-composes the whole screen; for
text that changes several times a second (status, captions) that cost more than everything else
a key press or a tick does. This widget repaints itself alone while its height stays the same.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class TextLines(Widget):
    """Shows a rich Text, cropped with an ellipsis, one line per line of the text."""

    DEFAULT_CSS = """
    TextLines { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, text: str | Text = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text(text) if isinstance(text, str) else text

    def set(self, text: str | Text) -> None:
        text = Text(text) if isinstance(text, str) else text
        if text == self._text:
            return
        relayout = text.plain.count("\n") != self._text.plain.count("\n")
        self._text = text
        self.refresh(layout=relayout)  # a layout pass only when the number of lines changes

    @property
    def plain(self) -> str:
        return self._text.plain

    def render(self) -> Text:
        text = self._text.copy()
        text.no_wrap, text.overflow = True, "ellipsis"
        return text
