"""The latent traversal's keys, driven with Pilot on real models: rows in KL order (`k`), ↑/↓
through them, scrubbing (`+`/`-`, shift+←/→) and playing the sweep (`p`, any key stops it),
each checked against what is drawn: the large image is the decoder's decoding of the code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vae_tui.tui.widgets.halfblock import HalfBlockView, image_to_lines
from vae_tui.tui.widgets.text_lines import TextLines
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.traversal_layout import INACTIVE_DIM

from .helpers import DATA, TINY, make_app, make_fake_app, wait_for

SIZE = (160, 48)


def view_of(app) -> TraversalView:
    return app.query_one(TraversalView)


def labels(app) -> list[str]:
    """The dimensions named in the row labels, top to bottom."""
    text = view_of(app).query_one(".row-labels", TextLines).plain
    return [word.lstrip("▸ ") for word in text.split() if word.lstrip("▸").startswith("z")]


def big_lines(app) -> list:
    return [
        [(s.text, s.style) for s in line]
        for line in view_of(app).query_one(".scrub-view", HalfBlockView)._lines
    ]


def expected_big(app, code: torch.Tensor) -> list:
    """The large image as it should be drawn: `decoder.decode(code)`, enlarged as planned."""
    view = view_of(app)
    tile = app.state.decoder.decode(code[None])[0]
    rgb = np.repeat(
        np.repeat(np.repeat(tile[..., None], 3, axis=2), view.plan.big, axis=0), view.plan.big, axis=1
    )
    return [[(s.text, s.style) for s in line] for line in image_to_lines(rgb)]


def scrubbed_code(app, offset: float) -> torch.Tensor:
    """The selected test image's μ with the selected dimension moved `offset` from it."""
    code = app.state.decoder.code(app.state.image).clone()
    code[app.state.dim] += offset
    return code


async def open_traversal(pilot) -> TraversalView:
    app = pilot.app
    await wait_for(pilot, lambda: app.state.decoder is not None)
    await pilot.press("4")
    await wait_for(pilot, lambda: view_of(app).grid is not None and view_of(app).plan is not None)
    await pilot.pause(0.1)
    return view_of(app)


def kl_order(app) -> list[int]:
    kl = app.state.decoder.usage()["kl_per_dim"]
    return sorted(range(len(kl)), key=lambda d: -kl[d])


async def test_rows_come_by_kl_and_k_switches_to_index_order() -> None:
    app = make_app("--checkpoint", str(DATA), "--test-limit", "200")
    async with app.run_test(size=SIZE) as pilot:
        view = await open_traversal(pilot)
        by_kl = kl_order(app)
        assert by_kl != sorted(by_kl)  # (else this test would tell nothing)
        shown = labels(app)
        assert shown == [f"z{d + 1}" for d in by_kl[: len(shown)]] and len(shown) == view.plan.rows
        assert "by KL" in view.query_one(".caption", TextLines).plain
        # ↓ goes to the next row shown, not the next index.
        await pilot.press("down")
        assert app.state.dim == by_kl[(by_kl.index(0) + 1) % len(by_kl)]
        await pilot.press("up")
        assert app.state.dim == 0
        grid = view.grid.copy()
        await pilot.press("k")
        await pilot.pause(0.1)
        assert not view.by_kl and labels(app) == [f"z{d + 1}" for d in range(view.plan.rows)]
        assert not np.array_equal(view.grid, grid)
        await pilot.press("down")
        assert app.state.dim == 1
        await pilot.press("k")
        await pilot.pause(0.1)
        names = [f"z{d + 1}" for d in by_kl]
        start = names.index(labels(app)[0])
        assert view.by_kl and labels(app) == names[start : start + view.plan.rows] and "z2" in labels(app)
        await pilot.press("q")


