"""Images in any terminal: two pixels per cell with the upper-half block `▀` (fg top, bg bottom).

One Line-API widget draws a whole grid: the strips are built once per image (styles cached per
colour pair), and `render_line` only pads them to the widget's width. Measured here that is ~6×
cheaper per redraw than one rich-pixels widget per tile, which keeps key presses well under 100 ms.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"
PAD_GREY = 40  # the gap between tiles: dark but not black, so black digit backgrounds separate
HIGHLIGHT = (255, 176, 0)  # amber frame around the selected tile(s)


@lru_cache(maxsize=65536)
def cell_style(top: int, bottom: int) -> Style:
    """The style of one cell; colours are packed 0xRRGGBB ints."""
    return Style(
        color=Color.from_rgb(top >> 16, (top >> 8) & 255, top & 255),
        bgcolor=Color.from_rgb(bottom >> 16, (bottom >> 8) & 255, bottom & 255),
    )


def pack_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (H, W) ints 0xRRGGBB; grey levels are rounded to 64 steps, which the eye
    cannot tell apart in a terminal, so far fewer distinct styles are created."""
    q = (image & 0xFC).astype(np.uint32)
    return (q[..., 0] << 16) | (q[..., 1] << 8) | q[..., 2]


def image_to_lines(image: np.ndarray) -> list[list[Segment]]:
    """An (H, W, 3) uint8 image as rows of segments, two pixel rows per line."""
    packed = pack_rgb(image)
    if packed.shape[0] % 2:
        # An odd last row shares its cell with the frame colour, not black: no dark seam.
        packed = np.vstack([packed, np.full((1, packed.shape[1]), PAD_GREY * 0x010101, dtype=packed.dtype)])
    lines = []
    for y in range(0, packed.shape[0], 2):
        segments = []
        top, bottom = packed[y].tolist(), packed[y + 1].tolist()
        run_start = 0
        for x in range(1, len(top) + 1):
            if x == len(top) or top[x] != top[run_start] or bottom[x] != bottom[run_start]:
                segments.append(
                    Segment(UPPER_HALF * (x - run_start), cell_style(top[run_start], bottom[run_start]))
                )
                run_start = x
        lines.append(segments)
    return lines


