"""The loss panels draw numbers a reader trusts: every x-axis label is whole, at any width."""

from __future__ import annotations

import re

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region

from vae_tui.tui.widgets.losses import SERIES, LossHistory, LossPanel, LossPlot


class PanelApp(App[None]):
    def __init__(self, history: LossHistory) -> None:
        super().__init__()
        self.history = history

    def compose(self) -> ComposeResult:
        yield LossPanel(self.history)


def history_of(steps: int, epochs: int) -> LossHistory:
    h = LossHistory()
    s = np.arange(1, steps + 1)
    h.add_batches(s.tolist(), (100 + 300 / np.sqrt(s)).tolist())
    for e in range(1, epochs + 1):
        h.epochs.append({"epoch": e, "loss": 100 + 50 / e, "bce": 80 + 40 / e, "kld": 20 + 10 / e,
                         "test_loss": 110 + 50 / e})  # fmt: skip
    h.epoch_version += 1
    return h


def axis_labels(plot: LossPlot) -> list[int]:
    """The numbers on the plot's x axis, read off the screen."""
    margin = plot.query_one("#margin-bottom")
    rows = [s.text for s in margin.render_lines(Region(0, 0, margin.size.width, margin.size.height))]
    return [int(n) for n in re.findall(r"\d+", rows[0])]


@pytest.mark.parametrize(("steps", "width"), [(1007, 50), (1007, 80), (3010, 38), (23450, 38), (23450, 100)])
async def test_x_labels_are_never_cut_at_the_right_edge(steps: int, width: int) -> None:
    """A tick just short of the last step used to be centred in the last column, so "1000"
    showed as "100": the labels must be exactly the nice multiples the axis uses."""
    app = PanelApp(history_of(steps, 7))
    async with app.run_test(size=(width, 30)) as pilot:
        panel = app.query_one(LossPanel)
        panel.redraw(force=True)
        await pilot.pause(0.2)
        labels = axis_labels(app.query_one("#batch-plot", LossPlot))
        assert len(labels) >= 2, labels
        spacing = labels[1] - labels[0]
        assert labels == list(range(labels[0], labels[-1] + 1, spacing)), labels
        assert steps - 2 * spacing < labels[-1] <= steps  # at most the tick at the edge was dropped
        assert axis_labels(app.query_one("#epoch-plot", LossPlot))[-1] == 7


# Six epochs of a real run (full MNIST, 8 planned, seed 0): the first held-out loss is 3× the rest.
REAL_EPOCHS = [
    {"epoch": 1, "loss": 143.4, "bce": 143.4, "kld": 218.9, "test_loss": 433.9},
    {"epoch": 2, "loss": 101.0, "bce": 91.6, "kld": 75.0, "test_loss": 147.4},
    {"epoch": 3, "loss": 96.6, "bce": 84.9, "kld": 46.8, "test_loss": 127.0},
    {"epoch": 4, "loss": 97.3, "bce": 82.9, "kld": 38.5, "test_loss": 118.9},
    {"epoch": 5, "loss": 99.3, "bce": 82.2, "kld": 34.2, "test_loss": 114.3},
    {"epoch": 6, "loss": 101.7, "bce": 82.1, "kld": 31.5, "test_loss": 112.3},
]


@pytest.mark.parametrize("size", [(40, 22), (80, 46)])
async def test_every_epoch_curve_stays_visible(size: tuple[int, int]) -> None:
    """Scaled to the first epoch's peak, the average loss sat in BCE's and the held-out loss's
    braille cells and vanished under them; each curve must show across the later epochs."""
    h = LossHistory()
    h.epochs.extend(REAL_EPOCHS)
    h.epoch_version += 1
    app = PanelApp(h)
    async with app.run_test(size=size) as pilot:
        app.query_one(LossPanel).redraw(force=True)
        await pilot.pause(0.2)
        canvas = app.query_one("#epoch-plot", LossPlot).query_one("#plot")
        width = canvas.size.width
        cells: dict[str, int] = {}
        for strip in canvas.render_lines(Region(0, 0, width, canvas.size.height)):
            x = 0
            for segment in strip:
                for char in segment.text:
                    if (
                        x > width // 2
                        and "\u2800" < char <= "\u28ff"
                        and segment.style
                        and segment.style.color
                    ):
                        cells[segment.style.color.name] = cells.get(segment.style.color.name, 0) + 1
                    x += 1
        # The right half (epochs 3.5 to 6) shows four colours (the theme resolves their names).
        assert len(cells) == len(SERIES) and min(cells.values()) >= 3, cells


def y_labels(plot: LossPlot) -> list[int]:
    margin = plot.query_one("#margin-left")
    rows = [s.text for s in margin.render_lines(Region(0, 0, margin.size.width, margin.size.height))]
    return [int(n) for row in rows for n in re.findall(r"\d+", row)]


@pytest.mark.parametrize("height", [16, 20, 24, 48])
async def test_y_labels_are_evenly_spaced_at_any_height(height: int) -> None:
    """On a short plot two ticks used to share a row, one label overwrote the other and the axis
    read 140 120 100 60 40: the labels must be a whole arithmetic sequence."""
    h = history_of(3010, 0)
    h.epochs.extend(REAL_EPOCHS)
    h.epoch_version += 1
    app = PanelApp(h)
    async with app.run_test(size=(60, height)) as pilot:
        app.query_one(LossPanel).redraw(force=True)
        await pilot.pause(0.2)
        for plot in app.query(LossPlot):
            labels = y_labels(plot)
            assert len(labels) >= 2, labels
            spacing = labels[0] - labels[1]
            assert spacing > 0 and labels == list(range(labels[0], labels[-1] - 1, -spacing)), labels


@pytest.mark.parametrize("epochs", [2, 6])
async def test_a_few_epochs_get_a_tick_each(epochs: int) -> None:
    h = LossHistory()
    h.epochs.extend(REAL_EPOCHS[:epochs])
    h.epoch_version += 1
    app = PanelApp(h)
    async with app.run_test(size=(80, 30)) as pilot:
        app.query_one(LossPanel).redraw(force=True)
        await pilot.pause(0.2)
        assert axis_labels(app.query_one("#epoch-plot", LossPlot)) == list(range(1, epochs + 1))


async def test_one_epoch_is_a_labelled_point_inside_the_plot() -> None:
    """After the first epoch the axis read 0.9999990 … 1.0000005, and the held-out point, the
    largest value, sat above the autoscaled range and was not drawn."""
    h = LossHistory()
    h.epochs.append(REAL_EPOCHS[0])
    h.epoch_version += 1
    app = PanelApp(h)
    async with app.run_test(size=(60, 30)) as pilot:
        app.query_one(LossPanel).redraw(force=True)
        await pilot.pause(0.2)
        plot = app.query_one("#epoch-plot", LossPlot)
        assert axis_labels(plot) == [1]
        canvas = plot.query_one("#plot")
        text = "".join(
            s.text for s in canvas.render_lines(Region(0, 0, canvas.size.width, canvas.size.height))
        )
        assert text.count("●") >= 3  # loss and BCE share a point (β = 0 in epoch 1); KLD, held-out
