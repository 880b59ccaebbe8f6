"""Loss panels: every batch's loss (raw and smoothed) and the per-epoch averages.

Batches arrive hundreds of times a second; the history only appends to arrays, and the plots are
redrawn from it on a timer (a few Hz), thinned to about two points per column, so the cost of a
redraw does not grow with the length of the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import floor

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual_hires_canvas import Canvas
from textual_hires_canvas.hires import hires_sizes, pixels
from textual_plot import HiResMode, PlotWidget
from textual_plot.axis_formatter import NumericAxisFormatter
from textual_plot.plot_widget import Legend

from .text_lines import TextLines

SMOOTHING_FRACTION = 0.02  # the smoothed curve averages the last 2% of the batches so far


class LossHistory:
    """Everything the loss panels draw, appended to by the app as events arrive."""

    def __init__(self) -> None:
        self._steps: list[int] = []
        self._losses: list[float] = []
        self.epochs: list[dict[str, float]] = []
        self.batch_version = 0
        """Bumped when batches arrive, so the batch plot redraws only when there is news."""
        self.epoch_version = 0

    def clear(self) -> None:
        """Forget everything (a resumed run's preview history, replaced by the exact one)."""
        self._steps, self._losses, self.epochs = [], [], []
        self.batch_version += 1
        self.epoch_version += 1

    def add_batches(self, steps: list[int], losses: list[float]) -> None:
        self._steps.extend(steps)
        self._losses.extend(losses)
        self.batch_version += 1

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    @property
    def losses(self) -> np.ndarray:
        return np.asarray(self._losses, dtype=np.float64)

    def smoothed(self) -> np.ndarray:
        """Trailing mean over a window that grows with the run (2% of it), so the curve is
        smooth early on and does not lag behind late in a long run."""
        losses = self.losses
        window = max(1, int(len(losses) * SMOOTHING_FRACTION))
        sums = np.cumsum(np.concatenate([[0.0], losses]))
        ends = np.arange(1, len(losses) + 1)
        counts = np.minimum(ends, window)
        return (sums[1:] - sums[ends - counts]) / counts

    def add_epoch(self, row: dict[str, float]) -> None:
        self.epochs.append(row)
        self.epoch_version += 1


def thin(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about `points` points, evenly strided (keeps the last point)."""
    if len(x) <= points or points <= 0:
        return x, y
    stride = int(np.ceil(len(x) / points))
    idx = np.arange(len(x) - 1, -1, -stride)[::-1]
    return x[idx], y[idx]


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


SERIES = (
    ("test_loss", "held-out", "green3"),
    ("elbo", "train", "bright_white"),
    ("bce", "BCE", "dodger_blue1"),
    ("kld", "KLD", "orange1"),
)
"""The per-epoch curves, all at β = 1 so they compare: the training −ELBO is the epoch's BCE +
KLD, the same quantity as the held-out one. The β-weighted loss the model minimised (the
reference's "Avg Loss") is not among them: it mixes in β, which rises during training, so it
climbed while both −ELBOs fell, and beside the held-out −ELBO it looked like a generalisation
gap. β itself is in the legend; the status line keeps the reference's numbers."""
BETA_STYLE = "magenta"


def epoch_value(row: dict[str, float], key: str) -> float:
    """A plotted per-epoch value; `elbo` is the training −ELBO at β = 1 (BCE + KLD)."""
    return row["bce"] + row["kld"] if key == "elbo" else row[key]


def legend(
    items: list[tuple[str, str]], title: str, width: int = 0, note: Text | None = None, aside: str = ""
) -> Text:
    """The title and a line sample per curve, then `note` (and `aside`, if it fits on the same
    line), wrapped between items to `width` cells (0: one line)."""
    pieces = [Text.assemble(("━ ", style), label) for label, style in items]
    if note is not None:
        pieces.append(note)
    lines = [Text(title, style="bold")]
    for piece in pieces:
        if width and lines[-1].cell_len + 2 + piece.cell_len > width:
            lines.append(piece.copy())
        else:
            lines[-1].append("  ")
            lines[-1].append_text(piece)
    if note is not None and aside and (not width or lines[-1].cell_len + len(aside) <= width):
        lines[-1].append(aside, style="dim")
    return Text("\n").join(lines)


def beta_note(epochs: list[dict[str, float]]) -> Text | None:
    """The KL weight the plotted epochs were trained with, first → last epoch."""
    betas = [float(r["beta"]) for r in epochs if isinstance(r.get("beta"), int | float)]
    if not betas:
        return None
    span = f"{betas[0]:.2g}" if betas[0] == betas[-1] else f"{betas[0]:.2g}→{betas[-1]:.2g}"
    return Text(f"β {span}", style=BETA_STYLE)


def epoch_ylimits(table: dict[str, np.ndarray]) -> tuple[float | None, float | None]:
    """Y limits that leave out the first epoch's peak once there are 3 epochs or more.

    The first epoch's −ELBOs are two or three times the rest (β is 0 in it, so the KLD is left
    to grow): scaled to them, the later curves, a few nats apart, fall into the same braille
    cells. The first epoch then enters from the top, like the batch plot.
    """
    values = np.concatenate(list(table.values()))
    if not np.isfinite(values).all():
        return None, None  # autoscale
    epochs = len(next(iter(table.values())))
    later = np.concatenate([v[1:] for v in table.values()]) if epochs >= 3 else values
    lo, hi = float(values.min()), float(later.max())
    pad = 0.05 * (hi - lo) or 1.0
    return lo - pad, hi + pad


class LossPanel(Vertical):
    """Two plots: batch loss by step, and the per-epoch −ELBOs (training and held-out) with
    their BCE and KLD parts."""

    DEFAULT_CSS = """
    LossPanel { height: 1fr; }
    LossPanel > TextLines { padding: 0 1; }
    """

    def __init__(self, history: LossHistory, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.history = history
        self.drawn = (-1, -1)  # (batch, epoch) versions on screen
        self.drawn_width = (-1, -1)  # the plots' widths they were drawn for

    def compose(self) -> ComposeResult:
        yield TextLines(
            legend([("raw", "grey50"), ("smoothed", "bright_white")], "Batch loss"), id="batch-title"
        )
        yield LossPlot(allow_pan_and_zoom=False, id="batch-plot")
        yield TextLines(self.epoch_legend(), id="epoch-title")
        yield LossPlot(allow_pan_and_zoom=False, id="epoch-plot")

    def epoch_legend(self) -> Text:
        return legend(
            [(label, style) for _, label, style in SERIES],
            "−ELBO per epoch",
            max(0, self.size.width - 2),
            beta_note(self.history.epochs),
            " (training KL weight)",
        )

    def on_mount(self) -> None:
        for plot in self.query(LossPlot):
            plot.margin_top = 0
            plot.margin_bottom = 2
            plot.margin_left = 7
        self.query_one("#epoch-plot", LossPlot).query_one("#plot", FastCanvas).share_cells = True

    def on_resize(self) -> None:
        # Thinning depends on the plot's width: redraw once the new layout has given it one.
        self.call_after_refresh(self.redraw)

    def redraw(self, force: bool = False) -> None:
        """Redraw from the history if it changed since the last draw, or the plots' widths did
        (and the panel is on screen)."""
        h = self.history
        if not self.display:
            return
        widths = tuple(plot.size.width for plot in self.query(LossPlot))
        if not all(widths):
            return  # not laid out yet: a draw now would thin the series for no width at all
        drawn_batches, drawn_epochs = (-1, -1) if force else self.drawn
        self.drawn = (h.batch_version, h.epoch_version)
        if drawn_batches != h.batch_version or widths[0] != self.drawn_width[0]:
            self._draw_batches()
        if drawn_epochs != h.epoch_version or widths[1] != self.drawn_width[1]:
            self.query_one("#epoch-title", TextLines).set(self.epoch_legend())
            self._draw_epochs()
        self.drawn_width = widths  # type: ignore[assignment]

    def _draw_batches(self) -> None:
        h = self.history
        batch_plot = self.query_one("#batch-plot", LossPlot)
        batch_plot.clear()
        steps = h.steps
        if len(steps):
            points = 2 * batch_plot.size.width
            x, raw = thin(steps, h.losses, points)
            _, smooth = thin(steps, h.smoothed(), points)
            # The first batches' losses are several times the rest; clip so the trend stays visible.
            tail = raw[len(raw) // 50 :] if len(raw) > 50 else raw
            batch_plot.set_ylimits(float(np.min(raw)) * 0.98, float(np.max(tail)) * 1.02)
            batch_plot.plot(x, raw, line_style="grey50", hires_mode=HiResMode.BRAILLE)
            batch_plot.plot(x, smooth, line_style="bright_white", hires_mode=HiResMode.BRAILLE)

    def _draw_epochs(self) -> None:
        h = self.history
        epoch_plot = self.query_one("#epoch-plot", LossPlot)
        epoch_plot.clear()
        if h.epochs:
            epochs = np.array([r["epoch"] for r in h.epochs], dtype=float)
            table = {key: np.array([epoch_value(r, key) for r in h.epochs]) for key, _, _ in SERIES}
            epoch_plot.set_ylimits(*epoch_ylimits(table))
            # One epoch is one point: autoscaling a zero-width range labelled the axis 0.9999990.
            epoch_plot.set_xlimits(*((0.5, 1.5) if len(epochs) == 1 else (None, None)))
            # Few epochs: a tick per epoch, not 1.2, 1.4, … (where each label gets 4 columns).
            whole = len(epochs) == 1 or epoch_plot.size.width >= 4 * len(epochs) + epoch_plot.margin_left
            epoch_plot.set_xticks([float(e) for e in epochs] if whole else None)
            # Curves that share cells alternate colours there (FastCanvas.share_cells).
            for key, _, style in SERIES:
                values = table[key]
                if len(values) == 1:
                    epoch_plot.scatter(epochs, values, marker="●", marker_style=style)
                else:
                    epoch_plot.plot(epochs, values, line_style=style, hires_mode=HiResMode.BRAILLE)
