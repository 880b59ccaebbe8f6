"""`[` and `]` step through the epochs a run kept, with Pilot on the real app: the views show the
kept PNGs' own pixels, the captions say which epoch, the loss plots mark it; at the head the views
are the model's (live while training), and new epochs never move a user off a past one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from textual.pilot import Pilot

from vae_tui.core.grids import GridWriter
from vae_tui.core.history import read_image
from vae_tui.core.metrics import read_metrics
from vae_tui.tui import app as app_module
from vae_tui.tui.app import VaeApp
from vae_tui.tui.browse import BrowseState
from vae_tui.tui.cli import parse_request
from vae_tui.tui.past_epochs import PastEpochs, fit_stored
from vae_tui.tui.widgets.halfblock import Budget, HalfBlockView, image_to_lines
from vae_tui.tui.widgets.latent_health import LatentHealthView
from vae_tui.tui.widgets.latent_map import LatentMapView
from vae_tui.tui.widgets.loss_history import LossHistory
from vae_tui.tui.widgets.losses import LossPanel
from vae_tui.tui.widgets.reconstructions import ReconstructionView
from vae_tui.tui.widgets.text_lines import TextLines
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.views import ImageView, SamplesView

from .fake_stream import FakeRun, FakeRuns
from .helpers import make_app, text_of, wait_for
from .test_explore import tab_key


class KeepingRuns(FakeRuns):
    """Fake runs whose pictures are kept on disk by the real `GridWriter`, as a real run's are."""

    def __call__(self, plan: Any, control: Any) -> FakeRun:
        run = super().__call__(plan, control)
        drive = run.drive
        run.drive = lambda before=(), after=(): drive(before=[GridWriter(), *before], after=after)  # type: ignore[method-assign]
        return run


def caption(app: VaeApp, view_type: type) -> str:
    return text_of(app.query_one(view_type).query_one(".caption", TextLines))


def drawn(app: VaeApp, view_type: type[ImageView]) -> list:
    """The cells a view's picture is drawn with."""
    view = app.query_one(view_type).query_one(".picture-view", HalfBlockView)
    return [[(s.text, s.style) for s in line] for line in view._lines]


def expected(app: VaeApp, view_type: type[ImageView], stored: np.ndarray) -> list:
    """The cells the kept picture `stored` is drawn with in that view's space."""
    picture = app.query_one(view_type).query_one(".picture-view", HalfBlockView)
    image, _, _ = fit_stored(stored, picture.budgets())
    return [[(s.text, s.style) for s in line] for line in image_to_lines(image)]


def notes(app: VaeApp) -> str:
    return " ".join(n.message for n in app._notifications)


async def shown(pilot: Pilot, app: VaeApp, tab: str) -> None:
    await pilot.press(tab_key(tab))
    await pilot.pause(0.2)


async def test_checkpoint_of_an_old_run_steps_through_its_kept_epochs(old_run: Path) -> None:
    """`--checkpoint` of a run from before issue 14: `[` goes to the last kept epoch, then back;
    each view shows that epoch's kept PNG pixel for pixel, the traversal (not kept then) says
    so, the latents show the epoch's KL row, the map says it cannot go back, `]` returns."""
    app = make_app("--checkpoint", str(old_run / "checkpoint.pt"), "--test-limit", "200")
    rows = {r["epoch"]: r for r in read_metrics(old_run) if r.get("kind") == "epoch"}
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.pause(0.3)
        head = drawn(app, ReconstructionView)
        await pilot.press("left_square_bracket")
        await pilot.pause(0.2)
        assert app.state.history_epoch == 3 and app.history.cursor == 3
        await pilot.press("left_square_bracket")
        await pilot.pause(0.2)
        recon = app.query_one(ReconstructionView)
        stored = read_image(old_run, 2, "reconstructions")
        assert stored is not None and np.array_equal(recon.history_picture, stored)
        assert drawn(app, ReconstructionView) == expected(app, ReconstructionView, stored) != head
        assert "Epoch 2 of 3" in caption(app, ReconstructionView)
        title = app.query_one(LossPanel).query_one("#epoch-title")
        await wait_for(pilot, lambda: "│ epoch 2" in text_of(title), timeout=5)  # (at the 2 Hz redraw)
        await pilot.press("left_square_bracket", "left_square_bracket")  # past the first: stays
        await pilot.pause(0.2)
        assert app.state.history_epoch == 1 and "Epoch 1 is the first kept" in notes(app)

        await shown(pilot, app, "samples")
        samples = read_image(old_run, 1, "samples")
        assert np.array_equal(app.query_one(SamplesView).history_picture, samples)
        assert drawn(app, SamplesView) == expected(app, SamplesView, samples)
        await shown(pilot, app, "traversal")
        assert app.query_one(TraversalView).history_picture is None
        assert "not kept for this epoch" in caption(app, TraversalView)
        await shown(pilot, app, "latents")
        assert "Epoch 1 of 3" in caption(app, LatentHealthView)
        kl = rows[1]["kl_per_dim"]
        bars = text_of(app.query_one(LatentHealthView).query_one(".health-bars"))
        assert all(f"{value:6.2f} nats" in bars for value in kl)
        await shown(pilot, app, "map")
        assert "needs that epoch's weights" in caption(app, LatentMapView)

        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await pilot.pause(0.2)
        assert app.state.history_epoch is None and app.history.cursor is None
        await shown(pilot, app, "recon")
        assert recon.history_picture is None and drawn(app, ReconstructionView) == head


