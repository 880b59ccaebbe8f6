"""`vae-tui --compare`: two small real runs side by side (Pilot), and the command's own lines."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from textual.geometry import Region
from textual.widget import Widget

from vae_tui.core.history import read_image
from vae_tui.core.metrics import read_metrics
from vae_tui.tui.cli import parse_request
from vae_tui.tui.compare_app import CompareApp, make_compare_app
from vae_tui.tui.graphics import Graphics
from vae_tui.tui.widgets.compare_curves import CompareCurves
from vae_tui.tui.widgets.compare_samples import SamplesPanel
from vae_tui.tui.widgets.compare_table import CompareTable
from vae_tui.tui.widgets.halfblock import HalfBlockView
from vae_tui.tui.widgets.protocol_image import ProtocolImageView

from ..helpers import run_cli
from ..terminal import run_in_terminal
from .helpers import wait_for

SMALL = ["--hidden-dim", "32", "--train-limit", "512", "--test-limit", "256", "--epochs", "3",
         "--iwae-k", "5", "--swanlab", "disabled", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> tuple[Path, Path]:
    """Two real 3-epoch runs, trained by the command: latent 2 with the linear β schedule and
    latent 4 with warmup."""
    root = tmp_path_factory.mktemp("compare")
    folders = (root / "linear", root / "warmup")
    settings = (["--latent-dim", "2"], ["--latent-dim", "4", "--kl-anneal", "warmup"])
    for folder, flags in zip(folders, settings, strict=True):
        done = run_cli("--train-only", *SMALL, *flags, "--run-dir", str(folder))
        assert done.returncode == 0, done.stderr
    return folders


def app_for(*folders: Path) -> CompareApp:
    return make_compare_app(parse_request(["--compare", *map(str, folders)]))


def text_of(widget: Widget) -> str:
    """What a widget shows, border and padding included, as plain text."""
    strips = widget.render_lines(Region(0, 0, *widget.outer_size))
    return "\n".join(strip.text for strip in strips)


def epoch_rows(folder: Path) -> list[dict]:
    return [r for r in read_metrics(folder / "metrics.jsonl") if r.get("kind") == "epoch"]


def drawn(panel: SamplesPanel) -> np.ndarray:
    """The grey levels a panel's half-block cells show, two pixels a cell, as (H, W)."""
    rows = []
    for line in panel.query_one(HalfBlockView)._lines:
        top, bottom = [], []
        for segment in line:
            assert segment.style is not None
            fg, bg = segment.style.color, segment.style.bgcolor
            assert fg is not None and bg is not None
            top += [fg.get_truecolor()[0]] * len(segment.text)
            bottom += [bg.get_truecolor()[0]] * len(segment.text)
        rows += [top, bottom]
    return np.array(rows, dtype=np.uint8)


def assert_shows_stored(panel: SamplesPanel, folder: Path, epoch: int) -> None:
    """The panel draws that epoch's stored PNG: each tile it shows, pixel for pixel (to the 64
    grey levels half-block cells keep), or each 2×2 block's mean where it is 2× smaller."""
    stored = read_image(folder, epoch, "samples")
    assert stored is not None and panel.stored is not None
    assert np.array_equal(panel.stored, stored)
    rows, cols, factor = panel.shown
    assert rows * cols >= 1
    image, size, pad = drawn(panel), 28 // factor, 2 // factor
    for r in range(rows):
        for c in range(cols):
            y, x = 2 + 30 * r, 2 + 30 * c  # the tile's place in the stored grid
            tile = stored[y : y + 28, x : x + 28].astype(float)
            expected = tile.reshape(size, factor, size, factor).mean(axis=(1, 3)) + 0.5
            y, x = pad + (size + pad) * r, pad + (size + pad) * c  # and in the drawn one
            assert np.array_equal(image[y : y + size, x : x + size], expected.astype(np.uint8) & 0xFC)


