"""`e` writes the view shown as a PNG at its real pixels (28-px tiles, whatever the terminal
fits), enlarged by a whole number, into the run's export/ folder, and says where."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from vae_tui.core.gif import picture_scale
from vae_tui.core.history import read_image
from vae_tui.tui.widgets.reconstructions import ReconstructionView
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.traversal_layout import is_inactive
from vae_tui.tui.widgets.views import SamplesView

from .helpers import DATA, make_app, wait_for

SIZE = (100, 30)  # small: the views draw 2× smaller tiles on screen, the export must not


def exported(path: Path) -> np.ndarray:
    """An exported PNG at one pixel per block: the enlarging (whole k×k blocks) undone."""
    big = np.asarray(Image.open(path).convert("RGB"))
    h, w = big.shape[:2]
    for k in range(40, 1, -1):  # the largest whole factor whose k×k blocks are all of one colour
        picture = big[::k, ::k]
        if h % k == w % k == 0 and np.array_equal(np.repeat(np.repeat(picture, k, 0), k, 1), big):
            assert k == picture_scale(picture.shape) and min(h, w) >= 512
            break
    else:
        raise AssertionError(f"{path} is not enlarged by a whole number")
    return picture


def tiles_of(picture: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The 28×28 grey tiles of a `tile_image` picture at full size (2-pixel gaps)."""
    return np.array(
        [
            [picture[2 + r * 30 : 30 + r * 30, 2 + c * 30 : 30 + c * 30, 0] for c in range(cols)]
            for r in range(rows)
        ]
    )


async def press_e(pilot, tab: str) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.state.decoder is not None)
    await pilot.press(tab)
    await pilot.pause(0.3)
    await pilot.press("e")
    await pilot.pause(0.1)


async def test_e_writes_the_samples_at_their_real_pixels(old_run: Path, mnist_dir: Path) -> None:
    app = make_app("--checkpoint", str(old_run / "checkpoint.pt"), "--test-limit", "64")
    async with app.run_test(size=SIZE) as pilot:
        await press_e(pilot, "3")
        view = app.query_one(SamplesView)
        path = old_run / "export" / "samples-epoch-003.png"
        assert path.is_file(), [n.message for n in app._notifications]
        assert any(str(path) in n.message for n in app._notifications)
        picture = exported(path)
        rows, cols = (picture.shape[0] - 2) // 30, (picture.shape[1] - 2) // 30
        assert rows * cols == view.per_page and view.per_page > 1  # the tiles the screen shows
        decoded = app.state.decoder.decode(app.state.samples_z[: rows * cols]).reshape(rows, cols, 28, 28)
        np.testing.assert_array_equal(tiles_of(picture, rows, cols), decoded)
        await pilot.press("q")


async def test_e_on_a_bare_state_dict_writes_beside_it(tmp_path: Path, mnist_dir: Path) -> None:
    model = Path(shutil.copy(DATA, tmp_path / "tiny.pt"))
    app = make_app("--checkpoint", str(model), "--test-limit", "64")
    async with app.run_test(size=SIZE) as pilot:
        await press_e(pilot, "2")
        path = tmp_path / "export" / "tiny" / "reconstructions.png"
        assert path.is_file(), [n.message for n in app._notifications]
        picture = exported(path)
        cols = (picture.shape[1] - 2) // 30
        pairs = (picture.shape[0] + 2) // 64  # rows of originals over their reconstructions, 4 px apart
        assert cols * pairs == app.query_one(ReconstructionView).per_page
        e = app.state.decoder
        first = list(range(cols))  # (by index, the first page)
        rows = tiles_of(picture, 2, cols)
        np.testing.assert_array_equal(rows[0], e.originals(first))
        np.testing.assert_array_equal(rows[1], e.reconstructions(first))
        await pilot.press("q")


async def test_e_on_the_traversal_writes_its_rows_at_28_px(tmp_path: Path, mnist_dir: Path) -> None:
    model = Path(shutil.copy(DATA, tmp_path / "tiny.pt"))
    app = make_app("--checkpoint", str(model), "--test-limit", "64")
    async with app.run_test(size=SIZE) as pilot:
        await press_e(pilot, "4")
        view, s, e = app.query_one(TraversalView), app.state, app.state.decoder
        assert view.plan is not None and view.plan.factor == 2  # 14-px tiles on screen (else: no test)
        picture = exported(tmp_path / "export" / "tiny" / "traversal.png")
        rows, steps = (picture.shape[0] - 2) // 30, (picture.shape[1] - 2) // 30
        assert (rows, steps) == (view.plan.rows, view.plan.steps)
        order = s.dimensions()
        first = min(max(0, order.index(s.dim) - rows // 2), e.latent_dim - rows)
        dims = order[first : first + rows]
        tiles = e.traversal(e.code(s.image), dims, np.linspace(-3, 3, steps).tolist())
        active = [r for r, d in enumerate(dims) if not is_inactive(e.usage(), d)]
        assert active  # (else this test would tell nothing)
        np.testing.assert_array_equal(tiles_of(picture, rows, steps)[active], tiles[active])
        await pilot.press("q")


async def test_e_at_a_past_epoch_writes_the_picture_that_epoch_kept(old_run: Path, mnist_dir: Path) -> None:
    app = make_app("--checkpoint", str(old_run / "checkpoint.pt"), "--test-limit", "64")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press("3", "left_square_bracket")
        await wait_for(pilot, lambda: app.query_one(SamplesView).history_picture is not None)
        app.state.batch = 1076  # weights from mid-epoch (a paused run's): the kept picture is not theirs
        await pilot.press("e")
        await pilot.pause(0.1)
        picture = exported(old_run / "export" / f"samples-epoch-{app.state.history_epoch:03d}.png")
        np.testing.assert_array_equal(
            picture[..., 0], read_image(old_run, app.state.history_epoch, "samples")
        )
        await pilot.press("q")
