"""Reaching the test images and the views: the page keys, `g`, the orders and classes, the marks,
the tabs and the Footer at 80 columns, the palette, zoom, and Fashion-MNIST's class names.
Real models and real key presses (Pilot); the expected images are computed independently of the
app (each image's own loss, the labels), never read back from what is under test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Footer, Input, TabbedContent, Tabs
from textual.widgets._footer import FooterKey
from textual.widgets._tabbed_content import ContentTab

from vae_tui.core.data import SYSTEM_FASHION
from vae_tui.tui.app import VaeApp
from vae_tui.tui.layout import TABS, visible_tabs
from vae_tui.tui.widgets.goto import GoToImage
from vae_tui.tui.widgets.halfblock import MARK_COLOURS, HalfBlockView
from vae_tui.tui.widgets.reconstructions import ReconstructionView
from vae_tui.tui.widgets.views import SamplesView

from .helpers import DATA, TINY, make_app, make_fake_app, wait_for
from .test_app_keys import caption, footer, trained_run

IMAGES = 200


async def opened(pilot, app: VaeApp) -> None:
    await wait_for(pilot, lambda: app.state.decoder is not None)
    await wait_for(pilot, lambda: "Test images" in caption(app, ReconstructionView))


def browse(*flags: str) -> VaeApp:
    return make_app("--checkpoint", str(DATA), "--test-limit", str(IMAGES), *flags)


def worst_first(app: VaeApp) -> list[int]:
    """The test images by their own BCE (`image_loss`, one at a time), the worst first."""
    e = app.state.decoder
    assert e is not None
    bce = np.array([e.image_loss(i)[0] for i in range(e.count)])
    return np.argsort(-bce, kind="stable").tolist()


def mark_colours_drawn(app: VaeApp) -> set[str]:
    """The mark letters whose frame colour is in the reconstructions' picture."""
    lines = app.query_one(ReconstructionView).query_one(HalfBlockView)._lines
    colours = {
        style.color.triplet for line in lines for segment in line if (style := segment.style) and style.color
    } | {style.bgcolor.triplet for line in lines for s in line if (style := s.style) and style.bgcolor}
    packed = {letter: tuple(c & 0xFC for c in rgb) for letter, rgb in MARK_COLOURS.items()}
    return {letter for letter, rgb in packed.items() if rgb in colours}


async def test_page_keys_home_end_and_the_order_by_error() -> None:
    app = browse()
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        view = app.query_one(ReconstructionView)
        page = view.per_page
        assert 1 < page < IMAGES
        await wait_for(pilot, lambda: {"Go to", "Order", "Class", "Mark"} <= footer(app))
        await pilot.press("pagedown")
        assert app.state.image == page
        await wait_for(
            pilot, lambda: f"Test images {page + 1}–{2 * page} of {IMAGES}" in caption(app, view.__class__)
        )
        await pilot.press("pageup", "pageup")  # (clamped at the first)
        assert app.state.image == 0
        await pilot.press("end")
        assert app.state.image == IMAGES - 1
        await wait_for(pilot, lambda: f"–{IMAGES} of {IMAGES}" in caption(app, ReconstructionView))
        await pilot.press("home")
        assert app.state.image == 0

        worst = worst_first(app)
        await pilot.press("o")  # the order is computed on a worker: the worst is selected once it is there
        await wait_for(pilot, lambda: app.state.image == worst[0])
        await wait_for(
            pilot, lambda: f"Worst 1 of {IMAGES} · #{worst[0] + 1} " in caption(app, ReconstructionView)
        )
        assert "by error" in caption(app, ReconstructionView)
        await pilot.press("right", "pagedown")
        assert app.state.image == worst[1 + page]
        await wait_for(
            pilot, lambda: f"Rank {2 + page} of {IMAGES} by error" in caption(app, ReconstructionView)
        )
        await pilot.press("end")
        assert app.state.image == worst[-1]
        await pilot.press("o")  # back in index order, the image found stays selected
        assert app.state.image == worst[-1] and app.state.order == "index"
        await wait_for(pilot, lambda: "by error" not in caption(app, ReconstructionView))
        await pilot.press("right")
        assert app.state.image == (worst[-1] + 1) % IMAGES
        await pilot.press("q")


async def test_a_key_pressed_while_the_order_is_computed_acts_after_the_worst_is_selected() -> None:
    """`o` leaves the order by error to a worker; → pressed before its answer moves from the
    worst, as if the order had been there at once (not from image 1, then jumping back)."""
    app = browse()
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        worst = worst_first(app)
        view = app.query_one(ReconstructionView)
        app.main.action_view("order")  # what `o` does; the worker cannot answer before the next await
        assert view.worst_pending and app.state.image == 0
        app.main.key_seen("right")  # what the app does at the next key press, then its action
        app.main.action_browse(1)
        assert app.state.image == worst[1] and not view.worst_pending
        await wait_for(
            pilot,
            lambda: f"Rank 2 of {IMAGES} by error · #{worst[1] + 1} " in caption(app, ReconstructionView),
        )
        await pilot.press("q")


