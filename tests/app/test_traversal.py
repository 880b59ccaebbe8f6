"""The latent traversal's keys, driven with Pilot on real models: rows in KL order (`k`), ↑/↓
through them, scrubbing (`+`/`-`, shift+←/→) and playing the sweep (`p`, any key stops it),
each checked against what is drawn: the large image is the decoder's decoding of the code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from textual.widgets._footer import FooterKey

from vae_tui.tui.widgets.halfblock import HalfBlockView, image_to_lines
from vae_tui.tui.widgets.text_lines import TextLines
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.traversal_layout import (
    COMPACT_LABEL_WIDTH,
    INACTIVE_DIM,
    LABEL_WIDTH,
    Plan,
    plan_layout,
)

from .helpers import DATA, TINY, kl_order, make_app, make_fake_app, swept, wait_for

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


async def test_rows_come_by_kl_and_k_switches_to_index_order() -> None:
    app = make_app("--checkpoint", str(DATA), "--test-limit", "200")
    async with app.run_test(size=SIZE) as pilot:
        view = await open_traversal(pilot)
        by_kl = kl_order(app.state.decoder)
        assert by_kl != sorted(by_kl) and by_kl[0] != 0  # (else this test would tell nothing)
        shown = labels(app)
        assert shown == [f"z{d + 1}" for d in by_kl[: len(shown)]] and len(shown) == view.plan.rows
        assert "by KL" in view.query_one(".caption", TextLines).plain
        # ↓ goes to the next row shown, not the next index.
        await pilot.press("down")
        assert app.state.dim == by_kl[1]
        await pilot.press("up")
        assert app.state.dim == by_kl[0]
        grid = view.grid.copy()
        await pilot.press("k")
        await pilot.pause(0.1)
        assert not app.state.by_kl and app.state.dim == by_kl[0]  # the selection stays
        first = int(labels(app)[0][1:]) - 1
        assert labels(app) == [f"z{d + 1}" for d in range(first, first + view.plan.rows)]
        assert not np.array_equal(view.grid, grid)
        await pilot.press("down")
        assert app.state.dim == by_kl[0] + 1
        await pilot.press("k")
        await pilot.pause(0.1)
        names = [f"z{d + 1}" for d in by_kl]
        start = names.index(labels(app)[0])
        selected = f"z{by_kl[0] + 2}"
        assert (
            app.state.by_kl
            and labels(app) == names[start : start + view.plan.rows]
            and selected in labels(app)
        )
        await pilot.press("q")


async def test_one_order_of_dimensions_for_every_view() -> None:
    """↓ pressed on Recon (which opens the traversal) moves as ↓ on the traversal does, along
    the rows shown; the Latents view lists by KL whatever `k` says, and its ↑/↓ follow its list."""
    app = make_app("--checkpoint", str(DATA), "--test-limit", "200")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        by_kl = kl_order(app.state.decoder)
        await pilot.press("down")  # on Recon: the traversal opens on the second row by KL
        assert app.main.active_tab == "traversal" and app.state.dim == by_kl[1]
        await pilot.press("2", "down")  # Recon again: the third
        assert app.state.dim == by_kl[2]
        await pilot.press("4", "down")  # the traversal's own ↓: the fourth
        assert app.state.dim == by_kl[3]
        await wait_for(
            pilot, lambda: "▸ " + f"z{by_kl[3] + 1}" in view_of(app).query_one(".row-labels", TextLines).plain
        )
        await pilot.press("k", "2", "down")  # index order: ↓ on Recon takes the next index too
        assert app.main.active_tab == "traversal" and app.state.dim == (by_kl[3] + 1) % len(by_kl)
        await pilot.press("7", "down")  # the Latents view lists by KL: its ↓ goes to the next bar
        assert app.state.dim == by_kl[(by_kl.index((by_kl[3] + 1) % len(by_kl)) + 1) % len(by_kl)]
        await pilot.press("q")


async def test_the_traversal_opens_on_the_most_informative_dimension_until_one_is_picked() -> None:
    """The first dimension by KL is selected (of whichever weights are shown: new weights may
    put another first) until ↑/↓ pick one; then it stays the user's through new weights."""
    app = make_app("--checkpoint", str(DATA), "--test-limit", "200")
    async with app.run_test(size=SIZE) as pilot:
        view = await open_traversal(pilot)
        weights = torch.load(DATA, weights_only=True)
        by_kl = kl_order(app.state.decoder)
        assert app.state.dim == by_kl[0] != 0
        assert labels(app)[0] == f"z{by_kl[0] + 1}"
        assert view.query_one(".row-labels", TextLines).plain.split()[0] == "▸"
        assert swept(view) == f"z{by_kl[0] + 1}"
        # The same model with the codes of the first and last dimensions by KL swapped.
        top, last = by_kl[0], by_kl[-1]
        swapped = {k: v.clone() for k, v in weights.items()}
        for name in ("fc_mu", "fc_logvar"):
            for part in ("weight", "bias"):
                swapped[f"{name}.{part}"][[top, last]] = weights[f"{name}.{part}"][[last, top]]
        app.show_weights(swapped, None)
        await wait_for(pilot, lambda: not view.stale)
        assert kl_order(app.state.decoder)[0] == last and app.state.dim == last
        assert labels(app)[0] == f"z{last + 1}"
        assert swept(view) == f"z{last + 1}"
        await pilot.press("down", "up")  # picked: the first again, but the user's now
        app.show_weights(weights, None)
        await wait_for(pilot, lambda: not view.stale)
        assert app.state.dim == last != kl_order(app.state.decoder)[0]
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
            d = app.state.dim
            base = float(app.state.decoder.code(app.state.image)[d])
            assert value == f"z{d + 1} = {base:+.2f} + {offset:.2f} = {base + offset:+.2f}".replace("-", "−")
        assert grid._version == drawn  # the grid was not redrawn for any of them
        await pilot.press(*("minus",) * 20)
        assert view.scrubbed == -3.0  # no further than the sweep
        await pilot.press("down")  # another dimension starts at its base value
        assert view.scrubbed == 0.0 and big_lines(app) == expected_big(app, scrubbed_code(app, 0.0))
        await pilot.press("q")