async def test_table_legend_and_stepping_through_epochs(runs: tuple[Path, Path]) -> None:
    linear, warmup = runs
    app = app_for(linear, warmup)
    async with app.run_test(size=(200, 80)) as pilot:
        await pilot.pause(0.3)
        table = app.query_one(CompareTable)
        assert ("latent_dim", ["2", "4"]) in table.rows
        assert ("kl_anneal", ["linear", "warmup"]) in table.rows
        assert "run_dir" not in dict(table.rows)
        numbers = dict(table.rows)
        finals = [next(r for r in read_metrics(f / "metrics.jsonl") if r["kind"] == "final") for f in runs]
        assert numbers["held-out −ELBO"] == [f"{epoch_rows(f)[-1]['test_loss']:.2f}" for f in runs]
        assert numbers["IWAE NLL"] == [f"{f['iwae_nll']:.2f} (K=5)" for f in finals]
        assert numbers["epochs"] == ["3/3", "3/3"]
        assert numbers["state"] == ["finished", "finished"]
        shown = text_of(table)
        for label, values in table.rows:
            assert label in shown and all(v in shown for v in values)
        assert "linear" in text_of(app.query_one("#legend")) and "warmup" in text_of(app.query_one("#legend"))

        panels = list(app.query(SamplesPanel))
        caption = app.query_one("#caption")
        assert text_of(caption).strip().startswith("Epoch 3 of 3")
        for panel, folder in zip(panels, runs, strict=True):
            assert_shows_stored(panel, folder, 3)
            assert panel.shown[2] == 1  # full-size tiles at this size (2× smaller: the next test)
        await pilot.press("left_square_bracket")
        await pilot.pause(0.1)
        assert text_of(caption).strip().startswith("Epoch 2 of 3")
        assert app.query_one(CompareCurves).epoch == 2
        for panel, folder in zip(panels, runs, strict=True):
            assert panel.epoch == 2
            assert_shows_stored(panel, folder, 2)
        await pilot.press("home")
        await pilot.pause(0.1)
        assert [p.epoch for p in panels] == [1, 1] and text_of(caption).strip().startswith("Epoch 1 of 3")
        await pilot.press("left_square_bracket")  # no epoch 0
        assert [p.epoch for p in panels] == [1, 1]
        await pilot.press("end", "right_square_bracket")  # nor one past the last
        await pilot.pause(0.1)
        assert [p.epoch for p in panels] == [3, 3]
        for panel, folder in zip(panels, runs, strict=True):
            assert_shows_stored(panel, folder, 3)