async def test_while_training_a_past_epoch_stays_and_the_head_is_live(tmp_path: Path) -> None:
    """Before an epoch ends `[` says there is no history; later it shows the last kept epoch,
    which stays shown as new epochs arrive; `]` at the last kept one returns to live."""
    runs = KeepingRuns(tmp_path / "run", pause_at_step=2, batch_sleep=0.2)
    flags = [
        "--epochs",
        "4",
        "--train-limit",
        "256",
        "--batch-size",
        "64",
        "--run-dir",
        str(tmp_path / "run"),
    ]
    app = app_module.make_app(parse_request(flags), start_run=runs)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.paused_at_step == 2)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: "No epoch has ended yet" in notes(app), timeout=10)
        assert app.state.history_epoch is None
        await pilot.press("space")  # resume
        await wait_for(pilot, lambda: len(app.history.epochs) >= 2 and app.state.epoch >= 2)
        await wait_for(pilot, lambda: "live · weights after epoch" in caption(app, ReconstructionView))
        await pilot.press("left_square_bracket")
        await pilot.pause(0.2)
        at = app.state.history_epoch
        assert at is not None and at >= 2
        stored = read_image(tmp_path / "run", at, "reconstructions")
        assert np.array_equal(app.query_one(ReconstructionView).history_picture, stored)
        assert f"Epoch {at} of 4" in caption(app, ReconstructionView)
        assert "returns to live" in caption(app, ReconstructionView)
        await wait_for(pilot, lambda: len(app.history.epochs) == 4)  # the head moved on
        await pilot.pause(0.3)
        assert app.state.history_epoch == at and f"Epoch {at} of 4" in caption(app, ReconstructionView)
        assert np.array_equal(app.query_one(ReconstructionView).history_picture, stored)
        for _ in range(4 - at + 1):
            await pilot.press("right_square_bracket")
        await pilot.pause(0.2)
        assert app.state.history_epoch is None
        assert app.query_one(ReconstructionView).history_picture is None


async def test_rows_without_kl_per_dim_say_so(old_run: Path) -> None:
    """An older run's rows without `kl_per_dim`: the latents at a past epoch say there are no
    bars to draw, rather than drawing the head's."""
    metrics = old_run / "metrics.jsonl"
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    metrics.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "kl_per_dim"}) + "\n" for r in rows)
    )
    app = make_app("--checkpoint", str(old_run / "checkpoint.pt"), "--test-limit", "200")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await shown(pilot, app, "latents")
        await pilot.press("left_square_bracket")
        await pilot.pause(0.2)
        body = text_of(app.query_one(LatentHealthView).query_one(".health-bars"))
        assert "no KL per dimension" in body and "nats" not in body
        assert "Epoch 3 of 3" in caption(app, LatentHealthView)


def test_a_kept_picture_is_shown_whole() -> None:
    """At full size where it fits (a protocol's whole-number scale too), else averaged down by the
    smallest whole factor that fits: never cropped."""
    picture = np.random.default_rng(0).integers(0, 256, (122, 242), dtype=np.uint8)
    image, scale, factor = fit_stored(picture, [Budget(300, 300, 1, 2), Budget(600, 600, 1, 1)])
    assert (scale, factor) == (2, 1) and np.array_equal(image[..., 0], picture)
    image, scale, factor = fit_stored(picture, [Budget(78, 40, 1, 1), Budget(78, 40, 2, 1)])
    height, width = image.shape[:2]
    assert scale == 1 and width <= 78 and height <= 40
    less = factor - 1  # would not fit: the picture at 1/less is wider or taller than the space
    assert less >= 1 and (-(-242 // less) > 78 or -(-122 // less) > 40)
    block = picture[:factor, :factor].astype(float).mean()
    assert image[0, 0, 0] == int(block + 0.5)


def test_the_keys_step_through_the_kept_epochs() -> None:
    """`[` from the head goes to the last kept epoch, on to the first (where it stays, and says
    so); `]` goes back, and from the last kept one returns to the head."""
    history = LossHistory()
    kept = PastEpochs(lambda: "/some/run", history, lambda: 5)
    state = BrowseState(kept=kept)
    assert kept.step(state, -1)[0] is None and "No epoch has ended yet" in kept.step(state, -1)[1]
    for epoch in (1, 2, 3):
        history.add_epoch({"epoch": epoch, "step": 10 * epoch})
    visited = []
    for delta in (-1, -1, -1, -1, 1, 1, 1):
        state.history_epoch, note = kept.step(state, delta)
        visited.append(state.history_epoch)
    assert visited == [3, 2, 1, 1, 2, 3, None] and note == ""
    assert "Already at the head" in kept.step(state, 1)[1]
    assert "No run folder" in PastEpochs(lambda: None, history, lambda: 5).step(state, -1)[1]
