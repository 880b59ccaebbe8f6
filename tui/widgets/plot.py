"""textual-plot made fast and keyboard-neutral: a cached-style canvas, tick placement, LossPlot."""

from __future__ import annotations

from collections.abc import Iterable
from math import floor

import numpy as np
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Grid
from textual_hires_canvas import Canvas
from textual_hires_canvas.hires import hires_sizes, pixels
from textual_plot import HiResMode, PlotWidget
from textual_plot.axis_formatter import NumericAxisFormatter
from textual_plot.plot_widget import Legend


class FastCanvas(Canvas):
    """textual-hires-canvas reads `rich_style` for every line it renders, and computing it costs
    ~0.2 ms: most of a plot's redraw. It only changes with the styles, so keep it until then.

    With `share_cells`, curves that pass through the same cell no longer hide one another: a cell
    has one colour, and the canvas used to give it to the last curve drawn there, dots and all,
    so a curve lying on another vanished (the held-out −ELBO under the training one). Shared
    cells keep every curve's dots and take the curves' colours in turn, column by column: where
    curves coincide they show as one line of alternating colours, each still visible.
    """

    _style_cache_value: Style | None = None
    share_cells = False
    _cells: dict[tuple[int, int], tuple[set[tuple[int, int]], list[str]]]

    @property
    def rich_style(self) -> Style:
        if self._style_cache_value is None:
            self._style_cache_value = super().rich_style
        return self._style_cache_value

    def notify_style_update(self) -> None:
        self._style_cache_value = None
        super().notify_style_update()

    def reset(self, size: object = None, refresh: bool = True) -> None:
        self._cells = {}
        super().reset(size, refresh)  # type: ignore[arg-type]

    def set_hires_pixels(
        self,
        coordinates: Iterable[tuple[float, float]],
        hires_mode: HiResMode | None = None,
        style: str = "white",
    ) -> None:
        if not self.share_cells:
            super().set_hires_pixels(coordinates, hires_mode, style)
            return
        mode = hires_mode or self.default_hires_mode
        size, chars = hires_sizes[mode], pixels[mode]
        new: dict[tuple[int, int], set[tuple[int, int]]] = {}
        for x, y in coordinates:  # as the base class maps them
            if not self._canvas_region.contains(floor(x), floor(y)):
                continue
            hx, hy = floor(x * size.width), floor(y * size.height)
            new.setdefault((hx // size.width, hy // size.height), set()).add(
                (hx % size.width, hy % size.height)
            )
        for (cx, cy), dots in new.items():
            shared, styles = self._cells.setdefault((cx, cy), (set(), []))
            shared |= dots
            if style not in styles:
                styles.append(style)
            mask = np.zeros((size.height, size.width), dtype=bool)
            for dx, dy in shared:
                mask[dy, dx] = True
            if char := chars[tuple(int(v) for v in mask.flat)]:
                self.set_pixel(cx, cy, char=char, style=styles[cx % len(styles)])


class PlotTicks(NumericAxisFormatter):
    """Nice ticks that can see the plot they are for (its size, where a value lands)."""

    def __init__(self, plot: PlotWidget) -> None:
        self.plot = plot

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        return distinct(super().get_ticks(min_, max_, max_ticks))


def distinct(ticks: list[float]) -> list[float]:
    """Ticks without near-repeats: on an axis a hair wide (a resumed run's first point) textual-plot
    gave [1.0, 1.0], and its labels took log10 of their zero spacing (a crash, seen in --watch)."""
    kept: list[float] = []
    for tick in ticks:
        if not kept or abs(tick - kept[-1]) > 1e-9 * max(1.0, abs(tick)):
            kept.append(tick)
    return kept


class EdgeTicks(PlotTicks):
    """Nice x ticks, minus any whose centred label would run past the plot's right edge.

    textual-plot right-aligns only a tick exactly at the axis end: with 1007 steps the tick at
    1000 sat in the last column and its label was cut to "100", a wrong number on the axis.
    """

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        ticks = super().get_ticks(min_, max_, max_ticks)
        labels = super().get_labels_for_ticks(ticks)
        width = self.plot.size.width
        kept = []
        for tick, label in zip(ticks, labels, strict=True):
            x, _ = self.plot.get_pixel_from_coordinate(tick, 0.0)
            start = x + self.plot.margin_left - len(label) // 2 + (len(label) % 2 == 0)  # as drawn
            if tick >= max_ or start + len(label) <= width:  # the end tick is right-aligned
                kept.append(tick)
        return kept if kept or not ticks else ticks[:1]


class RowTicks(PlotTicks):
    """Nice y ticks, coarser until each has a row of its own.

    textual-plot asks for up to 8 ticks whatever the height: on a 6-row plot two ticks shared a
    row and one label overwrote the other, so the axis read 140 120 100 60 40.
    """

    def get_ticks(self, min_: float, max_: float, max_ticks: int = 8) -> list[float]:
        ticks: list[float] = []
        for limit in range(max_ticks, 0, -1):
            ticks = [t for t in super().get_ticks(min_, max_, limit) if min_ <= t <= max_]
            rows = {self.plot.get_pixel_from_coordinate(0.0, t)[1] + (t == min_) for t in ticks}
            if len(rows) == len(ticks):
                break
        return ticks


class LossPlot(PlotWidget, can_focus=False):
    """A plot that never takes focus, so the app's arrow keys always browse images."""

    def on_mount(self) -> None:
        self.set_x_formatter(EdgeTicks(self))
        self.set_y_formatter(RowTicks(self))

    def compose(self) -> ComposeResult:
        # PlotWidget's own layout, with the faster canvas.
        with Grid():
            yield FastCanvas(1, 1, id="margin-top")
            yield FastCanvas(1, 1, id="margin-left")
            yield FastCanvas(1, 1, id="plot")
            yield FastCanvas(1, 1, id="margin-bottom")
        yield Legend(id="legend")

    DEFAULT_CSS = """
    LossPlot { height: 1fr; }
    """
    BINDINGS = []  # noqa: RUF012 - drop the plot's pan/zoom keys; they would shadow the app's

    def on_resize(self) -> None:
        # textual-plot only re-measures its canvases on a layout refresh; without this a resized
        # plot keeps mapping data to its old size and lines spill past the axes.
        self.call_after_refresh(self.refresh, layout=True)
