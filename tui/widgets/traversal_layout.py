"""How the latent traversal is laid out: how many offsets and rows fit beside the row labels and
the large scrubbing image, the grid picture itself, and where its rows and columns fall in cells.

Torch-free and widget-free arithmetic, so the view (`traversal.py`) only decides what to show.
Sizes are in half-block units (a cell is 1 pixel wide, 2 tall), which is also how many cells a
protocol picture gets: it then draws the same grid sharper, at a whole-number scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from rich.text import Text

from ..wording import signed
from .halfblock import tile_image

LABEL_WIDTH = 11
"""Cells of the row labels at the grid's left ("▸ z12", "0.84 nats", "inactive")."""
COMPACT_LABEL_WIDTH = 5
"""Cells of the row labels where the wide ones would cost the large image or offsets ("▸z12",
"0.84", "inact"): at 80 columns, the label column, three offsets and the large image fit so."""
GAP = 1
"""Cells between the grid and the large image."""
BASE_FRAME = (70, 110, 170)
"""The frame of the base column (offset 0: the base code's own decoding), setting it apart."""
SELECTED_STYLE = "bold #ffb000"  # the amber of the selected row's frame
INACTIVE_DIM = 0.35
"""An inactive dimension's row is drawn at this fraction of its brightness (greyed out)."""
CANDIDATES = ((1, 7, True), (2, 7, True), (2, 5, True), (2, 3, True), (2, 5, False), (2, 3, False))
"""(downsampling, offsets, large image) in order of preference: full-size tiles only with every
offset and the large image; then fewer offsets before giving up the large image."""


@dataclass(frozen=True)
class Plan:
    """A traversal layout: `steps` offsets by `rows` dimensions of tiles downsampled `factor`×,
    beside row labels `label` cells wide, and the large image `big`×28 cells wide (0: none fits)."""

    factor: int
    steps: int
    rows: int
    big: int
    label: int = LABEL_WIDTH

    @property
    def tile(self) -> int:
        return 28 // self.factor

    @property
    def pad(self) -> int:
        return 2 if self.factor == 1 else 1

    @property
    def width(self) -> int:
        """The grid's width in cells (half-block pixels)."""
        return self.pad + self.steps * (self.tile + self.pad)


def plan_layout(width: int, height: int, latent_dim: int) -> Plan | None:
    """The first candidate layout that fits `width`×`height` cells (None: none does), with the
    wide row labels if it fits them, else the compact ones."""
    for factor, steps, wants_big in CANDIDATES:
        pitch, pad = 28 // factor + (2 if factor == 1 else 1), 2 if factor == 1 else 1
        rows = min(latent_dim, (2 * height - pad) // pitch)
        grid = pad + steps * pitch
        smallest = 2 if factor == 1 else 1  # at least twice the grid's tiles
        if rows < (min(3, latent_dim) if factor == 1 else 1):
            continue
        for label in (LABEL_WIDTH, COMPACT_LABEL_WIDTH):
            room = width - label - grid - GAP
            big = max(0, min(room // 28, (height - 1) // 14))  # the image and its value's line
            if label + grid > width or (wants_big and big < smallest):
                continue
            return Plan(factor, steps, rows, big if big >= smallest else 0, label)
    return None


def sweep_grid(tiles: np.ndarray, factor: int, selected: int | None, inactive: set[int]) -> np.ndarray:
    """(R, S, 28, 28) tiles → RGB grid: the selected row framed amber, inactive rows greyed out,
    the middle column (offset 0, the base itself) framed blue."""
    tiles = tiles.copy()
    for row in inactive:
        tiles[row] = (tiles[row] * INACTIVE_DIM).astype(np.uint8)
    rows, steps = tiles.shape[:2]
    frame = {(selected, c) for c in range(steps)} if selected is not None else set()
    image = tile_image(tiles, frame, factor)
    tile, pad, middle = 28 // factor, 2 if factor == 1 else 1, steps // 2
    x = pad + middle * (tile + pad)
    for row in range(rows):
        if row == selected:
            continue
        y = pad + row * (tile + pad)
        box = image[y - pad : y + tile + pad, x - pad : x + tile + pad]
        inside = box[pad:-pad, pad:-pad].copy()
        box[:] = BASE_FRAME
        box[pad:-pad, pad:-pad] = inside
    return image


def is_inactive(usage: dict[str, Any], dim: int) -> bool:
    """A dimension whose mean code barely varies over the test images (Burda et al.'s criterion)."""
    from vae_tui.core.evaluate import ACTIVE_UNIT_THRESHOLD  # noqa: PLC0415 - torch

    return usage["activity_per_dim"][dim] <= ACTIVE_UNIT_THRESHOLD


def place(line: list[str], text: str, centre: int) -> None:
    """Write `text` into `line` centred on cell `centre`, clipped to the line."""
    start = max(0, min(len(line) - len(text), centre - len(text) // 2))
    for i, char in enumerate(text[: len(line)]):
        line[start + i] = char


def offset_text(offset: float) -> str:
    return f"{offset:+g}σ".replace("-", "−") if offset else "0"


def column_header(
    width: int, dim: int, base: float, offsets: list[float], centres: list[int], pitch: int
) -> list[str]:
    """Over each column its offset and the selected dimension's value there (base + offset);
    over the middle one, "base" and its own value. Only the value where the words do not fit;
    at the left "offset→z_d", or "z_d" where the compact row labels leave no room for it."""
    line = [" "] * max(0, width)
    columns = []
    for offset, centre in zip(offsets, centres, strict=True):
        value = signed(base + offset)
        words = f"base {value}" if not offset else f"{offset_text(offset)} → {value}"
        columns.append((words if len(words) < pitch else value, centre))
    first = columns[0][1] - len(columns[0][0]) // 2 if columns else width
    head = f"offset→z{dim + 1}" if len(f"offset→z{dim + 1}") < first else f"z{dim + 1}"
    place(line, head, len(head) // 2)
    for words, centre in columns:
        place(line, words, centre)
    return line


class RowLabel(NamedTuple):
    top: int
    """The label's first line: its row's first line of tiles."""
    dim: int
    kl: float
    inactive: bool
    selected: bool


def row_labels(rows: list[RowLabel], height: int, width: int = LABEL_WIDTH) -> Text:
    """The label column: beside each row its dimension, KL in nats and "inactive" if it is
    (`width` cells: "▸ z12", "  0.84 nats", "  inactive"; compact: "▸z12", "0.84", "inact")."""
    lines = [Text() for _ in range(height)]
    for row in rows:
        marker = "▸" if row.selected else " "
        if width < LABEL_WIDTH:
            kl = f"{row.kl:.2f}" if row.kl < 10 else f"{row.kl:.1f}"
            words = [f"{marker}z{row.dim + 1}", kl] + (["inact"] if row.inactive else [])
        else:
            words = [f"{marker} z{row.dim + 1}", f"  {row.kl:.2f} nats"]
            words += ["  inactive"] if row.inactive else []
        style = SELECTED_STYLE if row.selected else ("dim" if row.inactive else "")
        for i, word in enumerate(words):
            if 0 <= row.top + i < height:
                lines[row.top + i] = Text(word[:width], style=style)
    return Text("\n").join(lines)


def scrub_value(dim: int, base: float, offset: float) -> str:
    """z_d = base + offset = value, as the large image shows it."""
    sign = "−" if offset < 0 else "+"
    return f"z{dim + 1} = {signed(base)} {sign} {abs(offset):.2f} = {signed(base + offset)}"