async def test_scrubbing_keys_move_the_selected_dimension_and_redraw_only_the_large_image() -> None:
    app = make_app("--checkpoint", str(DATA), "--test-limit", "200")
    async with app.run_test(size=SIZE) as pilot:
        view = await open_traversal(pilot)
        grid = view.picture
        assert view.plan.big >= 1 and big_lines(app) == expected_big(app, scrubbed_code(app, 0.0))
        drawn = grid._version
        for keys, offset in ((("plus",) * 3, 0.75), (("minus",), 0.5), (("shift+right",), 0.75),
                             (("shift+left",) * 2, 0.25), (("equals_sign",), 0.5)):  # fmt: skip
            await pilot.press(*keys)
            assert view.scrubbed == offset
            assert big_lines(app) == expected_big(app, scrubbed_code(app, offset)), keys
            value = view.query_one(".scrub-value", TextLines).plain
            base = float(app.state.decoder.code(app.state.image)[0])
            assert value == f"z1 = {base:+.2f} + {offset:.2f} = {base + offset:+.2f}".replace("-", "−")
        assert grid._version == drawn  # the grid was not redrawn for any of them
        await pilot.press(*("minus",) * 20)
        assert view.scrubbed == -3.0  # no further than the sweep
        await pilot.press("down")  # another dimension starts at its base value
        assert view.scrubbed == 0.0 and big_lines(app) == expected_big(app, scrubbed_code(app, 0.0))
        await pilot.press("q")


async def test_p_plays_the_sweep_until_any_key() -> None:
    app = make_app("--checkpoint", str(DATA), "--test-limit", "200")
    async with app.run_test(size=SIZE) as pilot:
        view = await open_traversal(pilot)
        await pilot.press("p")
        assert view.player is not None and view.scrubbed == -3.0
        seen = set()
        for _ in range(12):
            await pilot.pause(0.1)
            seen.add(view.scrubbed)
            assert big_lines(app) == expected_big(app, scrubbed_code(app, view.scrubbed))
        assert len(seen) >= 4 and max(seen) > -3.0
        await pilot.press("x")  # a key bound to nothing stops it too
        stopped = view.scrubbed
        await pilot.pause(0.4)
        assert view.player is None and view.scrubbed == stopped
        await pilot.press("p")
        assert view.player is not None
        await pilot.pause(0.3)
        await pilot.press("p")  # p stops it as well, rather than starting again
        stopped = view.scrubbed
        await pilot.pause(0.4)
        assert view.player is None and view.scrubbed == stopped
        await pilot.press("plus")  # scrubbing goes on from where it stopped
        assert view.scrubbed == stopped + 0.25
        await pilot.press("q")


async def test_inactive_dimensions_are_greyed_out_and_labelled(tmp_path: Path) -> None:
    """z3's μ is made the same for every image (its encoder row zeroed): it carries nothing."""
    state = torch.load(DATA, weights_only=True)
    state["fc_mu.weight"][2] = 0.0
    state["fc_mu.bias"][2] = 0.0
    path = tmp_path / "collapsed.pt"
    torch.save(state, path)
    app = make_app("--checkpoint", str(path), "--test-limit", "200")
    async with app.run_test(size=SIZE) as pilot:
        view = await open_traversal(pilot)
        await pilot.press("k")  # index order: z3 is the third row
        await pilot.pause(0.1)
        text = view.query_one(".row-labels", TextLines).plain.split()
        assert text[text.index("z3") + 3] == "inactive" and text.count("inactive") == 1
        pad, pitch = view.plan.pad, view.plan.tile + view.plan.pad
        tiles = [  # rows 2 and 3 (z2, z3), every column's tile without the gaps and frames
            view.grid[pad + r * pitch : pad + r * pitch + view.plan.tile, pad + c * pitch : pad + c * pitch + view.plan.tile]
            for r in (1, 2) for c in range(view.plan.steps)
        ]  # fmt: skip
        rows = [np.stack(tiles[: view.plan.steps]), np.stack(tiles[view.plan.steps :])]
        assert rows[1].max() <= 255 * INACTIVE_DIM + 1 < rows[0].max()  # z3's row greyed, z2's not
        await pilot.press("q")


async def test_scrubbing_decodes_with_the_latest_weights_while_training(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    app, _ = make_fake_app("--epochs", "400", "--train-limit", "6400", "--batch-size", "64", "--test-limit", "64",
                           "--run-dir", str(run_dir), *TINY, run_dir=run_dir, batch_sleep=0.002)  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        view = await open_traversal(pilot)
        await pilot.press("plus")
        decoder = app.state.decoder
        await wait_for(pilot, lambda: app.state.decoder is not decoder)  # the next epoch's weights
        await wait_for(pilot, lambda: not view.stale)
        assert view.scrubbed == 0.25 and big_lines(app) == expected_big(app, scrubbed_code(app, 0.25))
        await pilot.press("plus")
        assert big_lines(app) == expected_big(app, scrubbed_code(app, 0.5))
        await pilot.press("q")
