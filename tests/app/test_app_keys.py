"""Which keys the app offers, and what they do, in each state: real training and real models,
driven with Pilot (Footer keys are read off the screen's Footer)."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widgets._footer import FooterKey

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.metrics import MetricsWriter
from vae_tui.core.train import train
from vae_tui.tui.widgets.reconstructions import ReconstructionView
from vae_tui.tui.widgets.status import StatusPanel
from vae_tui.tui.widgets.text_lines import TextLines
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.views import SamplesView

from .helpers import DATA, TINY, make_app, make_fake_app, screen_pixels, text_of, wait_for


def footer(app) -> set[str]:
    return {key.description for key in app.query(FooterKey)}


def caption(app, view_type: type) -> str:
    return text_of(app.query_one(view_type).query_one(".caption", TextLines))


def trained_run(run_dir: Path, **changes: object) -> Path:
    """A real run folder, as `vae-tui --train-only` leaves it (tiny: a second or two)."""
    config = TrainConfig(
        epochs=2, batch_size=128, hidden_dim=32, latent_dim=4, train_limit=512, test_limit=64,
        run_dir=str(run_dir), swanlab="disabled", iwae_k=0, device="cpu",
    ).with_(**changes)  # fmt: skip
    drive(train(config), [MetricsWriter()])
    return run_dir


async def test_the_final_bound_offers_only_keys_that_act_and_keeps_the_clock(tmp_path: Path) -> None:
    """Space during EVALUATING turned the status to PAUSED while the bound went on, and the run
    ended `trained –`; the Footer offered Pause, Redraw and Save, and s showed nothing."""
    run_dir = tmp_path / "run"
    app = make_app("--epochs", "1", "--train-limit", "256", "--test-limit", "300", "--run-dir", str(run_dir),
                   *TINY, "--iwae-k", "3000")  # fmt: skip
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "evaluating")
        acting = {"Pause", "Resume", "Save", "Redraw"}
        offered = lambda: "Quit" in footer(app) and not footer(app) & acting  # noqa: E731
        await wait_for(pilot, lambda: app.status.phase != "evaluating" or offered())
        assert app.status.phase == "evaluating", footer(app)
        await pilot.press("space")  # a key press takes a second or two here while the bound runs
        assert not app.control.paused and not app.status.paused
        assert "PAUSED" not in text_of(app.query_one(StatusPanel))
        await pilot.press("s")
        assert not app.control.take_save_request()
        await wait_for(pilot, lambda: app.status.phase == "finished")
        first_row = text_of(app.query_one(StatusPanel)).splitlines()[0]
        assert "IWAE(K=3000)" in first_row and "trained 0:" in first_row, first_row
        assert app.status.elapsed() > 0
        await pilot.press("q")
    assert ckpt.read_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 1


async def test_keys_while_training_say_what_they_will_do(tmp_path: Path) -> None:
    """Paused, the Footer read `␣ Pause`; after r the caption's numbers changed with nothing to
    say they were now the weights as they are, mid-epoch, not as of the last epoch end.
    (A fake stream of 100 batches an epoch, 5 ms each: what the keys show, not what they write.)"""
    run_dir = tmp_path / "run"
    app, _ = make_fake_app("--epochs", "500", "--train-limit", "6400", "--batch-size", "64", "--test-limit", "64",
                           "--run-dir", str(run_dir), *TINY, run_dir=run_dir, batch_sleep=0.005)  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None and app.status.epoch >= 2)
        await wait_for(pilot, lambda: "Pause" in footer(app))
        assert "Resume" not in footer(app)
        assert "same every epoch" in caption(app, SamplesView) or not app.query_one(SamplesView).is_on_screen
        await wait_for(pilot, lambda: "weights after epoch" in caption(app, ReconstructionView))

        await wait_for(pilot, lambda: 0 < app.status.batch < 50)  # so that the pause lands mid-epoch
        await pilot.press("space")
        await wait_for(pilot, lambda: app.paused_at_step is not None and app.status.batch > 0)
        await wait_for(pilot, lambda: "Resume" in footer(app))
        assert "Pause" not in footer(app)

        decoder = app.state.decoder
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state.decoder is not decoder)
        await pilot.pause(0.2)
        where = f"epoch {app.status.epoch}, batch {app.status.batch}"
        assert f"weights now ({where})" in caption(app, ReconstructionView)

        await pilot.press("3")
        await pilot.pause(0.2)
        assert "same every epoch" in caption(app, SamplesView)  # training goes on: it will change

        await pilot.press("space")
        await wait_for(pilot, lambda: "Pause" in footer(app))
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=30)
    assert app.return_code == 0


async def test_keys_are_offered_only_where_they_act() -> None:
    """z on the Samples tab switched the traversal's base out of sight, and ←→ on a traversal
    around z = 0 selected images it does not show: the Footer offers a key where it acts."""
    app = make_app("--checkpoint", str(DATA), "--test-limit", "50")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await wait_for(pilot, lambda: "Image" in footer(app))
        assert "Base" not in footer(app)  # reconstructions: z would change nothing here
        await pilot.press("3")
        await wait_for(pilot, lambda: app.query_one(SamplesView).is_on_screen)
        await pilot.pause(0.2)
        assert "Base" not in footer(app) and "Image" in footer(app)
        await pilot.press("z")
        assert not app.state.zero_base  # not bound here: nothing happened out of sight
        await pilot.press("4")
        await wait_for(pilot, lambda: "Base" in footer(app))
        await pilot.press("z")
        assert app.state.zero_base and "base: z = 0" in caption(app, TraversalView)
        await wait_for(pilot, lambda: "Image" not in footer(app))  # around 0, nothing to select
        image = app.state.image
        await pilot.press("right")
        assert app.state.image == image
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_selected_sample_is_what_the_traversal_sweeps(tmp_path: Path) -> None:
    """Once training is over, or browsing a saved run, the samples' caption said "z draw #1,
    kept across epochs" (no epoch would come) and selecting a sample did nothing but move a frame:
    the caption says what is, and ↑↓ then traverse the selected sample's z."""
    run_dir = trained_run(tmp_path / "run")
    app = make_app("--checkpoint", str(run_dir / "checkpoint.pt"), "--test-limit", "64")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press("4")
        await wait_for(pilot, lambda: "μ of test image #1" in caption(app, TraversalView))
        around_image = screen_pixels(app, TraversalView)
        await pilot.press("3", "right", "right")
        await wait_for(pilot, lambda: "Selected 3 " in caption(app, SamplesView))
        samples = caption(app, SamplesView)
        assert "across epochs" not in samples and "every epoch" not in samples
        assert "↑↓ traverses it" in samples
        await pilot.press("down")
        await wait_for(pilot, lambda: "base: sample 3" in caption(app, TraversalView))
        around_sample = screen_pixels(app, TraversalView)
        assert around_sample != around_image
        await pilot.press("right")  # on the traversal, ←→ move along what it is around
        await wait_for(pilot, lambda: "base: sample 4" in caption(app, TraversalView))
        assert app.state.sample == 3 and app.state.image == 0
        await pilot.press("2", "down")
        await wait_for(pilot, lambda: "μ of test image #1" in caption(app, TraversalView))
        await pilot.press("q")
    assert app.return_code == 0


