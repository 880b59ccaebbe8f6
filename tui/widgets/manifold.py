"""The decoded manifold of a 2-D latent space: decodings on a grid over the plane, as in
Kingma & Welling's figure 4 (2014).

The grid's coordinates are the prior's quantiles (`latent_space.normal_grid`: 5% to 95% of
N(0, 1) both ways), so each tile covers the same probability mass of the prior, not the same
distance. The grid is square (both axes alike, as in the figure) and as fine as tiles of at
least MIN_TILE pixels allow, between MIN_GRID and the figure's 20 a side; the tiles touch, one
continuous sheet, resampled to fit (a terminal's height, at 2 pixels a row, is what limits it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..wording import signed
from .halfblock import Budget
from .views import ImageView

if TYPE_CHECKING:
    from torch import Tensor

MIN_GRID = 6  # smaller tiles rather than fewer than 6×6 of them
MAX_GRID = 20  # Kingma & Welling's figure 4 is 20×20
MIN_TILE = 10  # pixels: below this a digit is hard to make out


def choose_grid(width: int, height: int) -> tuple[int, int]:
    """(n, tile): an n×n grid of `tile`-pixel tiles (at most 28: no enlarging) in width×height."""
    side = min(width, height)
    n = min(MAX_GRID, max(MIN_GRID, side // MIN_TILE))
    return n, min(28, side // n)


def sheet(tiles: Tensor, tile: int) -> np.ndarray:
    """(n, n, 28, 28) uint8 decodings → one (n·tile, n·tile, 3) RGB picture, tiles touching
    (area-averaged to `tile` pixels), with a black row below if it would end on half a cell."""
    import torch  # noqa: PLC0415

    n = tiles.shape[0]
    small = torch.nn.functional.interpolate(
        tiles.reshape(n * n, 1, 28, 28).float(), (tile, tile), mode="area"
    )
    grey = (
        (small + 0.5)
        .to(torch.uint8)
        .reshape(n, n, tile, tile)
        .permute(0, 2, 1, 3)
        .reshape(n * tile, n * tile)
    )
    if grey.shape[0] % 2:
        grey = torch.cat([grey, torch.zeros(1, grey.shape[1], dtype=grey.dtype)])
    return np.repeat(grey.numpy()[..., None], 3, axis=2)


class ManifoldView(ImageView):
    """An n×n grid of decodings over the latent plane (2-D models only: the tab is hidden else)."""

    codes: Tensor | None = None
    """(n², 2): the code of each tile drawn last, row by row from the top left."""

    def title_text(self) -> str:
        return "Decoded manifold of a 2-D latent space"

    def full_picture(self) -> tuple[np.ndarray, str] | None:
        """The grid drawn last with its tiles at 28 px (the screen may have them smaller)."""
        import torch  # noqa: PLC0415

        e = self.state.decoder
        if self.history_picture is not None or e is None or self.codes is None or e.latent_dim != 2:
            return super().full_picture()
        n = round(self.codes.shape[0] ** 0.5)
        tiles = torch.from_numpy(e.decode(self.codes)).reshape(n, n, 28, 28)
        return sheet(tiles, 28), self.stem(self.state.epoch)

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        import torch  # noqa: PLC0415

        from vae_tui.core.latent_space import normal_grid  # noqa: PLC0415 - torch

        s, e = self.state, self.state.decoder
        assert e is not None
        if e.latent_dim != 2:
            return None, f"The manifold needs a 2-D latent space (this model's has {e.latent_dim})", 1
        width, height, _, scale = budgets[0]
        n, tile = choose_grid(width, height)
        if tile == 0:
            return None, self.title_text(), 1
        values = normal_grid(n)
        z2, z1 = torch.meshgrid(values.flip(0), values, indexing="ij")  # top row: the highest z2
        self.codes = torch.stack([z1, z2], dim=-1).reshape(-1, 2)
        tiles = torch.from_numpy(e.decode(self.codes)).reshape(n, n, 28, 28)
        low, high = signed(float(values[0])), signed(float(values[-1]))
        weights = f" · {s.weights()}" if s.weights() else ""
        if tile < MIN_TILE:
            weights = f" (a taller terminal shows them larger){weights}"
        text = (
            f"Decoded manifold: {n}×{n} codes z = (z1 →, z2 ↑) at N(0,1) quantiles 5%…95%"
            f" (Kingma & Welling, fig. 4)\nz1 and z2 from {low} to {high} · tiles of {tile} px{weights}"
        )
        return sheet(tiles, tile), text, scale
