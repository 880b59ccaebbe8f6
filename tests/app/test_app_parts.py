"""The app's parts on their own: the message table and its handlers, the keymap's order, the
browsing rules (`BrowseState`) and the clock (`RunStatus`). The keys are checked on a fake run
(tests/app/fake_stream.py), the rules and the clock without Textual."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import torch
from textual.message import Message
from textual.widgets._footer import FooterKey

from vae_tui.core import events
from vae_tui.core.events import BatchEnd, Paused, RunFinished
from vae_tui.core.grids import preview_latents
from vae_tui.core.tiles import TileDecoder
from vae_tui.tui import layout, messages, run_status
from vae_tui.tui.app import VaeApp, make_app
from vae_tui.tui.browse import SAMPLE_COUNT, BrowseState
from vae_tui.tui.cli import parse_request
from vae_tui.tui.run_status import RunStatus
from vae_tui.tui.widgets.reconstructions import ReconstructionView
from vae_tui.tui.widgets.text_lines import TextLines
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.views import ImageView, SamplesView

from ..helpers import TINY_MODEL
from .fake_stream import FakeRuns
from .helpers import DATA, kl_order, swept, text_of, wait_for


def test_every_event_the_ui_uses_has_a_message_class_and_a_handler() -> None:
    """One message class per kind of event (not one `TrainEvent(Any)`), each with its handler."""
    used = set(typing.get_args(events.Event)) - {BatchEnd, events.EpochImages}  # batches come coalesced
    assert set(messages.MESSAGE_FOR) == used
    classes = list(messages.MESSAGE_FOR.values())
    assert len(set(classes)) == len(classes)
    posted = [*classes, messages.Batches, messages.HistoryLoaded, messages.ModelOpened, messages.Failed,
              messages.CoreWarning]  # fmt: skip
    for cls in posted:
        assert issubclass(cls, Message) and callable(getattr(VaeApp, cls.handler_name, None)), cls


def test_the_bridge_posts_each_event_in_its_own_message_and_gathers_batches() -> None:
    posted: list[Message] = []
    bridge = messages.UiBridge(posted.append, interval=3600)
    batch = BatchEnd(1, 2, 1, 4, 1, 100.0, 90.0, 10.0, 0.0)
    bridge.handle(batch)  # the first goes at once (nothing sent yet), the next wait
    bridge.handle(BatchEnd(1, 2, 2, 4, 2, 99.0, 89.0, 10.0, 0.0))
    bridge.handle(Paused(1, 2, 2, 0.0))
    bridge.close("completed")
    assert [type(m) for m in posted] == [messages.Batches, messages.Batches, messages.TrainingPaused]
    assert [b.step for b in posted[1].batches] == [2]
    assert posted[2].event == Paused(1, 2, 2, 0.0)


async def test_the_footer_keeps_its_order_while_training(tmp_path: Path) -> None:
    """The keys are bound on the screen (the training ones to `app.` actions) in the order the
    Footer showed when they were all the app's: Tab, ←→, ↑↓, ␣, n, z, r, s, q (the view's own keys
    among them; ↑↓ and n only on the views they act on)."""
    runs = FakeRuns(tmp_path / "run", pause_at_step=30)
    request = parse_request(["--run-dir", str(tmp_path / "run"), "--swanlab", "disabled", "--epochs", "3",
                             "--train-limit", "1280", "--batch-size", "64", "--iwae-k", "0"])  # fmt: skip
    app = make_app(request, start_run=runs)

    def footer() -> list[tuple[str, str]]:
        return [(key.key_display or key.key, key.description) for key in app.query(FooterKey)]

    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.paused_at_step == 30 and app.state.decoder is not None)
        await wait_for(pilot, lambda: ("␣", "Resume") in footer())
        assert footer() == [("⇥", "Tab"), ("←→", "Image"), ("␣", "Resume"), ("g", "Go to"), ("o", "Order"),
                            ("c", "Class"), ("a/b", "Mark"), ("f", "Zoom"), ("r", "Redraw"), ("s", "Save"),
                            ("q", "Quit")]  # fmt: skip
        await pilot.press("4")
        await wait_for(pilot, lambda: ("z", "Base") in footer())
        shown = [description for _, description in footer()]
        common = ["Tab", "Image", "Dim", "Resume", "Base", "Zoom", "Redraw", "Save", "Quit"]
        assert [d for d in shown if d in common] == common, shown  # (the traversal's own keys between)
        await pilot.press("q", "q")


def decoder(count: int = 10) -> TileDecoder:
    images = torch.rand(count, 1, 28, 28)
    return TileDecoder(torch.load(TINY_MODEL, weights_only=True), images, torch.arange(count))


def test_each_view_takes_the_keys_it_declares() -> None:
    """The screen asks the view shown which browsing keys act (no rule names a view)."""
    s = BrowseState()
    s.show(decoder(), epoch=1, batch=0, live=False)
    recon, samples, traversal = (view(s) for view in (ReconstructionView, SamplesView, TraversalView))
    assert recon.takes("browse") and samples.takes("browse") and traversal.takes("browse")
    assert not samples.takes("toggle_base") and traversal.takes("toggle_base")
    assert samples.takes("new_samples") and traversal.takes("dimension") and not recon.takes("dimension")
    assert (recon.selects(), samples.selects(), traversal.selects()) == ("image", "sample", "image")
    s.zero_base = True
    assert not traversal.takes("browse")  # around z = 0 there is nothing to select


class DimensionView(ImageView):
    """A view of a test's own: it draws the selected latent dimension and takes ↑↓ only."""

    DRAWS = frozenset({"dimension"})
    KEYS = frozenset({"dimension"})

    def build(self, budgets: list) -> tuple[None, str, int]:
        return None, f"dimension z{self.state.dim + 1}", 1