async def test_scrubbing_works_at_80x24() -> None:
    """The large image fits beside compact row labels and three offsets: +/-/p are offered,
    and + draws the decoding of the code moved."""
    app = make_app("--checkpoint", str(DATA), "--test-limit", "200")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_traversal(pilot)
        assert view.plan.big == 1 and view.plan.steps == 3 and view.plan.label == COMPACT_LABEL_WIDTH
        await wait_for(pilot, lambda: "Scrub" in {key.description for key in app.query(FooterKey)})
        assert "Play" in {key.description for key in app.query(FooterKey)}
        await pilot.press("plus")
        assert view.scrubbed == 0.25 and big_lines(app) == expected_big(app, scrubbed_code(app, 0.25))
        d = app.state.dim
        assert view.query_one(".scrub-value", TextLines).plain.startswith(f"z{d + 1} = ")
        rows = view.query_one(".row-labels", TextLines)
        assert rows.plain.split()[:2] == [f"▸z{d + 1}", f"{app.state.decoder.usage()['kl_per_dim'][d]:.2f}"]
        assert rows.size.width == COMPACT_LABEL_WIDTH and view.picture.region.x == view.region.x + 5
        await pilot.press("q")


def test_the_layout_takes_compact_labels_only_where_they_buy_the_large_image_or_offsets() -> None:
    wide = plan_layout(160, 44, 8)  # (no loss plots beside it)
    assert wide == Plan(factor=2, steps=7, rows=5, big=1, label=LABEL_WIDTH)
    assert plan_layout(86, 16, 8) == Plan(2, 3, 2, 1, LABEL_WIDTH)  # wide labels fit
    assert plan_layout(80, 16, 8) == Plan(2, 3, 2, 1, COMPACT_LABEL_WIDTH)  # 80×24
    assert plan_layout(112, 40, 20) == Plan(2, 5, 5, 1, COMPACT_LABEL_WIDTH)  # five offsets, not three
    assert plan_layout(79, 16, 8) == Plan(2, 3, 2, 0, LABEL_WIDTH)  # no large image: the wide labels


async def test_beside_the_loss_plots_the_caption_says_f_widens_the_grid(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    app, _ = make_fake_app("--epochs", "2", "--train-limit", "512", "--test-limit", "64",
                           "--run-dir", str(run_dir), *TINY, run_dir=run_dir)  # fmt: skip
    async with app.run_test(size=(160, 46)) as pilot:
        await wait_for(pilot, lambda: not app.training_active and app.state.decoder is not None)
        view = await open_traversal(pilot)
        caption = view.query_one(".caption", TextLines)
        assert not app.main.has_class("narrow") and view.plan.steps < 7 and "f: wider" in caption.plain
        await pilot.press("f")
        await wait_for(pilot, lambda: view.plan.steps == 7 and not view.stale)
        assert "f: wider" not in caption.plain
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
        assert view.query_one(".scrub-value", TextLines).plain.endswith("▶")  # playing, it says so
        await pilot.press("x")  # a key bound to nothing stops it too
        stopped = view.scrubbed
        await pilot.pause(0.4)
        assert view.player is None and view.scrubbed == stopped
        assert not view.query_one(".scrub-value", TextLines).plain.endswith("▶")
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
        await pilot.press("k", *["up"] * app.state.dim)  # index order, from z1: z3 is the third row
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