async def test_a_run_missing_an_epoch_says_so(runs: tuple[Path, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(runs[1], tmp_path / "warmup"))
    (copy / "images" / "epoch-002-samples.png").unlink()
    app = app_for(runs[0], copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("left_square_bracket")
        await pilot.pause(0.1)
        first, second = app.query(SamplesPanel)
        assert_shows_stored(first, runs[0], 2)
        assert first.shown[2] == 2 and second.stored is None
        assert "no samples of epoch 2 (has 2 of 1–3)" in text_of(second.query_one(".caption"))


async def test_narrow_shows_one_part_at_a_time(runs: tuple[Path, Path]) -> None:
    app = app_for(*runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        curves, table, samples = (
            app.query_one(CompareCurves),
            app.query_one(CompareTable),
            app.query_one("#samples"),
        )
        assert curves.single and curves.region.area and not table.region.area and not samples.region.area
        legend = text_of(curves.query_one("#legend"))
        assert "linear" in legend and "warmup" in legend
        assert "held-out −ELBO" in text_of(curves.query_one("MetricPlot.chosen TextLines"))
        await pilot.press("m")
        await pilot.pause(0.1)
        assert "held-out BCE" in text_of(curves.query_one("MetricPlot.chosen TextLines"))
        await pilot.press("tab")
        await pilot.pause(0.1)
        assert table.region.area and not curves.region.area
        await pilot.press("tab")
        await pilot.pause(0.1)
        assert samples.region.area and not table.region.area
        assert all(p.stored is not None for p in app.query(SamplesPanel))


async def test_a_resize_lays_out_for_the_new_size(runs: tuple[Path, Path]) -> None:
    """Wide → narrow → wide: each layout is the new size's (it once followed the size before)."""
    app = app_for(*runs)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.2)
        assert not app.screen.has_class("narrow")
        for size, narrow in (((80, 24), True), ((160, 45), False), ((80, 24), True)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.3)
            assert app.screen.has_class("narrow") is narrow, size
            assert ("[curves]" in text_of(app.query_one("#caption"))) is narrow, size


async def test_a_run_still_training_moves_on(runs: tuple[Path, Path], tmp_path: Path) -> None:
    """The folders are read again while the view is open: a run resumed for a fourth epoch
    shows it once its trainer writes it, and the view at the latest epoch follows."""
    copy = Path(shutil.copytree(runs[0], tmp_path / "linear"))
    app = app_for(copy, runs[1])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        trainer = subprocess.Popen(
            [sys.executable, "-m", "vae_tui.tui", "--resume", str(copy), "--epochs", "4", "--train-only"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        try:
            await wait_for(pilot, lambda: app.epoch == 4, timeout=120)
        finally:
            _, err = await asyncio.to_thread(trainer.communicate, timeout=120)
        assert trainer.returncode == 0, err
        await wait_for(pilot, lambda: dict(app.query_one(CompareTable).rows)["epochs"][0] == "4/4", 10)
        assert text_of(app.query_one("#caption")).strip().startswith("Epoch 4 of 4")
        assert_shows_stored(app.query(SamplesPanel)[0], copy, 4)
        assert "no samples of epoch 4 (has 1–3)" in text_of(app.query(SamplesPanel)[1].query_one(".caption"))
        assert json.loads((copy / "config.json").read_text())["epochs"] == 4


def test_bad_folders_are_refused_in_one_line(runs: tuple[Path, Path], tmp_path: Path) -> None:
    """Before anything starts, with or without a terminal; never a traceback."""
    for folder, said in [
        (tmp_path / "nowhere", "nowhere: no such run folder"),
        (tmp_path, "is not a run folder (no config.json and no metrics.jsonl)"),
        (runs[0], "is given twice"),
    ]:
        done = run_cli("--compare", str(runs[0]), str(folder))
        assert done.returncode == 2
        assert done.stderr.startswith("vae-tui: error: ") and said in done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    done = run_cli("--compare", *map(str, runs))  # good folders, but no terminal
    assert done.returncode == 2 and "needs a terminal" in done.stderr and done.stderr.count("\n") == 1


def test_the_command_opens_on_a_terminal_and_q_quits(runs: tuple[Path, Path], tmp_path: Path) -> None:
    shown = run_in_terminal(
        [sys.executable, "-m", "vae_tui.tui", "--compare", *map(str, runs)],
        tmp_path, dict(os.environ), keys=b"q", until="Epoch 3 of 3", size=(100, 30),
    )  # fmt: skip
    assert "linear" in shown and "warmup" in shown and "Traceback" not in shown


async def test_graphics_draw_the_stored_pixels_themselves(runs: tuple[Path, Path]) -> None:
    """--graphics sixel: each shown tile is the stored PNG's, every pixel, never 2× smaller."""
    app = make_compare_app(parse_request(["--compare", *map(str, runs)]), Graphics("sixel", (10, 20)))
    async with app.run_test(size=(100, 30)) as pilot:
        panels = list(app.query(SamplesPanel))
        await wait_for(pilot, lambda: all(p.query_one(ProtocolImageView).grid is not None for p in panels))
        assert not app.query(HalfBlockView)
        for panel, folder in zip(panels, runs, strict=True):
            stored, grid = read_image(folder, 3, "samples"), panel.query_one(ProtocolImageView).grid
            rows, cols, factor = panel.shown
            assert stored is not None and grid is not None and factor == 1 and rows * cols >= 6
            for r in range(rows):
                for c in range(cols):
                    y, x = 2 + 30 * r, 2 + 30 * c
                    assert np.array_equal(grid[y : y + 28, x : x + 28, 0], stored[y : y + 28, x : x + 28])


async def test_runs_that_have_not_ended_an_epoch_yet(tmp_path: Path) -> None:
    """Two runs just started (their config written, no epoch yet): said, nothing drawn."""
    folders = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"epochs": 5}))
        folders.append(folder)
    app = app_for(*folders)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("left_square_bracket", "right_square_bracket", "home", "end")
        await pilot.pause(0.1)
        assert text_of(app.query_one("#caption")).strip().startswith("No epoch has ended yet · 2 runs")
        assert all("no epoch yet" in text_of(p.query_one(".caption")) for p in app.query(SamplesPanel))
        assert dict(app.query_one(CompareTable).rows)["epochs"] == ["0/5", "0/5"]
