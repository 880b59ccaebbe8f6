"""The latent map and the decoded manifold, driven with Pilot on real models: the fixed tiny
model (8-D codes: a PCA map) and a 2-D one (tests/data/tiny-vae-2d-state_dict.pt: the plane
itself, and the manifold tab). What is checked is read off the screen's cells where it can be.

The 2-D model was trained on real MNIST and saved small (float16: ~105 KB, the same scores):
    vae-tui --train-only --latent-dim 2 --hidden-dim 32 --epochs 30 --test-limit 500 \\
        --swanlab disabled --iwae-k 0 --run-dir /tmp/map2d
    torch.save({k: v.half() for k, v in model_state(read_checkpoint(".../checkpoint.pt")).items()}, ...)
(held-out BCE 150.13 + KLD 5.68 nats on 500 test images, for the float32 and float16 weights alike.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from textual.pilot import Pilot
from textual.widgets import Tab, TabbedContent
from textual.widgets._footer import FooterKey

from vae_tui.core.latent_space import normal_grid
from vae_tui.tui.app import VaeApp
from vae_tui.tui.layout import visible_tabs
from vae_tui.tui.widgets.halfblock import HalfBlockView
from vae_tui.tui.widgets.latent_map import LatentMapView
from vae_tui.tui.widgets.manifold import ManifoldView, sheet
from vae_tui.tui.widgets.scatter import AXIS, CURSOR, class_colour, fit_frame
from vae_tui.tui.widgets.text_lines import TextLines
from vae_tui.tui.wording import signed

from .helpers import DATA, make_app, wait_for

PLANE_MODEL = Path(__file__).parents[1] / "data" / "tiny-vae-2d-state_dict.pt"


def browse(model: Path = DATA, test_limit: int = 200) -> VaeApp:
    return make_app("--checkpoint", str(model), "--test-limit", str(test_limit))


async def map_shown(pilot: Pilot) -> LatentMapView:
    """Open the map tab once the model is there; wait for its fit and first drawing."""
    app = pilot.app
    assert isinstance(app, VaeApp)
    await wait_for(pilot, lambda: app.state.decoder is not None)
    await pilot.press("6")
    view = app.query_one(LatentMapView)
    await wait_for(pilot, lambda: view.fitted is not None and view.frame is not None and not view.stale)
    await pilot.pause()
    return view


def shown_pixels(view: HalfBlockView) -> np.ndarray:
    """(2·rows, columns, 3): the colours its cells show, two pixels a cell (-1: not a pixel)."""
    width, height = view.size
    pixels = np.full((2 * height, width, 3), -1)
    for y in range(height):
        x = 0
        for segment in view.render_line(y):
            n = segment.cell_length
            if segment.text.strip("▀") == "" and segment.text and segment.style:
                pixels[2 * y, x : x + n] = segment.style.color.triplet
                pixels[2 * y + 1, x : x + n] = segment.style.bgcolor.triplet
            x += n
    return pixels


def drawn_map(view: LatentMapView) -> np.ndarray:
    """The map as its cells show it: the picture, cut out of its centred place."""
    picture = view.query_one(".picture-view", HalfBlockView)
    assert view.map_image is not None
    height, width = view.map_image.shape[:2]
    top, left = (picture.size.height - (height + 1) // 2) // 2, (picture.size.width - width) // 2
    return shown_pixels(picture)[2 * top : 2 * top + height, left : left + width]


def shows_image(pixels: np.ndarray, image: np.ndarray, rounded: bool = True) -> bool:
    """Whether grey `image` (28, 28) appears in `pixels`, as half-block cells round it (64
    levels) or exactly (`rounded` False: a graphics protocol's pixels)."""
    grey = (image & (0xFC if rounded else 0xFF)).astype(int)
    for r in range(pixels.shape[0] - 27):
        for c in range(pixels.shape[1] - 27):
            if np.array_equal(pixels[r : r + 28, c : c + 28, 0], grey):
                return True
    return False


def tab_bar(app: VaeApp) -> str:
    """The titles of the tabs shown."""
    return " ".join(str(tab.label) for tab in app.query(Tab) if not tab.has_class("-hidden"))


def cursor_decoding(view: LatentMapView) -> np.ndarray:
    """What the image beside the map must be: the decoding of `lift` of the cursor's point."""
    assert view.fitted is not None and view.state.decoder is not None
    code = view.fitted.projection.lift(torch.tensor(view.cursor, dtype=torch.float32)[None])
    return view.state.decoder.decode(code)[0]


async def test_arrows_move_the_cursor_and_the_image_beside_it_is_decoded_there() -> None:
    app = browse()
    async with app.run_test(size=(120, 36)) as pilot:
        view = await map_shown(pilot)
        footer = {key.description for key in app.query(FooterKey)}
        assert "Cursor" in footer and not footer & {"Image", "Dim"}  # the arrows offered for the cursor
        start, image = view.cursor.copy(), app.state.image
        await pilot.press("right", "right", "up")
        moved = view.cursor - start
        assert moved[1] > 0 and moved[0] == pytest.approx(2 * moved[1])  # y grows upwards
        assert app.state.image == image  # the arrows moved the cursor, not the selected image
        expected = cursor_decoding(view)
        assert np.array_equal(view.cursor_image, expected)
        assert shows_image(shown_pixels(view.query_one(".decoded-view", HalfBlockView)), expected)
        (col,), (row,) = view.frame.pixels(view.cursor[None])
        assert tuple(drawn_map(view)[row, col]) == CURSOR
        where = view.query_one(".cursor-caption", TextLines).plain
        assert where == f"Cursor PC1 {signed(view.cursor[0])}, PC2 {signed(view.cursor[1])}"
        await pilot.press("left", "left", "down")
        assert np.allclose(view.cursor, start)
        assert shows_image(
            shown_pixels(view.query_one(".decoded-view", HalfBlockView)), cursor_decoding(view)
        )


async def test_each_point_is_drawn_in_its_class_colour() -> None:
    """A pixel holding points of one class only shows that class's colour, for every class."""
    app = browse(test_limit=1000)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await map_shown(pilot)
        fitted, frame = view.fitted, view.frame
        assert fitted is not None and frame is not None and fitted.labels is not None
        drawn = drawn_map(view)
        assert np.array_equal(drawn, view.map_image & 0xFC)  # the cells show the picture built
        cols, rows = frame.pixels(fitted.points)
        (cursor_col,), (cursor_row,) = frame.pixels(view.cursor[None])
        checked = set()
        for col, row, label in zip(cols, rows, fitted.labels, strict=True):
            here = (cols == col) & (rows == row)
            if not frame.inside(col, row) or col == cursor_col or row == cursor_row:
                continue
            if set(fitted.labels[here].tolist()) == {label}:
                assert tuple(drawn[row, col]) == class_colour(int(label)), (row, col, label)
                checked.add(int(label))
        assert checked == set(range(10))
        legend = view.query_one(".legend", TextLines).plain
        assert all(f"██ {digit}" in legend for digit in range(10))


async def test_the_map_refits_for_new_weights() -> None:
    """Codes twice as large (μ's layer scaled by 2) give the same axes and points twice as far."""
    app = browse()
    async with app.run_test(size=(120, 36)) as pilot:
        view = await map_shown(pilot)
        before = view.fitted
        assert before is not None
        weights = {k: v * 2 if k.startswith("fc_mu.") else v for k, v in torch.load(DATA).items()}
        app.show_weights(weights, None)
        await wait_for(pilot, lambda: view.fitted is not None and view.fitted.decoder is app.state.decoder)
        assert np.allclose(view.fitted.points, 2 * before.points, atol=1e-4)
        assert np.allclose(view.fitted.projection.explained, before.projection.explained, atol=1e-5)


async def test_a_2d_model_is_mapped_on_its_plane() -> None:
    app = browse(PLANE_MODEL)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await map_shown(pilot)
        fitted = view.fitted
        assert fitted is not None and fitted.projection.identity
        assert np.array_equal(fitted.points, app.state.decoder.codes()[0].numpy())  # no projection
        caption = view.query_one(".caption", TextLines).plain
        assert "on the latent plane itself (no projection): x = z1, y = z2" in caption
        (x0, x1), (y0, y1) = view.frame.bounds
        assert f"z1 {signed(x0)} to {signed(x1)}, z2 {signed(y0)} to {signed(y1)}" in caption
        assert view.query_one(".cursor-caption", TextLines).plain == "Cursor z1 +0.00, z2 +0.00"
        assert np.array_equal(view.cursor_image, app.state.decoder.decode(torch.zeros(1, 2))[0])
        # The axes are the lines z1 = 0 and z2 = 0, and only those.
        (col,), (row,) = view.frame.pixels(np.zeros((1, 2)))
        axis = np.all(view.map_image == AXIS, axis=-1)
        assert axis[row].any() and axis[:, col].any()
        axis[row, :] = axis[:, col] = False
        assert not axis.any()


async def test_a_1d_model_is_mapped_on_its_line(tmp_path: Path) -> None:
    """One latent dimension: the map is the line itself, and nothing names a z2 it lacks."""
    from vae_tui.core.model import VAE

    torch.manual_seed(0)
    model = tmp_path / "vae-1d.pt"
    torch.save(VAE(hidden_dim=16, latent_dim=1).state_dict(), model)
    app = browse(model)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await map_shown(pilot)
        caption = view.query_one(".caption", TextLines).plain
        assert "on the latent line itself (no projection): x = z1, y = 0 (a 1-D model)" in caption
        assert view.query_one(".cursor-caption", TextLines).plain == "Cursor z1 +0.00"
        assert "z2" not in caption
        await pilot.press("q")


async def test_the_manifold_tab_is_there_only_for_2d_models() -> None:
    app = browse()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.pause()
        assert "manifold" not in visible_tabs(app.main) and "Manifold" not in tab_bar(app)
        await pilot.press("8")
        assert app.query_one(TabbedContent).active == "recon"
    app = browse(PLANE_MODEL)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.pause()
        assert "manifold" in visible_tabs(app.main) and "8 Manifold" in tab_bar(app)
        await pilot.press("8")
        view = app.query_one(ManifoldView)
        await wait_for(pilot, lambda: view.codes is not None and not view.stale)
        n = int(view.codes.shape[0] ** 0.5)
        grid = normal_grid(n)
        assert view.codes[0].tolist() == [grid[0], grid[-1]]  # top left: lowest z1, highest z2
        assert view.codes[-1].tolist() == [grid[-1], grid[0]]
        assert f"{n}×{n} codes" in view.query_one(".caption", TextLines).plain
        # The weights of an 8-D model arrive (as a new epoch's would): the tab goes, and its view.
        app.show_weights(torch.load(DATA), None)
        await pilot.pause()
        assert "manifold" not in visible_tabs(app.main) and "Manifold" not in tab_bar(app)
        assert app.query_one(TabbedContent).active == "recon"


def test_the_manifold_sheet_puts_each_tile_in_its_place() -> None:
    """Tile (r, c) of value r·3 + c covers rows r·t…, columns c·t… of the sheet, whole and alone."""
    tiles = torch.arange(9, dtype=torch.uint8).reshape(3, 3, 1, 1).expand(3, 3, 28, 28)
    picture = sheet(tiles, 7)
    assert picture.shape == (22, 21, 3)  # 21 rows and one black row: whole cells
    blocks = picture[:21, :, 0].reshape(3, 7, 3, 7).transpose(0, 2, 1, 3)
    assert np.array_equal(blocks, np.arange(9).reshape(3, 3, 1, 1) * np.ones((1, 1, 7, 7)))
    assert not picture[21].any()


async def test_the_map_draws_through_a_graphics_protocol_too() -> None:
    """With sixels, the map and the decoding beside it are textual-image pictures of the same
    arrays (the cell size is textual-image's own, as in test_graphics.py)."""
    from textual_image._terminal import get_cell_size

    from vae_tui.tui.app import make_app as make_app_with
    from vae_tui.tui.cli import parse_request
    from vae_tui.tui.graphics import Graphics
    from vae_tui.tui.widgets.protocol_image import ProtocolImageView

    request = parse_request(["--checkpoint", str(DATA), "--test-limit", "200"])
    app = make_app_with(request, graphics=Graphics("sixel", tuple(get_cell_size())))
    async with app.run_test(size=(120, 36)) as pilot:
        view = await map_shown(pilot)
        assert not view.query(HalfBlockView)
        await pilot.press("right", "up")
        picture = view.query_one(".picture-view", ProtocolImageView)
        assert np.array_equal(picture.grid, view.map_image)
        decoded = view.query_one(".decoded-view", ProtocolImageView)
        assert shows_image(decoded.grid, cursor_decoding(view), rounded=False)


def test_the_map_fills_whole_cells() -> None:
    """Two pixel rows per cell: an odd number of rows left the last half-cell in pad grey, a
    grey line under the map."""
    for tall in (0.3, 0.5, 0.77, 1.0, 1.9):
        points = np.array([[0.0, 0.0], [1.0, tall]])
        frame = fit_frame(points, 97, 86)
        assert frame.height % 2 == 0 and frame.height <= 86 and frame.width <= 97
