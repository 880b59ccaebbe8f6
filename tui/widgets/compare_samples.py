"""`--compare`'s samples: each run's stored sample grid of one epoch, in panels side by side.

The pictures are the PNGs the trainer wrote at that epoch's end (`core/history.py`), not new
decodings: no torch, no model, and exactly what each run's fixed z looked like then. Every panel
has the same size, so each shows the same tiles (the first of its 8×8 grid that fit), full-size
or 2× smaller, drawn in half-block cells or through the graphics protocol like the app's views.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical

from vae_tui.core.compare import RunSummary
from vae_tui.core.history import epochs_on_disk, read_image

from ..graphics import HALFBLOCK, Graphics
from .halfblock import Budget, HalfBlockView, fit_count, tile_image
from .protocol_image import ProtocolImageView
from .text_lines import TextLines
from .views import pick

TILE, PAD = 28, 2
"""The stored grids' tiles and the gap around them (`core/grids.make_grid`)."""
MIN_FULL_SIZE = 6
"""Fewer full-size tiles than this and a panel shows more, 2× smaller."""


def tiles_of(grid: np.ndarray) -> np.ndarray:
    """A stored (H, W) grid cut back into its (rows, columns, 28, 28) tiles."""
    rows, cols = (grid.shape[0] - PAD) // (TILE + PAD), (grid.shape[1] - PAD) // (TILE + PAD)
    tiles = np.zeros((rows, cols, TILE, TILE), dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = PAD + r * (TILE + PAD), PAD + c * (TILE + PAD)
            tiles[r, c] = grid[y : y + TILE, x : x + TILE]
    return tiles


def span(epochs: list[int]) -> str:
    """Which epochs a run has pictures of, briefly: `1–40`, or `3 of 1–5` where some are missing."""
    if not epochs:
        return "none"
    whole = f"{epochs[0]}–{epochs[-1]}" if len(epochs) > 1 else f"{epochs[0]}"
    return whole if len(epochs) == epochs[-1] - epochs[0] + 1 else f"{len(epochs)} of {whole}"


class SamplesPanel(Vertical):
    """One run's samples at the shown epoch, or a line saying it has none for that epoch."""

    DEFAULT_CSS = """
    SamplesPanel { width: 1fr; height: 1fr; }
    SamplesPanel > .caption { height: 2; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, colour: str, graphics: Graphics = HALFBLOCK) -> None:
        super().__init__()
        self.colour = colour
        self.graphics = graphics
        self.run: RunSummary | None = None
        self.epoch = 0
        self.stored: np.ndarray | None = None
        """The stored PNG's pixels now shown (None: this epoch has none)."""
        self.shown: tuple[int, int, int] = (0, 0, 1)
        """(rows, columns, factor) of the tiles drawn."""
        self._read: tuple[str, int] | None = None

    def compose(self) -> ComposeResult:
        yield TextLines(classes="caption")
        if self.graphics.protocol:
            yield ProtocolImageView(self.graphics.kind, self.graphics.cell, classes="picture-view")
        else:
            yield HalfBlockView(classes="picture-view")

    @property
    def picture(self) -> HalfBlockView | ProtocolImageView:
        return self.query_one(".picture-view", ProtocolImageView if self.graphics.protocol else HalfBlockView)

    def show(self, run: RunSummary, epoch: int) -> None:
        """Show `run`'s samples of `epoch` (read again only when it has none yet: a run still
        training writes it later)."""
        key = (str(run.path), epoch)
        if self._read == key and self.stored is not None and self.run == run:
            return  # the same picture (the folders are read again every few seconds)
        if self._read != key or self.stored is None:
            self.stored = read_image(run.path, epoch, "samples")
            self._read = key
        self.run, self.epoch = run, epoch
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.redraw)

    def redraw(self) -> None:
        if self.run is None:
            return
        view, caption = self.picture, self.query_one(".caption", TextLines)
        width, height = view.pixel_size
        name = Text.assemble(("■ ", self.colour), (self.run.name, "bold"))
        if self.stored is None:
            had = span(epochs_on_disk(self.run.path, "samples"))
            missing = f"no samples of epoch {self.epoch} (has {had})" if self.epoch else "no epoch yet"
            caption.set(name + Text(f"\n{missing}"))
            view.set_image(None, "")
            return
        if width == 0 or height == 0:
            return
        image, note, scale = self.build(view.budgets())
        view.set_image(image, "enlarge the terminal to see the samples" if image is None else "", scale)
        caption.set(name + Text(f" · epoch {self.epoch}\n{note}"))

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        """The tiles that fit (the first of the grid, the same in every panel), and what they are."""
        assert self.stored is not None
        tiles = tiles_of(self.stored)
        rows, cols = tiles.shape[:2]
        (fit_cols, fit_rows), (_, _, factor, scale) = pick(
            budgets,
            lambda b: (min(cols, fit_count(b.width, b.factor)), min(rows, fit_count(b.height, b.factor))),
            lambda cr: cr[0] * cr[1] >= MIN_FULL_SIZE,
        )
        self.shown = (fit_rows, fit_cols, factor)
        if fit_rows == 0 or fit_cols == 0:
            return None, "", 1
        image = tile_image(tiles[:fit_rows, :fit_cols], None, factor)
        smaller = " · 2× smaller" if factor == 2 else ""
        return image, f"{fit_rows * fit_cols} of its {rows * cols} samples{smaller}", scale