def downsample(tiles: np.ndarray, factor: int) -> np.ndarray:
    """Average-pool the last two axes by `factor` (28 → 14 for 2×)."""
    if factor == 1:
        return tiles
    *lead, h, w = tiles.shape
    pooled = tiles.reshape(*lead, h // factor, factor, w // factor, factor).mean(axis=(-3, -1))
    return (pooled + 0.5).astype(np.uint8)


def tile_image(
    tiles: np.ndarray,
    highlight: set[tuple[int, int]] | None = None,
    factor: int = 1,
    gap_rows: set[int] | None = None,
    marks: dict[tuple[int, int], str] | None = None,
) -> np.ndarray:
    """(R, C, 28, 28) grey tiles → (H, W, 3) RGB with gaps; highlighted tiles get an amber frame.

    `gap_rows` are rows after which a wider gap is left (to separate groups of rows). `marks`
    letters (`MARK_COLOURS`' keys) label tiles: a frame of their colour (the highlight's wins)
    and the letter in the tile's top-left corner, which MNIST-like images leave black."""
    tiles = downsample(tiles, factor)
    rows, cols, h, w = tiles.shape
    pad = 2 if factor == 1 else 1
    extra = pad * 2
    heights = [h + pad + (extra if gap_rows and r in gap_rows else 0) for r in range(rows)]
    out = np.full((pad + sum(heights), pad + cols * (w + pad), 3), PAD_GREY, dtype=np.uint8)
    y = pad
    for r in range(rows):
        for c in range(cols):
            x = pad + c * (w + pad)
            out[y : y + h, x : x + w] = tiles[r, c][..., None]
            if marks and (r, c) in marks:
                mark(out, y, x, h, w, pad, marks[r, c])
            if highlight and (r, c) in highlight:
                out[y - pad : y, x - pad : x + w + pad] = HIGHLIGHT
                out[y + h : y + h + pad, x - pad : x + w + pad] = HIGHLIGHT
                out[y - pad : y + h + pad, x - pad : x] = HIGHLIGHT
                out[y - pad : y + h + pad, x + w : x + w + pad] = HIGHLIGHT
        y += heights[r]
    return out


MARK_COLOURS = {"A": (0, 200, 255), "B": (255, 80, 200)}
"""The interpolation's ends as the reconstructions frame them (cyan A, magenta B)."""
GLYPHS = {
    "A": ("010", "101", "111", "101", "101"),
    "B": ("110", "101", "110", "101", "110"),
}
"""3×5 pixel letters: legible even on 2× smaller (14-pixel) tiles."""


def mark(out: np.ndarray, y: int, x: int, h: int, w: int, pad: int, letter: str) -> None:
    """Frame the tile at (y, x) in `letter`'s colour and write the letter in its top-left corner."""
    colour = MARK_COLOURS[letter]
    out[y - pad : y, x - pad : x + w + pad] = colour
    out[y + h : y + h + pad, x - pad : x + w + pad] = colour
    out[y - pad : y + h + pad, x - pad : x] = colour
    out[y - pad : y + h + pad, x + w : x + w + pad] = colour
    for dy, row in enumerate(GLYPHS[letter]):  # a pixel in from the frame, so it reads as a letter
        for dx, bit in enumerate(row):
            if bit == "1":
                out[y + 1 + dy, x + 1 + dx] = colour


def fit_count(pixels: int, factor: int) -> int:
    """How many tiles fit along `pixels` at a downsampling factor."""
    tile, pad = 28 // factor, 2 if factor == 1 else 1
    return max(0, (pixels - pad) // (tile + pad))


class Budget(NamedTuple):
    """One way to lay a grid out: `width`×`height` grid pixels, tiles downsampled by `factor`,
    each grid pixel drawn as `scale`×`scale` screen pixels."""

    width: int
    height: int
    factor: int
    scale: int


class HalfBlockView(Widget):
    """Draws one RGB image, centred; shows a one-line note instead when there is none."""

    DEFAULT_CSS = """
    HalfBlockView { width: 1fr; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[list[Segment]] = []
        self._image_width = 0
        self._blank: Style | None = None
        self._strips: list[Strip] = []
        self._strips_key: tuple[int, int, int] | None = None
        self._version = 0
        self.note = ""

    def notify_style_update(self) -> None:
        self._blank = None  # `rich_style` is costly to compute (~0.2 ms): once per style change
        self._strips_key = None
        super().notify_style_update()

    def set_image(self, image: np.ndarray | None, note: str = "", scale: int = 1) -> None:
        if image is None:
            self._lines, self._image_width = [], 0
        else:
            self._lines, self._image_width = image_to_lines(image), image.shape[1]
        self.note = note
        self._version += 1
        self.refresh()

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(width, height) in pixels that fit: one per column, two per row."""
        return self.size.width, self.size.height * 2

    def budgets(self) -> list[Budget]:
        """Full-size tiles if they fit well, else 2× smaller ones (the last choice always goes)."""
        width, height = self.pixel_size
        return [Budget(width, height, 1, 1), Budget(width, height, 2, 1)]

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (width, height, self._version)
        if self._strips_key != key:  # build the strips once per image and size, not per frame
            self._strips = self._build_strips(width, height)
            self._strips_key = key
        return self._strips[y] if 0 <= y < len(self._strips) else Strip.blank(width, self._blank_style())

    def _blank_style(self) -> Style:
        if self._blank is None:
            self._blank = self.rich_style
        return self._blank

    def _build_strips(self, width: int, height: int) -> list[Strip]:
        blank = self._blank_style()
        empty = Strip.blank(width, blank)
        strips = [empty] * height
        if not self._lines:
            if self.note and height:
                strips[0] = Strip([Segment(self.note[:width], blank)]).extend_cell_length(width, blank)
            return strips
        top = max(0, (height - len(self._lines)) // 2)
        left = max(0, (width - self._image_width) // 2)
        pad = [Segment(" " * left, blank)] if left else []
        for row, segments in enumerate(self._lines):
            if 0 <= top + row < height:
                strips[top + row] = Strip([*pad, *segments]).crop_extend(0, width, blank)
        return strips