async def test_the_class_key_cycles_through_each_class_and_back() -> None:
    app = browse()
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot, app)
        labels = app.state.decoder.labels.numpy()
        present = sorted(set(labels.tolist()))
        await pilot.press("o")  # in error order: each class opens on its worst image
        worst = worst_first(app)
        for label in present:
            await pilot.press("c")
            of_class = [i for i in worst if labels[i] == label]
            assert app.state.image_class == label and app.state.image == of_class[0]
            await wait_for(pilot, lambda label=label: f"class {label} " in caption(app, ReconstructionView))
            assert f"Worst 1 of {len(of_class)} · " in caption(app, ReconstructionView)
            seen = []
            for _ in range(len(of_class)):  # ←/→ stay within the class, in its order
                seen.append(app.state.image)
                await pilot.press("right")
            assert seen == of_class and app.state.image == of_class[0]
        await pilot.press("c")
        assert app.state.image_class is None
        await wait_for(pilot, lambda: "class" not in caption(app, ReconstructionView).splitlines()[0])
        await pilot.press("q")


async def test_go_to_a_number_in_its_own_dialog() -> None:
    app = browse()
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, GoToImage))
        await pilot.press("q", "0", "enter")  # q is no quit here; 0 is out of range: said in one line
        assert app.exits.quitting is None
        error = app.screen.query_one(".error").render().plain
        assert error == f"enter a number from 1 to {IMAGES}" and isinstance(app.screen, GoToImage)
        app.screen.query_one(Input).value = ""
        await pilot.press(*"137")  # digits go to the dialog, not to the tab keys
        assert app.screen.query_one(".error").render().plain == ""  # the complaint was of another number
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, GoToImage))
        assert app.state.image == 136 and app.query_one(TabbedContent).active == "recon"
        await wait_for(pilot, lambda: "#137 " in caption(app, ReconstructionView))

        await pilot.press("g", *"42", "escape")  # Escape cancels
        await wait_for(pilot, lambda: not isinstance(app.screen, GoToImage))
        assert app.state.image == 136

        labels = app.state.decoder.labels.numpy()
        await pilot.press("c")  # a class filter that the image asked for is not in is dropped
        other = next(i for i in range(IMAGES) if labels[i] != app.state.image_class)
        await pilot.press("g", *str(other + 1), "enter")
        await wait_for(pilot, lambda: app.state.image == other)
        assert app.state.image_class is None
        await pilot.press("q")
    assert app.return_code == 0


async def test_marks_a_and_b_are_framed_and_said() -> None:
    app = browse()
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        assert mark_colours_drawn(app) == set()
        await pilot.press("right", "a")
        assert app.state.mark_a == 1
        await wait_for(pilot, lambda: "A #2" in caption(app, ReconstructionView))
        assert mark_colours_drawn(app) == {"A"}
        await pilot.press("right", "right", "b")
        assert app.state.mark_b == 3
        await wait_for(pilot, lambda: "A #2 · B #4" in caption(app, ReconstructionView))
        assert mark_colours_drawn(app) == {"A", "B"}
        await pilot.press("end")  # a mark off the page shown is still said
        await wait_for(pilot, lambda: "A #2 · B #4" in caption(app, ReconstructionView))
        assert mark_colours_drawn(app) == set()
        await pilot.press("home", "right", "a")  # again on A's image: unmarked
        assert app.state.mark_a is None and app.state.mark_b == 3
        await wait_for(pilot, lambda: "A #" not in caption(app, ReconstructionView))
        await pilot.press("q")


async def test_samples_take_the_page_keys() -> None:
    app = browse()
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("3")
        await wait_for(pilot, lambda: "Samples 1–" in caption(app, SamplesView))
        page = app.query_one(SamplesView).per_page
        await pilot.press("pagedown")
        assert app.state.sample == page and app.state.image == 0
        await pilot.press("end")
        assert app.state.sample == 63
        await wait_for(pilot, lambda: "Selected 64 " in caption(app, SamplesView))
        await pilot.press("pageup")
        assert app.state.sample == 63 - page
        await pilot.press("home")
        assert app.state.sample == 0
        await pilot.press("q")


