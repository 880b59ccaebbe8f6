"""A scatter plot as an RGB image, one colour per pixel: what the latent map draws.

However many points there are, the picture is only as large as the cells can show, so the points
are binned into its pixels with numpy (a `bincount`, no Python loop per point) and each pixel
takes the colour of the class most of its points belong to: drawing costs the same for 500
points as for 10,000, and no class hides another just by being drawn last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.text import Text

RGB = tuple[int, int, int]

CLASS_COLOURS: tuple[RGB, ...] = (
    (64, 144, 224), (252, 140, 24), (60, 188, 60), (232, 60, 60), (172, 120, 232),
    (180, 120, 88), (240, 128, 200), (152, 152, 152), (204, 204, 48), (40, 212, 224),
)  # fmt: skip
"""Matplotlib's tab10, lightened for a dark background. Every colour here is a multiple of 4:
half-block cells (which round colours to 64 levels) show them exactly."""
UNLABELLED: RGB = (200, 200, 200)
BACKGROUND: RGB = (16, 16, 16)
AXIS: RGB = (64, 64, 64)
CURSOR: RGB = (252, 252, 252)
CURSOR_ARM = 2  # pixels each way from the cursor's centre
BULK = (0.005, 0.995)
"""The quantiles of the points framed: a few far outliers would otherwise squeeze the rest into
a corner."""
MARGIN = 0.05  # of the framed span, on each side


@dataclass(frozen=True)
class Frame:
    """Where the plane lies on the picture: (left, top) is its top-left corner in plane units,
    `per_pixel` plane units per pixel, the same both ways (distances on the map are distances in
    the plane; a half-block pixel is about square)."""

    left: float
    top: float
    per_pixel: float
    width: int
    height: int

    def pixels(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns, rows) of the pixels holding plane points `xy` (N, 2); y grows upwards."""
        cols = np.floor((xy[:, 0] - self.left) / self.per_pixel).astype(np.int64)
        rows = np.floor((self.top - xy[:, 1]) / self.per_pixel).astype(np.int64)
        return cols, rows

    def inside(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return (cols >= 0) & (cols < self.width) & (rows >= 0) & (rows < self.height)

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x from, x to), (y from, y to)) in plane units."""
        right, bottom = self.left + self.width * self.per_pixel, self.top - self.height * self.per_pixel
        return (self.left, right), (bottom, self.top)

    def clamp(self, xy: np.ndarray) -> np.ndarray:
        """`xy` (2,) moved inside the picture (half a pixel in from its edges)."""
        (x0, x1), (y0, y1) = self.bounds
        half = self.per_pixel / 2
        return np.array([min(max(xy[0], x0 + half), x1 - half), min(max(xy[1], y0 + half), y1 - half)])


def fit_frame(points: np.ndarray, width: int, height: int) -> Frame:
    """The bulk of `points` (N, 2) and the origin, with a margin, in at most `width`×`height`
    pixels at one scale for both axes, centred."""
    if len(points):
        low, high = np.quantile(points, BULK, axis=0)
    else:
        low, high = np.full(2, -1.0), np.full(2, 1.0)
    low, high = np.minimum(low, 0.0), np.maximum(high, 0.0)
    span = np.maximum(high - low, 1e-6)
    low, high = low - span * MARGIN, high + span * MARGIN
    span = high - low
    per_pixel = float(max(span[0] / width, span[1] / height))
    cols = min(width, math.ceil(span[0] / per_pixel - 1e-9))
    rows = min(height, math.ceil(span[1] / per_pixel - 1e-9))
    rows += rows % 2 if rows < height else 0  # whole cells: an odd last pixel row showed as a grey line
    centre = (low + high) / 2
    return Frame(
        float(centre[0] - cols * per_pixel / 2),
        float(centre[1] + rows * per_pixel / 2),
        per_pixel,
        cols,
        rows,
    )


def class_colour(label: int) -> RGB:
    return CLASS_COLOURS[label % len(CLASS_COLOURS)]


def scatter(points: np.ndarray, labels: np.ndarray | None, frame: Frame) -> np.ndarray:
    """(H, W, 3) uint8: the plane's axes through 0 in grey, and each pixel holding points in
    the colour of its most frequent class (ties: the lower label)."""
    canvas = np.empty((frame.height, frame.width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    (col0,), (row0,) = frame.pixels(np.zeros((1, 2)))
    if 0 <= row0 < frame.height:
        canvas[row0, :] = AXIS
    if 0 <= col0 < frame.width:
        canvas[:, col0] = AXIS
    cols, rows = frame.pixels(points)
    inside = frame.inside(cols, rows)
    flat = rows[inside] * frame.width + cols[inside]
    pixels = canvas.reshape(-1, 3)
    if labels is None:
        pixels[flat] = UNLABELLED
        return canvas
    palette = np.array(CLASS_COLOURS, dtype=np.uint8)
    classes = len(palette)
    counts = np.bincount(
        flat * classes + labels[inside] % classes, minlength=frame.width * frame.height * classes
    ).reshape(-1, classes)
    occupied = counts.any(axis=1)
    pixels[occupied] = palette[counts[occupied].argmax(axis=1)]
    return canvas


def with_cursor(canvas: np.ndarray, col: int, row: int) -> np.ndarray:
    """A copy of `canvas` with a white cross centred on pixel (col, row)."""
    image = canvas.copy()
    height, width = image.shape[:2]
    if 0 <= row < height:
        image[row, max(0, col - CURSOR_ARM) : max(0, col + CURSOR_ARM + 1)] = CURSOR
    if 0 <= col < width:
        image[max(0, row - CURSOR_ARM) : max(0, row + CURSOR_ARM + 1), col] = CURSOR
    return image


def legend(classes: tuple[str, ...], present: set[int] | None, width: int) -> Text:
    """A swatch and a name per class, packed into lines of `width` cells (None: no labels)."""
    if present is None:
        return Text.assemble(("██", "rgb({},{},{})".format(*UNLABELLED)), " no labels")
    text, line = Text(), 0
    for label in sorted(present):
        name = classes[label] if 0 <= label < len(classes) else str(label)
        entry = 3 + len(name)  # "██ name"
        if line and line + 1 + entry > width:
            text.append("\n")
            line = 0
        elif line:
            text.append(" ")
            line += 1
        text.append("██", "rgb({},{},{})".format(*class_colour(label)))
        text.append(f" {name}")
        line += entry
    return text
