"""The interpolation and latent health views, driven with Pilot on real models: the marks and
`l` on the path between two codes, and the bars against the decoder's own latent usage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from textual.pilot import Pilot

from vae_tui.core.metrics import read_metrics
from vae_tui.tui import layout
from vae_tui.tui.app import VaeApp
from vae_tui.tui.widgets.interpolation import InterpolationView
from vae_tui.tui.widgets.latent_health import LatentHealthView
from vae_tui.tui.widgets.text_lines import TextLines

from .helpers import DATA, TINY, kl_order, make_app, screen_pixels, text_of, wait_for

COLLAPSED_DIM = 2  # z3


def tab_key(tab: str) -> str:
    """The number key of a tab (its place in the registry, which other tabs may shift)."""
    return str(next(number for number, t in enumerate(layout.TABS, 1) if t.id == tab))


def caption(app: VaeApp, view_type: type) -> str:
    return text_of(app.query_one(view_type).query_one(".caption", TextLines))


def bars(app: VaeApp) -> list[str]:
    """The latent health view's lines on screen (its bars, then the sparkline if any)."""
    body = app.query_one(LatentHealthView).query_one(".health-bars", TextLines)
    return [line.strip() for line in text_of(body).splitlines() if line.strip()]


def decoded_mu(app: VaeApp, index: int) -> np.ndarray:
    """The decoding of test image `index`'s μ, as the decoder the app shows computes it."""
    e = app.state.decoder
    assert e is not None
    return e.decode(e.code(index)[None])[0]


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to the grey level (a batch of one and a longer one may round a pixel apart)."""
    return int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1


async def interp_drawn(pilot: Pilot, app: VaeApp, ends: str) -> np.ndarray:
    view = app.query_one(InterpolationView)
    await wait_for(pilot, lambda: view.drawn is not None and ends in caption(app, InterpolationView))
    assert view.drawn is not None
    return view.drawn


async def test_marks_choose_the_ends_of_the_path_and_l_switches_the_path(tmp_path: Path) -> None:
    """a / b in the reconstructions set the path's ends: its first and last tiles are μ_A's and
    μ_B's decodings; the slerp row leaves the straight line in the middle; `l` frames the other
    row (two rows fit) or draws the other path (one row fits)."""
    app = make_app("--checkpoint", str(DATA), "--test-limit", "50")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press(tab_key("interp"))
        drawn = await interp_drawn(pilot, app, "A = selected #1")
        assert "B = next #2" in caption(app, InterpolationView) and "a, b in Recon" in caption(
            app, InterpolationView
        )
        assert close(drawn[0, 0], decoded_mu(app, 0)) and close(drawn[0, -1], decoded_mu(app, 1))

        await pilot.press(tab_key("recon"), "right", "a", "left", "b")  # the other way round
        assert (app.state.mark_a, app.state.mark_b) == (1, 0)
        await pilot.press(tab_key("interp"))
        drawn = await interp_drawn(pilot, app, "A #2")
        assert "B #1" in caption(app, InterpolationView) and "Recon mark" not in caption(
            app, InterpolationView
        )
        rows, steps = drawn.shape[:2]
        assert rows == 2 and steps >= 3  # linear above slerp
        for row in drawn:
            assert close(row[0], decoded_mu(app, 1)) and close(row[-1], decoded_mu(app, 0))
        middle = steps // 2
        assert not close(drawn[0, middle], drawn[1, middle])  # the arc leaves the straight line
        e = app.state.decoder
        assert e is not None
        a, b = e.code(1), e.code(0)
        assert close(drawn[0, middle], e.interpolation(a, b, steps, "linear")[middle])
        assert close(drawn[1, middle], e.interpolation(a, b, steps, "slerp")[middle])

        assert "linear framed" in caption(app, InterpolationView)
        before = screen_pixels(app, InterpolationView)
        await pilot.press("l")
        await wait_for(pilot, lambda: "slerp framed" in caption(app, InterpolationView))
        assert screen_pixels(app, InterpolationView) != before  # the frame moved to the other row
        await pilot.press("q")


async def test_unmarked_ends_follow_the_selection_and_the_order_shown() -> None:
    """Unmarked, A is the selected image (←/→ move it on the Interp tab too) and B the next one
    in the order the reconstructions show (by error: the next worse)."""
    app = make_app("--checkpoint", str(DATA), "--test-limit", "50")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press(tab_key("interp"), "right")
        drawn = await interp_drawn(pilot, app, "A = selected #2")
        assert "B = next #3" in caption(app, InterpolationView)
        assert close(drawn[0, 0], decoded_mu(app, 1)) and close(drawn[0, -1], decoded_mu(app, 2))
        await pilot.press(tab_key("recon"), "o")
        e = app.state.decoder
        assert e is not None
        worst = e.order("error")
        await wait_for(pilot, lambda: app.state.image == worst[0])
        await pilot.press(tab_key("interp"))
        await interp_drawn(pilot, app, f"A = selected #{worst[0] + 1}")
        assert f"B = next #{worst[1] + 1}" in caption(app, InterpolationView)
        await pilot.press("q")


async def test_l_draws_the_other_path_where_one_row_fits() -> None:
    app = make_app("--checkpoint", str(DATA), "--test-limit", "50")
    async with app.run_test(size=(80, 20)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press(tab_key("interp"))
        view = app.query_one(InterpolationView)
        await wait_for(pilot, lambda: "linear path" in caption(app, InterpolationView))
        assert view.drawn is not None and view.drawn.shape[0] == 1
        linear = view.drawn[0]
        await pilot.press("l")
        await wait_for(pilot, lambda: "spherical (slerp) path" in caption(app, InterpolationView))
        slerp = view.drawn[0]
        assert close(slerp[0], linear[0]) and close(slerp[-1], linear[-1])
        assert not close(slerp[len(slerp) // 2], linear[len(linear) // 2])
        await pilot.press("q")


def with_a_collapsed_dimension(path: Path) -> Path:
    """The fixed model with z3 cut off from the input: μ_3 = 0 and log σ²_3 = 0 for every image,
    so its posterior is the prior (KL 0) and it carries nothing (activity 0)."""
    state = torch.load(DATA, weights_only=True)
    for name in ("fc_mu", "fc_logvar"):
        state[f"{name}.weight"][COLLAPSED_DIM] = 0.0
        state[f"{name}.bias"][COLLAPSED_DIM] = 0.0
    torch.save(state, path)
    return path


async def test_latents_are_sorted_by_kl_and_collapsed_ones_marked(tmp_path: Path) -> None:
    model = with_a_collapsed_dimension(tmp_path / "collapsed.pt")
    app = make_app("--checkpoint", str(model), "--test-limit", "100")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press(tab_key("latents"))
        await wait_for(pilot, lambda: len(bars(app)) == 8)
        e = app.state.decoder
        assert e is not None
        usage = e.usage()
        order = kl_order(e)
        assert order[-1] == COLLAPSED_DIM and usage["active_units"] == 7
        assert [line.split()[0].lstrip("▶") for line in bars(app)] == [f"z{d + 1}" for d in order]
        for d, line in zip(order, bars(app), strict=True):
            assert ("collapsed" in line) == (d == COLLAPSED_DIM), line
            assert f"{usage['kl_per_dim'][d]:.2f} nats" in line
        assert "7 of 8 dimensions active" in caption(app, LatentHealthView)

        app.state.dim = order[0]
        await pilot.press("down")  # the next dimension in KL order, not in index order
        assert app.state.dim == order[1]
        await wait_for(pilot, lambda: bars(app)[1].startswith("▶"))
        await pilot.press("up", "up")  # wraps, as ↑↓ do on the traversal
        assert app.state.dim == order[-1]
        await pilot.press("q")


async def test_latents_scroll_where_the_bars_do_not_fit() -> None:
    app = make_app("--checkpoint", str(DATA), "--test-limit", "50")
    async with app.run_test(size=(80, 14)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press(tab_key("latents"))
        await wait_for(pilot, lambda: "Rows 1–" in caption(app, LatentHealthView))
        shown = len(bars(app))
        assert 0 < shown < 8 and f"Rows 1–{shown} of 8 (↑↓)" in caption(app, LatentHealthView)
        e = app.state.decoder
        assert e is not None
        order = kl_order(e)
        await pilot.press(*["down"] * (7 - order.index(app.state.dim)))  # to the last in KL order
        assert app.state.dim == order[-1]
        await wait_for(pilot, lambda: f"Rows {8 - shown + 1}–8 of 8" in caption(app, LatentHealthView))
        assert bars(app)[-1].startswith("▶")
        await pilot.press("q")


async def test_both_views_follow_training(tmp_path: Path) -> None:
    """While a real (tiny) run trains, both views draw its latest weights; the latent health view
    adds the active units of each epoch end as they arrive."""
    run_dir = tmp_path / "run"
    app = make_app(
        "--epochs", "3", "--train-limit", "512", "--test-limit", "64", "--run-dir", str(run_dir), *TINY
    )
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press(tab_key("latents"))
        await wait_for(pilot, lambda: app.state.epoch == 3, timeout=120)
        await wait_for(pilot, lambda: "(epochs 1–3:" in bars(app)[-1])
        assert "weights after epoch 3" in caption(app, LatentHealthView)
        assert bars(app)[-1].startswith("Active units by epoch")
        assert "of 4 dimensions active" in caption(app, LatentHealthView)
        # The epoch end's held-out usage is what the views of its weights use: no pass of their own.
        assert app.state.decoder.usage() is app.epoch_usage[3]
        assert app.epoch_usage[3]["kl_per_dim"] == read_metrics(run_dir / "metrics.jsonl")[-1]["kl_per_dim"]
        await pilot.press(tab_key("interp"), "l")
        drawn = await interp_drawn(pilot, app, "A = selected #1")
        assert close(drawn[0, 0], decoded_mu(app, 0))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=30)


async def test_a_tab_shown_again_is_not_redrawn_when_nothing_changed(monkeypatch) -> None:
    """Switching back to a view whose picture is up to date costs no rebuild (Textual sends it a
    Resize at its old size as its tab shows); a new size still redraws it."""
    builds: list[int] = []
    build = InterpolationView.build
    monkeypatch.setattr(
        InterpolationView, "build", lambda view, budgets: builds.append(1) or build(view, budgets)
    )
    app = make_app("--checkpoint", str(DATA), "--test-limit", "50")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press(tab_key("interp"))
        await interp_drawn(pilot, app, "A = selected #1")
        drawn = len(builds)
        for _ in range(3):
            await pilot.press(tab_key("recon"), tab_key("interp"))
            await pilot.pause(0.1)
        assert len(builds) == drawn
        await pilot.resize_terminal(100, 40)
        await wait_for(pilot, lambda: len(builds) > drawn)
        await pilot.press("q")