async def every_tab_fits(pilot, app: VaeApp, width: int) -> None:
    """Each visible tab's label is whole within the tab bar; its number key opens it, and its
    Footer ends with Quit, whole, within the `width` columns."""
    shown = visible_tabs(app.main)
    bar = app.query_one(Tabs).region
    labels = [tab for tab in app.query(ContentTab) if tab.display]
    assert len(labels) == len(shown)
    for label in labels:
        assert bar.x <= label.region.x and label.region.right <= bar.right <= width, label.label.plain
    for number, tab in enumerate(TABS, 1):
        if tab.id not in shown:
            continue
        await pilot.press(str(number))
        await wait_for(pilot, lambda tab=tab: app.query_one(TabbedContent).active == tab.id)
        await pilot.pause(0.1)
        keys = list(app.query_one(Footer).query(FooterKey))
        assert keys[-1].description == "Quit", tab.id
        assert keys[-1].region.right <= width and sum(k.region.width + 1 for k in keys) - 1 <= width, (
            tab.id,
            [k.description for k in keys],
        )


async def test_every_tab_and_its_footer_fit_80_columns(tmp_path: Path) -> None:
    """Every tab there is, with a 2-D model (its Manifold tab) from a run folder (its Losses tab):
    at 80 columns, and at 110 where the tab bar shares the width with the loss plots."""
    run = trained_run(tmp_path / "run", latent_dim=2)
    cases = [(browse(), (80, 24))] + [
        (make_app("--checkpoint", str(run / "checkpoint.pt"), "--test-limit", "64"), size)
        for size in ((80, 24), (110, 30))
    ]
    for app, size in cases:
        async with app.run_test(size=size) as pilot:
            await opened(pilot, app)
            if app.state.decoder.latent_dim == 2 and size[0] == 80:  # every tab there is, here
                await wait_for(pilot, lambda app=app: visible_tabs(app.main) == [tab.id for tab in TABS])
            await pilot.pause(0.2)
            await every_tab_fits(pilot, app, size[0])
            await pilot.press("q")


async def test_the_footer_fits_80_columns_while_training(tmp_path: Path) -> None:
    """Training adds ␣ Pause, r Redraw and s Save to every tab's keys (a fake stream: the keys
    offered, not the loop)."""
    run_dir = tmp_path / "run"
    app, _ = make_fake_app("--epochs", "500", "--train-limit", "6400", "--batch-size", "64", "--test-limit", "64",
                           "--run-dir", str(run_dir), *TINY, run_dir=run_dir, batch_sleep=0.005)  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None and "Pause" in footer(app))
        await every_tab_fits(pilot, app, 80)
        assert "Save" in footer(app)
        await pilot.press("q", "q")


async def test_the_palette_shows_each_tab_by_name() -> None:
    app = browse()
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot, app)
        await pilot.press("ctrl+p", *"show samples")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one(TabbedContent).active == "samples")
        await pilot.press("q")


async def test_zoom_gives_the_views_the_width_and_back(tmp_path: Path) -> None:
    run_dir = trained_run(tmp_path / "run")
    app = make_app("--checkpoint", str(run_dir / "checkpoint.pt"), "--test-limit", "64")
    async with app.run_test(size=(160, 46)) as pilot:
        await opened(pilot, app)
        side = app.query_one("#side-losses")
        losses = lambda: "losses" in visible_tabs(app.main)  # noqa: E731
        await wait_for(pilot, lambda: "2× smaller" in caption(app, ReconstructionView))
        assert side.display and side.region.width > 0 and not losses() and "Zoom" in footer(app)
        await pilot.press("f")
        await wait_for(pilot, lambda: "2× smaller" not in caption(app, ReconstructionView))
        assert side.region.width == 0 and losses()
        await pilot.press("1")
        assert app.query_one(TabbedContent).active == "losses"
        await pilot.press("f")
        await wait_for(pilot, lambda: side.region.width > 0)
        assert not losses() and app.query_one(TabbedContent).active != "losses"
        await wait_for(pilot, lambda: "2× smaller" in caption(app, ReconstructionView))
        await pilot.press("q")


@pytest.mark.skipif(not SYSTEM_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
async def test_fashion_mnist_trains_in_the_app_with_class_names(tmp_path: Path) -> None:
    names = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
    app = make_app("--dataset", "fashion-mnist", "--epochs", "1", "--train-limit", "256", "--test-limit", "64",
                   "--run-dir", str(tmp_path / "run"), *TINY)  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot, app)
        await wait_for(pilot, lambda: app.status.phase == "finished")
        labels = app.state.decoder.labels.numpy()
        text = caption(app, ReconstructionView)
        assert f"#1 ({names[labels[0]]})" in text, text
        await pilot.press("c")
        first = min(labels.tolist())
        await wait_for(pilot, lambda: f"class {names[first]}" in caption(app, ReconstructionView))
        await pilot.press("4")
        await wait_for(
            pilot,
            lambda: names[labels[app.state.image]] in app.main.view("traversal").query_one(".caption").plain,
        )
        await pilot.press("q")