async def test_screenshots_go_to_the_run_folder_or_say_why_not(tmp_path: Path) -> None:
    """Ctrl+P → Screenshot wrote to ~/Downloads, which need not exist, and then said only
    "Failed to save screenshot"."""
    run_dir = trained_run(tmp_path / "run")
    app = make_app("--checkpoint", str(run_dir / "checkpoint.pt"), "--test-limit", "64")

    async def screenshot(pilot) -> str:
        app._notifications.clear()
        await pilot.press("ctrl+p", *"screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(app._notifications), timeout=10)
        return " ".join(n.message for n in app._notifications)

    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        said = await screenshot(pilot)
        saved = list(run_dir.glob("*.svg"))
        assert len(saved) == 1 and saved[0].name in said and str(run_dir) in said, said
        assert "<svg" in saved[0].read_text()[:2000]

        shutil.rmtree(run_dir)  # the folder goes away: the reason is said in one line
        said = await screenshot(pilot)
        assert "Screenshot not saved: cannot write" in said and "No such file or directory" in said, said
        assert "\n" not in said
        await pilot.press("q")


async def test_a_bare_state_dict_screenshots_into_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app("--checkpoint", str(DATA), "--test-limit", "20")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        app.deliver_screenshot()
        await wait_for(pilot, lambda: bool(list(tmp_path.glob("*.svg"))), timeout=10)
        await pilot.press("q")
    assert not list(DATA.parent.glob("*.svg"))
