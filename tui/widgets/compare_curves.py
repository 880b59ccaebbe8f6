"""`--compare`'s curves: one per-epoch number of every run overlaid, one colour per run.

The four numbers (`core/compare.METRICS`: held-out −ELBO, BCE, KLD and active units) are shown
all at once in a 2×2 grid where there is room, else one at a time (`m` the next). An amber line
marks the epoch the samples show, so the curves and the pictures are read at the same point.
The plots are the app's (`plot.LossPlot`, curves sharing a cell take turns in it), and the y
range leaves out the first epoch's peak as the app's epoch plot does (`losses.epoch_ylimits`).
"""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual_plot import HiResMode

from vae_tui.core.compare import METRICS, RunSummary

from .losses import CURSOR_STYLE, epoch_ylimits, legend
from .plot import FastCanvas, LossPlot
from .text_lines import TextLines

COLOURS = ("dodger_blue1", "green3", "magenta1", "bright_white")
"""Each compared run's colour, in the order given (curves, legend, table, samples)."""
GRID_SIZE = (90, 20)
"""Columns and rows from which all four plots are shown at once."""


def ylimits(key: str, values: list[np.ndarray]) -> tuple[float | None, float | None]:
    """The y range of one number over all runs (active units from 0, so none looks collapsed)."""
    values = [v for v in values if len(v)]
    if not values:
        return None, None
    if key == "active_units":
        return 0.0, float(max(v.max() for v in values)) + 0.5
    return epoch_ylimits(dict(enumerate(values)))  # type: ignore[arg-type]


class MetricPlot(Vertical):
    """One number's curves, a run a colour, and the shown epoch's line."""

    DEFAULT_CSS = """
    MetricPlot { height: 1fr; }
    MetricPlot > TextLines { padding: 0 1; text-style: bold; }
    """

    def __init__(self, key: str, label: str) -> None:
        super().__init__(classes="metric")
        self.key, self.label = key, label

    def compose(self) -> ComposeResult:
        yield TextLines(self.label)
        yield LossPlot(allow_pan_and_zoom=False)

    def on_mount(self) -> None:
        plot = self.query_one(LossPlot)
        plot.margin_top, plot.margin_bottom, plot.margin_left = 0, 2, 7
        plot.query_one("#plot", FastCanvas).share_cells = True

    def draw(self, runs: list[RunSummary], epoch: int, last: int, note: str = "") -> None:
        plot = self.query_one(LossPlot)
        plot.clear()
        series = [run.series(self.key) for run in runs]
        missing = [run.name for run, (x, _) in zip(runs, series, strict=True) if not x]
        title = self.label + (f" ({', '.join(missing)}: not logged)" if missing and runs else "") + note
        self.query_one(TextLines).set(title)
        if not plot.size.width or last == 0:
            return
        lo, hi = ylimits(self.key, [np.array(y) for _, y in series])
        if lo is None or hi is None:
            return
        plot.set_ylimits(lo, hi)
        # A cell to spare on the right: textual-plot maps the x limit onto the frame's column,
        # and the last epoch's dots spilled past the axis there.
        cell = (last - 1) / max(1, plot.size.width - plot.margin_left - 2)
        plot.set_xlimits(*((0.5, 1.5) if last == 1 else (1.0, last + cell)))
        whole = plot.size.width >= 4 * last + plot.margin_left
        plot.set_xticks([float(e) for e in range(1, last + 1)] if whole else None)
        if epoch:  # the app's mark of a past epoch (amber), here the one the samples show
            plot.add_v_line(float(epoch), CURSOR_STYLE)
        for (x, y), colour in zip(series, COLOURS, strict=False):
            if len(x) == 1:
                plot.scatter(x, y, marker="●", marker_style=colour)
            elif x:
                plot.plot(x, y, line_style=colour, hires_mode=HiResMode.BRAILLE)


class CompareCurves(Vertical):
    """The legend (run names in their colours) over the four plots, or over the one chosen."""

    DEFAULT_CSS = """
    CompareCurves { height: 1fr; }
    CompareCurves > TextLines { padding: 0 1; }
    CompareCurves > Grid { grid-size: 2 2; grid-gutter: 0 1; }
    CompareCurves.single > Grid { grid-size: 1 1; }
    CompareCurves.single MetricPlot { display: none; }
    CompareCurves.single MetricPlot.chosen { display: block; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.metric = 0
        """The number shown when only one fits (`m` the next)."""
        self.runs: list[RunSummary] = []
        self.epoch = self.last = 0

    def compose(self) -> ComposeResult:
        yield TextLines(id="legend")
        with Grid():
            for key, label in METRICS:
                yield MetricPlot(key, label)

    @property
    def single(self) -> bool:
        return self.has_class("single")

    def on_resize(self) -> None:
        width, height = self.size
        self.set_class(width < GRID_SIZE[0] or height < GRID_SIZE[1], "single")
        self.call_after_refresh(self.redraw)

    def next_metric(self) -> None:
        self.metric = (self.metric + 1) % len(METRICS)
        for i, plot in enumerate(self.query(MetricPlot)):
            plot.set_class(i == self.metric, "chosen")
        self.call_after_refresh(self.redraw)  # the plot just shown has no size until laid out

    def show(self, runs: list[RunSummary], epoch: int, last: int) -> None:
        self.runs, self.epoch, self.last = runs, epoch, last
        self.redraw()

    def redraw(self) -> None:
        items = [(run.name, colour) for run, colour in zip(self.runs, COLOURS, strict=False)]
        width = max(0, self.size.width - 2)
        self.query_one("#legend", TextLines).set(legend(items, "Runs", width))
        for i, plot in enumerate(self.query(MetricPlot)):
            plot.set_class(i == self.metric, "chosen")
            if self.single and i != self.metric:
                continue
            note = f"  ({i + 1}/{len(METRICS)}, m: next)" if self.single else ""
            plot.draw(self.runs, self.epoch, self.last, note)