async def test_a_new_view_is_a_widget_class_and_a_tab_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing else names a view: added to `TABS` before the traversal, this one gets a pane, a
    place in Tab's cycle, the keys it declares (↓ now opens it: the first view that takes ↓)
    and the redraws of what it draws."""
    added = layout.Tab("dims", "Dimensions", "Dims", layout.image_view(DimensionView))
    monkeypatch.setattr(layout, "TABS", (*layout.TABS[:3], added, layout.TABS[3]))
    app = make_app(parse_request(["--checkpoint", str(DATA), "--test-limit", "20"]))

    def footer() -> list[str]:
        return [key.description for key in app.query(FooterKey)]

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None and "Image" in footer())
        order = kl_order(app.state.decoder)  # ↓ moves from the most informative, as on the traversal
        await pilot.press("down")
        await wait_for(pilot, lambda: app.main.active_tab == "dims")
        caption = app.query_one(DimensionView).query_one(".caption", TextLines)
        await wait_for(pilot, lambda: f"dimension z{order[1] + 1}" in text_of(caption))
        await wait_for(pilot, lambda: "Image" not in footer())  # it takes no ←/→, nor z
        assert "Dim" in footer() and "Base" not in footer()
        await pilot.press("down")
        await wait_for(pilot, lambda: f"dimension z{order[2] + 1}" in text_of(caption))
        await pilot.press("tab")  # the cycle: recon, samples, dims, traversal
        await wait_for(pilot, lambda: app.main.active_tab == "traversal")
        traversal = app.query_one(TraversalView)
        await wait_for(pilot, lambda: swept(traversal) == f"z{order[2] + 1}")  # it draws the dimension too
        await pilot.press("q")


def test_browsing_keys_change_the_parts_the_views_draw() -> None:
    s = BrowseState()
    s.show(decoder(count=10), epoch=1, batch=0, live=False)
    assert s.select(-1, "image") == {"image"} and s.image == 9  # wraps
    assert s.select(1, "sample") == {"sample", "base"} and (s.sample, s.base) == (1, "sample")
    assert s.select(1, "sample") == {"sample"} and s.sample == 2
    order = kl_order(s.decoder)
    assert s.dim == order[0]  # until one is picked, the most informative
    assert s.select_dimension(1, "image") == {"dimension", "base"} and (s.base, s.dim) == ("image", order[1])
    assert s.select_dimension(1, None) == {"dimension"} and s.base == "image"  # the losses tab
    assert s.new_draw() == {"draw"} and s.toggle_base() == {"base"} and s.zero_base
    s.select(-3, "sample")
    assert s.sample == SAMPLE_COUNT - 1
    traversal = TraversalView(s)
    assert all(traversal.DRAWS & s.select(1, part) for part in ("image", "sample"))  # it sweeps either


def test_sample_draws_follow_the_runs_seed() -> None:
    first, again = BrowseState(seed=3), BrowseState(seed=3)
    for s in (first, again):
        s.show(decoder(), epoch=1, batch=0, live=False)
    assert torch.equal(first.samples_z, again.samples_z)
    # The first draw is the run's own: the z of the sample grids it saved and logged every epoch.
    assert torch.equal(first.samples_z, preview_latents(first.decoder.latent_dim, seed=3))
    before = first.samples_z
    first.new_draw()
    assert first.sample_seed == 1 and not torch.equal(before, first.samples_z)
    again.new_draw()
    assert torch.equal(first.samples_z, again.samples_z)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(run_status.time, "monotonic", fake)
    return fake


def test_the_clock_counts_training_time_only(clock: FakeClock) -> None:
    s = RunStatus(batch_size=100)
    s.batches_done([BatchEnd(1, 2, 1, 10, 1, 1.0, 1.0, 0.0, 0.0)])
    clock.now += 2
    s.batches_done([BatchEnd(1, 2, 5, 10, 5, 1.0, 1.0, 0.0, 0.0)])
    assert s.images_per_second == pytest.approx(4 * 100 / 2)
    assert s.remaining_batches == 15 and s.done_batches == 2
    s.pause()
    clock.now += 60  # paused: not training time
    s.resume()
    clock.now += 1
    assert s.elapsed() == pytest.approx(3)
    s.run_finished(RunFinished(1, 5, "stopped", 3.0))
    clock.now += 100  # the clock stopped with training
    assert s.elapsed() == pytest.approx(3) and s.phase == "stopped"


async def test_a_key_press_while_training_holds_the_next_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each key asks training to wait a moment (`TrainControl.hold`), so its redraw has the cores;
    browsing a finished run asks nothing of a trainer that is gone."""
    from vae_tui.tui import app as app_module

    monkeypatch.setattr(app_module, "KEY_HOLD_SECONDS", 3600.0)  # long enough to be seen
    runs = FakeRuns(tmp_path / "run", pause_at_step=30)
    request = parse_request(["--run-dir", str(tmp_path / "run"), "--swanlab", "disabled", "--epochs", "3",
                             "--train-limit", "1280", "--batch-size", "64", "--iwae-k", "0"])  # fmt: skip
    app = make_app(request, start_run=runs)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.paused_at_step == 30 and app.state.decoder is not None)
        assert not app.control.holding
        await pilot.press("right")
        assert app.control.holding
        app.control.request_stop()  # a stop is never held up
        assert app.control.wait_out_hold() < 1.0
        await wait_for(pilot, lambda: not app.training_active)
        app.control = type(app.control)()
        await pilot.press("right")
        assert not app.control.holding
        await pilot.press("q", "q")
