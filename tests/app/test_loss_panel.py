"""The loss panels draw numbers a reader trusts: every x-axis label is whole, at any width."""

from __future__ import annotations

import re

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region

from vae_tui.tui.widgets.loss_history import LossHistory
from vae_tui.tui.widgets.losses import SERIES, LossPanel
from vae_tui.tui.widgets.plot import LossPlot


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


# Two real runs (seed 0, 20,000 training images): where the issue saw the held-out −ELBO vanish
# under the curve drawn after it. Late in training the training −ELBO (BCE + KLD) and the held-out
# one are within a nat of each other, and with a 2-d latent BCE is within 6 nats of both.
RUN_20_EPOCHS = [
    (206.53, 101.71, 0.0, 329.79),
    (124.17, 98.79, 0.05, 199.98),
    (103.87, 71.58, 0.1, 166.74),
    (94.94, 59.54, 0.15, 149.86),
    (90.67, 51.30, 0.2, 138.83),
    (87.87, 46.03, 0.25, 132.31),
    (85.97, 42.32, 0.3, 127.45),
    (84.85, 39.53, 0.35, 123.55),
    (84.06, 37.25, 0.4, 121.12),
    (83.52, 35.54, 0.45, 118.62),
    (83.20, 34.11, 0.5, 117.21),
    (83.02, 32.91, 0.55, 116.20),
    (82.82, 31.85, 0.6, 115.14),
    (82.80, 30.93, 0.65, 113.86),
    (82.75, 30.09, 0.7, 113.10),
    (82.82, 29.33, 0.75, 112.50),
    (82.99, 28.57, 0.8, 112.00),
    (83.09, 27.97, 0.85, 111.51),
    (83.30, 27.29, 0.9, 110.90),
    (83.53, 26.76, 0.95, 110.74),
]  # (bce, kld, beta, test_loss) per epoch; `vae-tui --train-only --epochs 20 --train-limit 20000`
RUN_LATENT_2 = [
    (212.3, 30.0, 0.0, 220.6),
    (176.3, 24.8, 0.1, 193.2),
    (170.1, 15.4, 0.2, 180.6),
    (166.1, 11.3, 0.3, 174.7),
    (163.8, 9.1, 0.4, 171.3),
    (162.4, 7.9, 0.5, 168.8),
    (161.2, 7.2, 0.6, 167.7),
    (160.3, 6.6, 0.7, 166.4),
    (159.5, 6.2, 0.8, 165.5),
    (158.8, 6.0, 0.9, 164.7),
]  # the same with --epochs 10 --latent-dim 2


def run_history(rows: list[tuple[float, float, float, float]]) -> LossHistory:
    h = LossHistory()
    for epoch, (bce, kld, beta, test_loss) in enumerate(rows, 1):
        h.add_epoch({"epoch": epoch, "loss": bce + beta * kld, "bce": bce, "kld": kld, "beta": beta,
                     "test_loss": test_loss})  # fmt: skip
    return h


def colours_in(plot: LossPlot, from_fraction: float) -> dict[str, int]:
    """Braille cells per colour right of `from_fraction` of the plot's width."""
    canvas = plot.query_one("#plot")
    width = canvas.size.width
    cells: dict[str, int] = {}
    for strip in canvas.render_lines(Region(0, 0, width, canvas.size.height)):
        x = 0
        for segment in strip:
            for char in segment.text:
                if x >= width * from_fraction and "\u2800" < char <= "\u28ff" and segment.style.color:
                    cells[segment.style.color.name] = cells.get(segment.style.color.name, 0) + 1
                x += 1
    return cells


