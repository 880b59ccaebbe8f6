"""`g` in the reconstructions: a small dialog that asks for a test image's number.

A modal screen of its own, so what is typed there goes to its Input and nowhere else (the main
screen's digits switch tabs). It returns the image's index (0-based) through `dismiss`, or None
when cancelled (Escape); a number out of range or not a number gets a one-line message and the
dialog stays open.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class GoToImage(ModalScreen[int | None]):
    """Asks for a test image's number, 1 … `count`."""

    DEFAULT_CSS = """
    GoToImage { align: center middle; }
    GoToImage > Vertical {
        width: 44; height: auto; padding: 0 1;
        border: round $primary; background: $surface;
    }
    GoToImage Input { width: 1fr; }
    GoToImage .error { color: $error; height: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Go to test image (1–{self.count:,}):")
            yield Input(placeholder="number, then Enter", type="integer", id="goto-number")
            yield Label("", classes="error")

    @on(Input.Changed)
    def typed(self) -> None:
        self.query_one(".error", Label).update("")  # the last complaint is about another number

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip().replace(",", "")
        number = int(text) if text.lstrip("+-").isdigit() else None
        if number is None or not 1 <= number <= self.count:
            self.query_one(".error", Label).update(f"enter a number from 1 to {self.count:,}")
            return
        self.dismiss(number - 1)

    def action_cancel(self) -> None:
        self.dismiss(None)
