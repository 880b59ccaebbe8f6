"""The final grids printed into a terminal's scrollback, so a headless run over SSH (or `--eval`)
shows what the model learned without opening the app.

rich-pixels draws a PIL image as half-block cells through Rich (two pixels per cell, so a 28×28
digit takes 28 columns × 14 rows). Only a strip of each grid is drawn, cut at whole tiles to the
terminal's width (halved first if fewer than 4 digits would fit at full size), so it never wraps.
Front ends call this only when their output is a terminal: a pipe or a log file gets no image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from rich.console import Console
from rich_pixels import Pixels

if TYPE_CHECKING:
    import torch

TILE = 30  # a 28-pixel digit and the 2-pixel gap after it, as core.grids lays grids out
PAD = 2
MIN_FULL_SIZE_TILES = 4


def strip(grid: np.ndarray, rows: int, width: int) -> np.ndarray:
    """The first `rows` rows of tiles of a grid, as many whole tiles across as fit in `width`
    columns (a half-block cell is one pixel wide), halved when too few fit at full size."""
    scale = 1 if (width - PAD) // TILE >= MIN_FULL_SIZE_TILES else 2
    columns = max(1, min((grid.shape[1] - PAD) // TILE, (width - PAD) * scale // TILE))
    part = grid[: rows * TILE + PAD, : columns * TILE + PAD]
    if scale == 2:  # a 2×2 box average: each digit 14 pixels wide, still legible
        part = np.asarray(Image.fromarray(part).reduce(2))
    if part.shape[0] % 2:  # whole cells: rich-pixels would stretch an odd height by a row
        part = np.vstack([part, np.zeros_like(part[:1])])
    return part


def print_final_grids(console: Console, reconstructions: np.ndarray, samples: np.ndarray, epoch: str) -> None:
    """Both grids, each under a one-line caption: test images over their reconstructions, and
    decodings of the run's fixed z."""
    console.print(
        f"Reconstructions, {epoch} (top: test images, below: their reconstructions)", highlight=False
    )
    console.print(Pixels.from_image(Image.fromarray(strip(reconstructions, 2, console.width))))
    console.print(f"Samples, {epoch} (decoded from the run's fixed z ~ N(0, I))", highlight=False)
    console.print(Pixels.from_image(Image.fromarray(strip(samples, 2, console.width))))


def print_model_grids(
    console: Console, model: torch.nn.Module, images: torch.Tensor, latent_dim: int, seed: int, what: str
) -> None:
    """The same two grids for a loaded model (`--eval`): its first test images and the run's fixed
    z (the trainer's, for its seed), so they match what the run showed at its last epoch."""
    from vae_tui.core.grids import PREVIEW_IMAGES, preview_grids, preview_latents  # noqa: PLC0415

    z = preview_latents(latent_dim, seed).to(images.device)
    reconstructions, samples = preview_grids(model, images[:PREVIEW_IMAGES], z)
    print_final_grids(console, reconstructions, samples, what)