@pytest.mark.parametrize("rows", [RUN_20_EPOCHS, RUN_LATENT_2], ids=["20-epochs", "latent-2"])
@pytest.mark.parametrize("size", [(40, 14), (57, 43), (80, 18), (120, 30)])
async def test_curves_that_coincide_all_stay_visible(rows: list, size: tuple[int, int]) -> None:
    """The held-out −ELBO vanished under the curve drawn after it wherever they shared braille
    cells (after epoch ~14.5 of 20 in the side panel at 160×46, ~5.5 on the 80×24 Losses tab,
    all but epochs 2–3.6 with a 2-d latent): every curve must show over the last quarter too."""
    app = PanelApp(run_history(rows))
    async with app.run_test(size=size) as pilot:
        app.query_one(LossPanel).redraw(force=True)
        await pilot.pause(0.2)
        cells = colours_in(app.query_one("#epoch-plot", LossPlot), 0.75)
        assert len(cells) == len(SERIES), cells  # each curve's colour is on screen there


async def test_the_epoch_plot_compares_like_with_like() -> None:
    """β-weighted "Avg loss" rose from epoch 7 to 20 while the held-out −ELBO fell, and was
    plotted beside it as if they measured the same thing: the curves are the training −ELBO at
    β = 1 (BCE + KLD) and the held-out −ELBO, and β is in the legend."""
    from vae_tui.tui.widgets.losses import epoch_value

    h = run_history(RUN_20_EPOCHS)
    assert {key for key, _, _ in SERIES} == {"elbo", "test_loss", "bce", "kld"}
    train = [epoch_value(r, "elbo") for r in h.epochs]
    assert train[6] > train[19] and h.epochs[6]["loss"] < h.epochs[19]["loss"]  # falls; β-loss rose
    app = PanelApp(h)
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(LossPanel).redraw(force=True)
        await pilot.pause(0.2)
        title = text(app.query_one("#epoch-title"))
        assert "−ELBO per epoch" in title and "train" in title and "held-out" in title
        assert "β 0→0.95" in title and "Avg loss" not in title
        await pilot.resize_terminal(50, 30)  # a narrow panel wraps the legend, losing none of it
        await pilot.pause(0.3)
        title = text(app.query_one("#epoch-title"))
        assert len(title.splitlines()) == 2 and "β 0→0.95" in title and "KLD" in title


def text(widget) -> str:
    return "\n".join(s.text for s in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)))


async def test_a_browsed_runs_first_batch_plot_is_the_one_drawn_at_its_width(tmp_path) -> None:
    """`--checkpoint` at 160×46 drew the batch losses thinned to 20 points: the side panel,
    hidden until the run's history was in, was drawn before it had a width (another y range, a
    bump the data do not have) and only a resize redrew it right. The first draw must be the one
    a resize, or any redraw at its width, gives."""
    from vae_tui.core.config import TrainConfig
    from vae_tui.core.consumers import drive
    from vae_tui.core.metrics import MetricsWriter
    from vae_tui.core.train import train
    from vae_tui.tui.app import make_app
    from vae_tui.tui.cli import parse_request

    run_dir = tmp_path / "run"
    config = TrainConfig(epochs=2, batch_size=8, hidden_dim=32, latent_dim=4, train_limit=1024, test_limit=64,
                         run_dir=str(run_dir), swanlab="disabled", iwae_k=0, device="cpu")  # fmt: skip
    drive(train(config), [MetricsWriter()])  # 256 batches: more than two per column
    app = make_app(parse_request(["--checkpoint", str(run_dir / "checkpoint.pt"), "--test-limit", "64"]))

    def batch_plot() -> list[str]:
        plot = app.query_one("#side-losses").query_one("#batch-plot", LossPlot)
        return [text(plot.query_one("#plot")), text(plot.query_one("#margin-left"))]

    async with app.run_test(size=(160, 46)) as pilot:
        for _ in range(400):
            if app.state.decoder is not None:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        first = batch_plot()
        app.query_one("#side-losses", LossPanel).redraw(force=True)
        await pilot.pause(0.3)
        assert batch_plot() == first
        await pilot.resize_terminal(150, 46)
        await pilot.pause(0.5)
        await pilot.resize_terminal(160, 46)
        await pilot.pause(0.5)
        assert batch_plot() == first
        await pilot.press("q")
