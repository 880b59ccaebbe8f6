"""The final grids drawn into the scrollback of a terminal (`--train-only`, `--eval`), never a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_tui.core.grids import make_grid, pairs_grid
from vae_tui.tui.inline import TILE, strip

from ..terminal import run_in_terminal

VAE_TUI = Path(sys.executable).parent / "vae-tui"


@pytest.mark.parametrize("width", [40, 80, 100, 150, 242, 400])
def test_a_strip_is_whole_tiles_that_fit_the_terminal(width: int) -> None:
    digits = np.random.default_rng(0).integers(0, 256, (16, 28, 28), dtype=np.uint8)
    grid = pairs_grid(digits, digits)
    part = strip(grid, 2, width)
    assert part.shape[1] <= width  # one pixel per column: never wraps
    assert part.shape[0] % 2 == 0  # whole half-block cells
    full = part.shape[1] >= 4 * TILE
    tiles = (part.shape[1] - 2) // TILE if full else (part.shape[1] - 1) // (TILE // 2)  # gap halved too
    assert tiles == min(8, (width - 2) // (TILE if full else TILE // 2))
    if full:  # at full size the pixels are the grid's own, not resampled
        assert np.array_equal(part, grid[: part.shape[0], : part.shape[1]])


def test_a_strip_keeps_one_tile_of_a_narrow_grid() -> None:
    grid = make_grid(np.full((1, 28, 28), 255, dtype=np.uint8), 8)
    assert strip(grid, 2, 400).shape == (32, 32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("inline") / "run"
    subprocess.run(
        [str(VAE_TUI), "--train-only", "--epochs", "1", "--train-limit", "512", "--test-limit", "64",
         "--hidden-dim", "16", "--latent-dim", "2", "--run-dir", str(run), "--swanlab", "disabled",
         "--iwae-k", "0"],
        check=True, capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return run / "checkpoint.pt"


def test_eval_on_a_terminal_draws_the_model_and_a_pipe_gets_numbers_only(
    trained: Path, tmp_path: Path
) -> None:
    command = [str(VAE_TUI), "--eval", "--checkpoint", str(trained), "--iwae-k", "2", "--test-limit", "64"]
    env = {**os.environ, "TERM": "xterm-256color"}
    shown = run_in_terminal(command, tmp_path, env, size=(100, 60))
    assert "Negative ELBO" in shown
    assert shown.index("Reconstructions, this model") < shown.index("Samples, this model")
    assert shown.count("▄") >= 2 * 6 * 15  # two strips of six 14-pixel digits at 100 columns

    piped = subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    assert "Negative ELBO" in piped.stdout
    assert "▄" not in piped.stdout and "this model" not in piped.stdout and "\x1b" not in piped.stdout


def test_the_eval_grids_are_the_ones_the_run_showed(trained: Path) -> None:
    """--eval draws the same fixed z the trainer decoded, so its samples match the run's last grid."""
    from PIL import Image

    from vae_tui.core.checkpoint import load_model
    from vae_tui.core.data import load_split, resolve_dataset_dir
    from vae_tui.core.grids import PREVIEW_IMAGES, preview_grids, preview_latents

    loaded = load_model(trained)
    test = load_split(resolve_dataset_dir("mnist"), "test", 64)
    z = preview_latents(loaded.config.latent_dim, loaded.config.seed)
    recon, samples = preview_grids(loaded.model, test.images[:PREVIEW_IMAGES], z)
    images = trained.parent / "images"
    with torch.no_grad():
        assert np.array_equal(samples, np.asarray(Image.open(images / "epoch-001-samples.png")))
        assert np.array_equal(recon, np.asarray(Image.open(images / "epoch-001-reconstructions.png")))
