"""--export's files: the traversal each epoch keeps, the GIFs (a frame per epoch, labelled), the
last views (the model's own decodings), the loss curves; on finished, stopped, old and bare runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from tests.helpers import TINY_MODEL
from vae_tui.core import history
from vae_tui.core.checkpoint import load_model
from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.control import TrainControl
from vae_tui.core.data import load_split
from vae_tui.core.events import BatchEnd, EpochImages
from vae_tui.core.export import ExportError, export
from vae_tui.core.gif import STRIP_PX, frame_scale, picture_scale
from vae_tui.core.grids import (
    PREVIEW_IMAGES,
    TRAVERSAL_STEPS,
    GridWriter,
    preview_grids,
    preview_latents,
    to_uint8,
    traversal_grid,
)
from vae_tui.core.metrics import MetricsWriter
from vae_tui.core.model import VAE
from vae_tui.core.train import train


def tile(grid: np.ndarray, row: int, col: int) -> np.ndarray:
    """The 28×28 tile at (row, col) of a `make_grid` grid (2-pixel gaps)."""
    y, x = 2 + row * 30, 2 + col * 30
    return grid[y : y + 28, x : x + 28]


def shrink(png: Path, like: np.ndarray) -> np.ndarray:
    """An exported (enlarged) PNG back at the size of `like`, one pixel per block."""
    pixels = np.asarray(Image.open(png).convert("L"))
    scale = pixels.shape[0] // like.shape[0]
    assert pixels.shape == (like.shape[0] * scale, like.shape[1] * scale)
    return pixels[::scale, ::scale]


def trained_run(config: TrainConfig, stop_after_step: int | None = None) -> Path:
    """A real run folder (metrics, batches, pictures, checkpoint), stopped where asked."""
    control = TrainControl()

    def events():
        for event in train(config, control):
            if isinstance(event, BatchEnd) and event.step == stop_after_step:
                control.request_stop()
            yield event

    drive(events(), [MetricsWriter(), GridWriter()])
    return Path(config.run_dir)


def test_traversal_grid_is_the_decodings_of_mu_swept_along_each_dimension(mnist_dir: Path) -> None:
    torch.manual_seed(0)
    model = VAE(784, 32, 4).eval()
    images = load_split(mnist_dir, "test", 3).images
    grid = traversal_grid(model, images)
    assert grid.dtype == np.uint8 and grid.shape == (4 * 30 + 2, TRAVERSAL_STEPS * 30 + 2)
    with torch.no_grad():
        mu = model.encode(images[:1])[0][0]
        for d in range(4):
            for c, offset in enumerate(np.linspace(-3, 3, TRAVERSAL_STEPS)):
                z = mu.clone()
                z[d] = mu[d] + float(offset)
                np.testing.assert_array_equal(tile(grid, d, c), to_uint8(model.decode(z[None]))[0])


def test_each_epoch_keeps_its_traversal(tiny_config: TrainConfig) -> None:
    images = [e for e in train(tiny_config.with_(iwae_k=0)) if isinstance(e, EpochImages)]
    assert all(e.traversal is not None and e.traversal.shape == (122, 212) for e in images)
    run = trained_run(tiny_config.with_(run_dir=tiny_config.run_dir + "-2", epochs=1, iwae_k=0))
    assert history.epochs_on_disk(run, "traversal") == [1]


def test_export_of_a_finished_run(tiny_config: TrainConfig) -> None:
    config = tiny_config.with_(epochs=3, iwae_k=0)
    run = trained_run(config)
    done = export(run)
    out = run / "export"
    names = sorted(p.name for p in done.written)
    assert names == sorted(["samples.gif", "reconstructions.gif", "traversal.gif", "loss-curves.png",
                            "reconstructions.png", "samples.png", "traversal.png"])  # fmt: skip
    assert all(p.parent == out and p.is_file() for p in done.written)
    for kind in ("samples", "reconstructions", "traversal"):
        gif = Image.open(out / f"{kind}.gif")
        first = history.read_image(run, 1, kind)
        assert first is not None
        scale = frame_scale(first.shape)
        assert gif.n_frames == 3
        assert gif.size == (first.shape[1] * scale, first.shape[0] * scale + STRIP_PX)
        frames = [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(gif)]
        for epoch, frame in enumerate(frames, 1):  # each frame: that epoch's picture, enlarged
            kept = history.read_image(run, epoch, kind)
            assert kept is not None
            np.testing.assert_array_equal(frame[STRIP_PX::scale, ::scale], kept)
        strips = [f[:STRIP_PX].tobytes() for f in frames]
        assert len(set(strips)) == 3 and all(f[:STRIP_PX].max() > 0 for f in frames)  # "epoch k/3"
    # The last views are the checkpoint's own decodings of the fixed test images and z.
    model = load_model(run / "checkpoint.pt").model
    curves = np.asarray(Image.open(out / "loss-curves.png").convert("RGB"))
    assert curves.shape == (720, 960, 3) and len(np.unique(curves.reshape(-1, 3), axis=0)) > 20
    assert_views_are_decodings(out, model, config.latent_dim, config.seed)


def assert_views_are_decodings(out: Path, model: VAE, latent_dim: int, seed: int) -> None:
    from vae_tui.core.data import resolve_dataset_dir

    images = load_split(resolve_dataset_dir("mnist"), "test", PREVIEW_IMAGES).images
    recon, samples = preview_grids(model, images, preview_latents(latent_dim, seed))
    for name, grid in (
        ("reconstructions", recon),
        ("samples", samples),
        ("traversal", traversal_grid(model, images)),
    ):
        assert Image.open(out / f"{name}.png").size[1] == grid.shape[0] * picture_scale(grid.shape)
        np.testing.assert_array_equal(shrink(out / f"{name}.png", grid), grid)


def test_export_of_a_run_stopped_mid_epoch(tiny_config: TrainConfig) -> None:
    run = trained_run(tiny_config.with_(iwae_k=0), stop_after_step=11)  # epoch 1 and 3 batches of 2
    done = export(run)
    assert Image.open(run / "export" / "samples.gif").n_frames == 1
    assert any("the weights at epoch 2, batch 3 (" in note for note in done.notes)  # as the trainer says it
    assert_views_are_decodings(run / "export", load_model(run / "checkpoint.pt").model, 4, tiny_config.seed)


def test_export_of_an_old_run_skips_the_traversal_gif_and_says_so(old_run: Path, mnist_dir: Path) -> None:
    done = export(old_run)
    names = {p.name for p in done.written}
    assert "traversal.gif" not in names and not (old_run / "export" / "traversal.gif").exists()
    assert {"samples.gif", "reconstructions.gif", "loss-curves.png", "traversal.png"} <= names
    assert any("traversal.gif skipped" in note for note in done.notes)
    assert Image.open(old_run / "export" / "samples.gif").n_frames == 3
    written = {p.relative_to(old_run).parts[0] for p in old_run.rglob("*") if p.is_file()}
    assert written == {"export", "batches.jsonl", "checkpoint.pt", "config.json", "metrics.jsonl", "images"}


def test_export_of_a_bare_state_dict_writes_its_views_beside_it(tmp_path: Path, mnist_dir: Path) -> None:
    model_file = Path(shutil.copy(TINY_MODEL, tmp_path / "tiny.pt"))
    done = export(model_file)
    out = tmp_path / "export" / "tiny"
    assert sorted(p.name for p in done.written) == ["reconstructions.png", "samples.png", "traversal.png"]
    loaded = load_model(model_file)
    assert_views_are_decodings(out, loaded.model, loaded.config.latent_dim, loaded.config.seed)


@pytest.mark.parametrize("make", ["missing", "empty folder", "garbage file"])
def test_bad_input_is_refused_before_anything_is_written(tmp_path: Path, make: str) -> None:
    path = tmp_path / "thing"
    if make == "empty folder":
        path.mkdir()
    elif make == "garbage file":
        path.write_bytes(b"not a model at all")
    with pytest.raises(Exception) as caught:
        export(path)
    assert isinstance(caught.value, ExportError) or type(caught.value).__name__ == "CheckpointError"
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "export").exists() and not (path / "export").exists()
