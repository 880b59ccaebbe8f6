"""Image grids as uint8 arrays: what SwanLab, the PNG files and the terminal all draw."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .atomic import write_atomic
from .events import EpochImages, Event, RunStarted
from .history import image_path


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 1, 28, 28) or (N, 784) floats in [0, 1] → (N, 28, 28) uint8 (SwanLab clips to 0–255)."""
    arr = images.detach().reshape(images.shape[0], 28, 28).float().cpu().clamp(0, 1)
    return (arr * 255 + 0.5).to(torch.uint8).numpy()


def make_grid(images: np.ndarray, columns: int, pad: int = 2, fill: int = 0) -> np.ndarray:
    """Tile (N, h, w) uint8 images into (H, W) rows of `columns`, `pad` pixels apart."""
    n, h, w = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), fill, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = images[i]
    return grid


def pairs_grid(originals: np.ndarray, reconstructions: np.ndarray, columns: int = 8) -> np.ndarray:
    """Rows of originals, each followed by a row of their reconstructions."""
    n = originals.shape[0]
    order = []
    for start in range(0, n, columns):
        stop = min(n, start + columns)
        order.extend(originals[start:stop])
        order.extend(np.zeros_like(originals[0]) for _ in range(columns - (stop - start)))
        order.extend(reconstructions[start:stop])
        order.extend(np.zeros_like(originals[0]) for _ in range(columns - (stop - start)))
    return make_grid(np.stack(order), columns)


PREVIEW_IMAGES = 16  # fixed test images whose reconstructions are shown and logged every epoch
TRAVERSAL_RANGE = 3.0  # sweep each latent dimension over ±3 standard deviations of the prior
TRAVERSAL_CHUNK = 64
"""Latent dimensions the kept traversal decodes at once (core/memory.py counts it)."""
TRAVERSAL_STEPS = 7  # columns of the kept traversal: offsets −3σ, −2σ, …, +3σ (0 in the middle)
PREVIEW_SAMPLES = 64  # fixed z whose decodings are shown and logged every epoch


def samples_seed(seed: int) -> int:
    """The seed of a run's fixed sample z, from the run's seed: the grids' every epoch, and the
    app's first draw (apart from the seeds of its weights, `seed`, and its noise, `seed + 1`)."""
    return seed + 2


def preview_latents(latent_dim: int, seed: int, draw: int = 0) -> torch.Tensor:
    """The run's fixed z ~ N(0, I) for its sample grid (draw 0): the same every epoch (and in
    --eval), so successive grids show the samples forming rather than new random draws. The
    app's `n` key moves to the next draw, each as reproducible."""
    generator = torch.Generator().manual_seed(samples_seed(seed) + 1000 * draw)
    return torch.randn(PREVIEW_SAMPLES, latent_dim, generator=generator)


@torch.inference_mode()
def preview_grids(
    model: torch.nn.Module, images: torch.Tensor, z: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """(reconstructions grid, samples grid) of a model: `images` over their decoded posterior
    means (the steady picture, no sampling noise), and the decodings of `z` in rows of 8."""
    recon = model.decode(model.encode(images)[0])  # type: ignore[operator]
    samples = model.decode(z)  # type: ignore[operator]
    return pairs_grid(to_uint8(images), to_uint8(recon)), make_grid(to_uint8(samples), 8)


def sweep_codes(base: torch.Tensor, dims: Sequence[int], offsets: torch.Tensor) -> torch.Tensor:
    """(len(dims)·len(offsets), D): row i sets z[dims[i]] to base[dims[i]] + each offset, the
    other dimensions at base (the kept traversal's codes, and the app's: core/tiles.py)."""
    z = base.repeat(len(dims), offsets.shape[0], 1)
    for row, d in enumerate(dims):
        z[row, :, d] = base[d] + offsets
    return z.reshape(-1, base.shape[0])


@torch.inference_mode()
def traversal_grid(model: torch.nn.Module, image: torch.Tensor) -> np.ndarray:
    """The epoch's traversal, kept with its grids: the first fixed test image's μ swept along every
    latent dimension in index order (one row each, `TRAVERSAL_STEPS` columns), as a label-free
    grid. One decode of D·7 codes, so it is cheap to keep every epoch; the app's traversal view
    (rows by KL, any base) is the interactive one."""
    mu = model.encode(image[:1])[0][0]  # type: ignore[operator]
    offsets = torch.linspace(
        -TRAVERSAL_RANGE, TRAVERSAL_RANGE, TRAVERSAL_STEPS, dtype=mu.dtype, device=mu.device
    )
    tiles = [  # a chunk of rows at a time: all D·7 codes at once are D²·7 floats (112 MB at D = 2000)
        to_uint8(model.decode(sweep_codes(mu, range(start, min(start + TRAVERSAL_CHUNK, len(mu))), offsets)))  # type: ignore[operator]
        for start in range(0, len(mu), TRAVERSAL_CHUNK)
    ]
    return make_grid(np.concatenate(tiles), TRAVERSAL_STEPS)


class GridWriter:
    """Saves each epoch's grids as PNG files under `<run dir>/images/`."""

    run_dir: Path | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_dir = Path(event.run_dir)
        elif isinstance(event, EpochImages) and self.run_dir is not None:
            from PIL import Image  # noqa: PLC0415 - only needed when a grid is written

            grids = [("reconstructions", event.reconstructions), ("samples", event.samples)]
            if event.traversal is not None:
                grids.append(("traversal", event.traversal))
            for name, grid in grids:
                # Via a temp file, so a kill never leaves a torn PNG behind.
                path = image_path(self.run_dir, event.epoch, name)
                path.parent.mkdir(parents=True, exist_ok=True)
                image = Image.fromarray(grid)
                try:
                    write_atomic(path, lambda f, image=image: image.save(f, format="PNG"), durable=False)
                except OSError as e:  # name the file the user knows, not the temp file
                    raise OSError(e.errno, e.strerror, str(path)) from None

    def close(self, state: str) -> None:
        pass
