"""A run's loss curves as a PNG, drawn with PIL (matplotlib would add ~40 MB for two plots).

Top: the training objective of every batch (what batches.jsonl logged), by step. Bottom: the
held-out −ELBO, BCE and KLD of each epoch (metrics.jsonl), by epoch. Axes with tick labels and a
legend, so the picture stands on its own in a report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .metrics import History

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

WIDTH, HEIGHT = 960, 720
MARGIN = (80, 40, 24, 48)  # a panel's left, top, right, bottom margins (tick labels, title)
BACKGROUND, INK, GRID = (255, 255, 255), (40, 40, 40), (225, 225, 225)
COLOURS = {
    "batch": (166, 206, 227), "smoothed": (31, 119, 180),
    "-ELBO": (31, 119, 180), "BCE": (255, 127, 14), "KLD": (44, 160, 44),
}  # fmt: skip
"""The labels are ASCII: PIL's built-in font has no − or β."""
SMOOTH_POINTS = 200  # the smoothed batch curve averages windows of 1/200 of the run
BATCH_TOP_QUANTILE = 0.99  # the first batches' loss (~550) would flatten the rest: clip above this


@dataclass(frozen=True)
class Series:
    name: str
    x: np.ndarray
    y: np.ndarray


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values (1, 2 or 5 × 10^k apart) covering [low, high]."""
    if not high > low:
        high = low + 1.0
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def tick_text(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:g}"


def draw_panel(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    title: str,
    xlabel: str,
    series: list[Series],
    top: float | None = None,
) -> None:
    """Axes, ticks, grid, the series as lines (values above `top` drawn at it) and a legend."""
    from PIL import ImageFont  # noqa: PLC0415

    font = ImageFont.load_default(size=13)
    left, upper = box[0] + MARGIN[0], box[1] + MARGIN[1]
    right, lower = box[2] - MARGIN[2], box[3] - MARGIN[3]
    draw.text(((box[0] + box[2]) // 2, box[1] + 14), title, fill=INK, font=font, anchor="mm")
    draw.text(((left + right) // 2, box[3] - 12), xlabel, fill=INK, font=font, anchor="mm")
    shown = [s for s in series if len(s.x)]
    if not shown:
        draw.rectangle((left, upper, right, lower), outline=INK)
        draw.text(
            ((left + right) // 2, (upper + lower) // 2),
            "nothing logged yet",
            fill=INK,
            font=font,
            anchor="mm",
        )
        return
    x_low = min(float(s.x.min()) for s in shown)
    x_high = max(float(s.x.max()) for s in shown)
    y_low = min(0.0, *(float(s.y.min()) for s in shown))
    y_high = top if top is not None else max(float(s.y.max()) for s in shown)
    x_high, y_high = max(x_high, x_low + 1), max(y_high, y_low + 1e-6)

    def px(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
        xs = left + (x - x_low) / (x_high - x_low) * (right - left)
        ys = lower - (np.minimum(y, y_high) - y_low) / (y_high - y_low) * (lower - upper)
        return list(zip(xs.tolist(), ys.tolist(), strict=True))

    for value in nice_ticks(y_low, y_high):
        y = px(np.array([x_low]), np.array([value]))[0][1]
        draw.line((left, y, right, y), fill=GRID)
        draw.text((left - 6, y), tick_text(value), fill=INK, font=font, anchor="rm")
    for value in nice_ticks(x_low, x_high, 6):
        x = px(np.array([value]), np.array([y_low]))[0][0]
        draw.line((x, lower, x, lower + 4), fill=INK)
        draw.text((x, lower + 6), tick_text(value), fill=INK, font=font, anchor="mt")
    draw.rectangle((left, upper, right, lower), outline=INK)
    for s in shown:
        points = px(s.x.astype(float), s.y.astype(float))
        draw.line(points if len(points) > 1 else points * 2, fill=COLOURS[s.name], width=2)
    legend(draw, (right - 8, upper + 8), [s.name for s in shown], font)


def legend(
    draw: ImageDraw.ImageDraw, corner: tuple[int, int], names: list[str], font: ImageFont.FreeTypeFont
) -> None:
    """A boxed key in the panel's top right corner: a line of each series' colour and its name."""
    row, width = 18, 24 + max(int(draw.textlength(n, font=font)) for n in names) + 12
    x0, y0 = corner[0] - width, corner[1]
    draw.rectangle((x0, y0, corner[0], y0 + row * len(names) + 6), fill=BACKGROUND, outline=INK)
    for i, name in enumerate(names):
        y = y0 + 3 + row * i + row // 2
        draw.line((x0 + 6, y, x0 + 22, y), fill=COLOURS[name], width=3)
        draw.text((x0 + 28, y), name, fill=INK, font=font, anchor="lm")


def smoothed(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means of consecutive windows (1/SMOOTH_POINTS of the points each): the trend in the noise."""
    window = max(1, len(y) // SMOOTH_POINTS)
    n = len(y) // window * window
    if n == 0:
        return x[:0], y[:0]
    return x[:n].reshape(-1, window).mean(1), y[:n].reshape(-1, window).mean(1)


def loss_curves(history: History) -> np.ndarray:
    """The two panels as an RGB uint8 (HEIGHT, WIDTH, 3) picture."""
    from PIL import Image, ImageDraw  # noqa: PLC0415

    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    steps, losses = np.asarray(history.steps, float), np.asarray(history.losses, float)
    top = float(np.quantile(losses, BATCH_TOP_QUANTILE)) if len(losses) else None
    clipped = " (clipped at its 99th percentile)" if top is not None and top < losses.max() else ""
    batches = [Series("batch", steps, losses), Series("smoothed", *smoothed(steps, losses))]
    draw_panel(draw, (0, 0, WIDTH, HEIGHT // 2), f"Training loss per batch, BCE + beta*KLD{clipped}", "step",
               batches, top)  # fmt: skip
    rows = [
        r
        for r in history.epochs
        if all(isinstance(r.get(k), int | float) for k in ("test_loss", "test_bce", "test_kld"))
    ]
    epochs = np.array([r["epoch"] for r in rows], float)
    per_epoch = [Series(name, epochs, np.array([r[key] for r in rows], float))
                 for name, key in (("-ELBO", "test_loss"), ("BCE", "test_bce"), ("KLD", "test_kld"))]  # fmt: skip
    draw_panel(
        draw,
        (0, HEIGHT // 2, WIDTH, HEIGHT),
        "Held-out per epoch (beta = 1), nats per image",
        "epoch",
        per_epoch,
    )
    return np.asarray(image, dtype=np.uint8).copy()
