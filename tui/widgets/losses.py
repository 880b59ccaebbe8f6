"""Loss panels: every batch's loss (raw and smoothed) and the per-epoch averages.

Batches arrive hundreds of times a second; the history only appends to arrays, and the plots are
redrawn from it on a timer (a few Hz), thinned to about two points per column, so the cost of a
redraw does not grow with the length of the run.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual_plot import HiResMode

from .loss_history import LossHistory, thin
from .plot import FastCanvas, LossPlot
from .text_lines import TextLines

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
CURSOR_STYLE = "rgb(255,176,0)"  # the image views' amber: the past epoch they show (`[`/`]`)


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
            "−ELBO per epoch" + self.cursor_note(),
            max(0, self.size.width - 2),
            beta_note(self.history.epochs),
            " (training KL weight)",
        )

    def cursor_note(self) -> str:
        """The past epoch the views show (`[`/`]`), marked │ on the plots; else the keys to go."""
        h = self.history
        return f" · │ epoch {h.cursor}" if h.cursor is not None else " ([ ] past epochs)" if h.epochs else ""

    def on_mount(self) -> None:
        for plot in self.query(LossPlot):
            plot.margin_top = 0
            plot.margin_bottom = 2
            plot.margin_left = 7
        self.query_one("#epoch-plot", LossPlot).query_one("#plot", FastCanvas).share_cells = True

    def on_resize(self) -> None:
        # Thinning depends on the plot's width: redraw once the new layout has given it one.
        self.call_after_refresh(self.redraw)

    def tab_shown(self) -> None:
        """Its tab (the narrow layout's) has just opened."""
        self.redraw(force=True)

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
            ends = [r["step"] for r in h.epochs if r.get("epoch") == h.cursor and "step" in r]
            if ends:  # the past epoch shown ends there
                batch_plot.add_v_line(float(ends[0]), CURSOR_STYLE)

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
            if h.cursor is not None:
                epoch_plot.add_v_line(float(h.cursor), CURSOR_STYLE)
