"""The Textual app driven with Pilot: real training on a small real subset, real key presses."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import TabbedContent
from textual.widgets._footer import FooterKey

from vae_tui.core import checkpoint as ckpt
from vae_tui.tui.app import closing_line
from vae_tui.tui.widgets.halfblock import HalfBlockView
from vae_tui.tui.widgets.reconstructions import ReconstructionView
from vae_tui.tui.widgets.status import StatusPanel, fit_path
from vae_tui.tui.widgets.text_lines import TextLines
from vae_tui.tui.widgets.traversal import TraversalView
from vae_tui.tui.widgets.views import SamplesView

from .helpers import DATA, TINY, kl_order, make_app, make_fake_app, screen_pixels, swept, text_of, wait_for


async def test_training_live_and_every_training_key(tmp_path: Path) -> None:
    """The app's integration test on real data: a real run, and the keys that act on the loop
    doing so for real (s and q write the checkpoints, r is served without training a batch).
    What the browsing keys show needs no training: `test_the_browsing_keys_act_while_training`."""
    run_dir = tmp_path / "run"
    app = make_app(
        "--epochs", "500", "--train-limit", "4096", "--test-limit", "64", "--run-dir", str(run_dir), *TINY
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None and app.status.step > 0)
        status = app.query_one(StatusPanel)
        assert "TRAINING" in text_of(status) and str(run_dir) in text_of(status)
        assert app.query_one(TabbedContent).active == "recon"

        # space pauses: the step counter stops, and the status says so; space again resumes.
        await pilot.press("space")
        assert app.control.paused and "PAUSED" in text_of(status)
        await wait_for(pilot, lambda: app.paused_at_step is not None)  # the loop confirms
        step = app.paused_at_step
        assert app.status.step == step and f"step {step}" in text_of(status)
        await pilot.pause(0.5)
        assert app.status.step == step

        # While paused, s writes a checkpoint of this exact position, at once.
        await pilot.press("s")
        await wait_for(pilot, lambda: app.last_checkpoint is not None and bool(app._notifications))
        saved = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
        assert saved["step"] == step and app.control.paused

        # r redraws the views from the weights as they are now, not as of the last epoch end.
        decoder = app.state.decoder
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state.decoder is not decoder)
        assert app.status.step == step  # serving it did not train a batch

        await pilot.press("space")
        assert not app.control.paused
        await wait_for(pilot, lambda: app.status.step > step)

        # q stops between batches, saves and exits with 0.
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=30)
    assert app.return_code == 0
    final = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    assert final["epoch"] < 500  # it stopped early, at a batch boundary
    assert final["step"] >= saved["step"]


async def test_the_browsing_keys_act_while_training(tmp_path: Path) -> None:
    """←→, ↓, z, the tabs and n while the run goes on (a fake stream of 100 batches an epoch,
    5 ms each: what the keys show does not depend on how the weights were trained)."""
    run_dir = tmp_path / "run"
    app, _ = make_fake_app("--epochs", "500", "--train-limit", "6400", "--batch-size", "64", "--test-limit", "64",
                           "--run-dir", str(run_dir), *TINY, run_dir=run_dir, batch_sleep=0.005)  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None and app.status.step > 0)

        # ←/→ move the selected test image; the caption says which one.
        await pilot.press("right", "right", "right", "left")
        assert app.state.image == 2
        caption = app.query_one(ReconstructionView).query_one(".caption", TextLines)
        assert "#3 (label 1)" in text_of(
            caption
        )  # MNIST's third test image is a 1 (the caption may drop "Selected" to fit)

        # ↓ selects a latent dimension and shows the traversal around that image's code.
        await pilot.press("down")
        assert app.state.picked_dim is not None and app.query_one(TabbedContent).active == "traversal"
        await wait_for(pilot, lambda: swept(app.query_one(TraversalView)) == f"z{app.state.dim + 1}")
        assert "μ of test image #3" in text_of(app.query_one(TraversalView).query_one(".caption", TextLines))
        await pilot.press("z")
        assert "base: z = 0" in text_of(app.query_one(TraversalView).query_one(".caption", TextLines))

        # n draws a new z: different pictures.
        await pilot.press("3")
        before = screen_pixels(app, SamplesView)
        z_before = app.state.samples_z.clone()
        await pilot.press("n")
        assert app.state.sample_seed == 1 and not np.allclose(z_before.numpy(), app.state.samples_z.numpy())
        assert screen_pixels(app, SamplesView) != before

        assert app.training_active and not app.control.paused  # all of it while the run went on
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=30)
    assert app.return_code == 0


async def test_training_finishes_and_stays_open_for_browsing(tmp_path: Path) -> None:
    """What the app shows once the stream has ended (a fake stream: nothing here is the loop's)."""
    run_dir = tmp_path / ("a-long-folder-name-" * 4) / "run"
    app, _ = make_fake_app("--epochs", "2", "--train-limit", "512", "--test-limit", "64", "--run-dir", str(run_dir),
                           *TINY, "--iwae-k", "8", run_dir=run_dir)  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        # The panel grows to its held-out row at the layout after the epoch's numbers arrive,
        # which the fake stream sends a moment before FINISHED: wait for that layout.
        panel = app.query_one(StatusPanel)
        await wait_for(pilot, lambda: app.status.phase == "finished" and "held-out" in text_of(panel))
        assert app.is_running
        assert [row["epoch"] for row in app.history.epochs] == [1, 2]
        status = text_of(app.query_one(StatusPanel))
        assert "FINISHED" in status
        assert "SwanLab disabled" in status and "…" in status and "/run" in status
        # The run's headline numbers fit at 80 columns, in place of the progress bar: a fourth
        # status row used to take the rows the reconstructions need, and the tab went blank.
        final = status.splitlines()[0].strip()
        assert final.startswith("FINISHED epoch 2/2")
        assert "−ELBO" in final and "IWAE(K=8)" in final and "active units" in final and "…" not in final
        assert len(status.splitlines()) == 3
        await pilot.press("2")
        pixels = app.query_one(ReconstructionView).query_one(HalfBlockView)
        await wait_for(pilot, lambda: pixels._image_width > 0, timeout=10)
        assert pixels.note == ""  # not "enlarge the terminal to see this view"
        elapsed = app.status.elapsed()
        await pilot.pause(0.3)
        assert app.status.elapsed() == elapsed
        assert app.state.epoch == 2
        await wait_for(pilot, lambda: not app.training_active)  # the worker ends after RunFinished
        await pilot.pause(0.2)
        footer = {key.description for key in app.query(FooterKey)}
        assert {"Image", "Go to", "Quit"} <= footer and not footer & {"Pause", "Save", "Redraw"}
        await pilot.press("right")
        assert app.state.image == 1
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    assert app.return_code == 0


async def test_reference_state_dict_opens_for_browsing_without_training(tmp_path: Path) -> None:
    # A long path (a clone in a temp dir, a cluster's scratch space) must not push what the
    # model is off an 80-column status line: the path is shortened from the left.
    deep = tmp_path / ("a-long-folder-name-" * 4) / "models" / DATA.name
    deep.parent.mkdir(parents=True)
    shutil.copy(DATA, deep)
    app = make_app("--checkpoint", str(deep), "--test-limit", "100")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        assert not app.training_active
        assert app.state.decoder.latent_dim == 8
        status = text_of(app.query_one(StatusPanel))
        assert "reference state_dict" in status
        assert "…" in status and "state_dict.pt" in status
        await wait_for(pilot, lambda: "Image" in {key.description for key in app.query(FooterKey)})
        footer = {key.description for key in app.query(FooterKey)}
        assert {"Image", "Go to", "Quit"} <= footer and not footer & {"Pause", "Save", "Redraw"}
        assert not footer & {"Dim", "New z"}  # they act here too (they open their views), unoffered
        await pilot.press("down", "down")  # the second on the traversal: the next row by KL
        assert app.state.dim == kl_order(app.state.decoder)[2]  # from the first, as on the traversal
        await pilot.press("space")  # nothing to pause: not offered, and pressing it does nothing
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    assert app.return_code == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [deep]  # browsing writes nothing


async def test_bad_checkpoint_exits_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    app = make_app("--checkpoint", str(bad))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: not app.is_running, timeout=30)
    assert app.return_code == 2


@pytest.mark.parametrize("size", [(20, 8), (40, 12), (80, 24), (300, 100), (61, 17)])
async def test_any_size_renders_without_error(size: tuple[int, int], tmp_path: Path) -> None:
    app = make_app("--checkpoint", str(DATA), "--test-limit", "50")
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        for key in ("2", "right", "3", "n", "4", "down"):
            await pilot.press(key)
        for w, h in ((size[0] // 2 + 1, size[1] // 2 + 1), size):
            await pilot.resize_terminal(w, h)
            await pilot.pause(0.05)
        tiny = size[0] < 40 or size[1] < 12
        assert app.screen.has_class("tiny") == tiny
        await pilot.press("q")
    assert app.return_code == 0


async def test_resume_continues_with_the_dashboard(tmp_path: Path) -> None:
    from vae_tui.core.config import TrainConfig
    from vae_tui.core.consumers import drive
    from vae_tui.core.metrics import MetricsWriter
    from vae_tui.core.train import train

    run_dir = tmp_path / "run"
    config = TrainConfig(
        epochs=1, batch_size=128, hidden_dim=32, latent_dim=4, train_limit=512, test_limit=64
    )
    config = config.with_(run_dir=str(run_dir), swanlab="disabled", iwae_k=0, device="cpu")
    drive(train(config), [MetricsWriter()])  # as `--train-only --epochs 1` would
    app = make_app("--resume", str(run_dir), "--epochs", "2")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "finished")
        # The plots carry the whole run: the first session's epoch and batches, then the new ones.
        assert [row["epoch"] for row in app.history.epochs] == [1, 2]
        assert app.history.steps.tolist() == list(range(1, 9))  # 2 epochs of 4 batches, no hole
        assert app.status.epochs == 2
        await pilot.press("q")
    assert ckpt.read_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 2

    # Browsing the checkpoint shows the same history, batch curve included.
    browse = make_app("--checkpoint", str(run_dir / "checkpoint.pt"), "--test-limit", "64")
    async with browse.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: browse.state.decoder is not None)
        assert browse.history.steps.tolist() == list(range(1, 9))
        np.testing.assert_allclose(browse.history.losses, app.history.losses, atol=5e-5)  # 4 decimals
        assert [row["epoch"] for row in browse.history.epochs] == [1, 2]
        assert not browse.screen.has_class("no-history")
        await pilot.press("q")


@pytest.mark.parametrize("how", ["ctrl+q", "palette"])
async def test_every_quit_stops_between_batches_and_saves(tmp_path: Path, how: str) -> None:
    """Textual's own ctrl+q and the palette's Quit used to exit at once, so the closing line
    named an older checkpoint than the one the trainer wrote afterwards."""
    run_dir = tmp_path / "run"
    app = make_app(
        "--epochs", "500", "--train-limit", "4096", "--test-limit", "64", "--run-dir", str(run_dir), *TINY
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.status.epoch >= 2 and app.status.batch > 0)
        if how == "palette":
            # Only Quit has a q (each key pressed while training costs Pilot ~2 s of waiting for idle).
            await pilot.press("ctrl+p", "q")
            await pilot.pause(0.5)
            await pilot.press("enter")
        else:
            await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, timeout=30)
    assert app.return_code == 0
    assert app.last_saved is not None and app.last_saved.reason == "stop"
    saved = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    assert (saved["epoch"], saved["batch"]) == (app.last_saved.epoch, app.last_saved.batch)


async def test_a_nan_mid_run_is_shown_kept_open_and_reported_on_exit(tmp_path: Path) -> None:
    """Training that diverges stops; the app stays open to browse, says truly whether a
    checkpoint exists (none had been saved: it used to claim "the last good checkpoint is
    kept"), and closes with that error and exit code 1, like --train-only."""
    run_dir = tmp_path / "run"
    app = make_app("--epochs", "2", "--lr", "1e30", "--train-limit", "512", "--test-limit", "64",
                   "--run-dir", str(run_dir), *TINY)  # fmt: skip
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.failure is not None and not app.training_active)
        assert app.is_running
        assert "loss became nan at epoch 1" in app.failure.text
        assert "no checkpoint had been saved yet" in app.failure.text
        assert "no checkpoint had been saved yet" in text_of(app.query_one(StatusPanel))
        await pilot.press("q")
    assert not (run_dir / "checkpoint.pt").exists()
    line, code = closing_line(app)
    assert code == 1 and line == f"vae-tui: error: {app.failure.text}"


async def test_an_unwritable_run_dir_closes_the_app_with_one_line(tmp_path: Path) -> None:
    """/sys refuses new files even to root: a real unwritable folder wherever the tests run."""
    if not Path("/sys/kernel").is_dir():
        pytest.skip("no sysfs here")
    app = make_app("--epochs", "1", "--train-limit", "256", "--run-dir", "/sys", *TINY)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 2
    assert not list(Path("/sys").glob(".config.json*"))


@pytest.mark.parametrize(("stop_at", "described"), [(3, "3 batches"), (7, "1 epoch + 3 batches")])
async def test_a_checkpoint_saved_mid_epoch_is_described_as_it_is(
    tmp_path: Path, stop_at: int, described: str
) -> None:
    """Stopped in the middle of an epoch, the weights are newer than the last epoch's numbers:
    the status says how far they were trained (it said "0 epochs" / "1 epochs"), and the batch
    curve of a run stopped in its first epoch is still drawn."""
    from vae_tui.core.config import TrainConfig
    from vae_tui.core.consumers import drive
    from vae_tui.core.control import TrainControl
    from vae_tui.core.events import BatchEnd
    from vae_tui.core.metrics import MetricsWriter
    from vae_tui.core.train import train

    run_dir = tmp_path / "run"
    config = TrainConfig(
        epochs=2, batch_size=128, hidden_dim=32, latent_dim=4, train_limit=512, test_limit=64
    )
    control = TrainControl()

    class StopAt:
        def handle(self, event: object) -> None:
            if isinstance(event, BatchEnd) and event.step == stop_at:
                control.request_stop()

        def close(self, state: str) -> None:
            pass

    stopper = StopAt()
    drive(
        train(config.with_(run_dir=str(run_dir), swanlab="disabled", iwae_k=0, device="cpu"), control),
        [MetricsWriter(), stopper],
    )
    app = make_app("--checkpoint", str(run_dir / "checkpoint.pt"), "--test-limit", "64")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        assert text_of(app.query_one(StatusPanel)).split("·")[0].strip() == f"Browsing {described}"
        assert app.history.steps.tolist() == list(range(1, stop_at + 1))
        assert not app.screen.has_class("no-history")
        await pilot.press("q")


async def test_the_final_bound_shows_as_evaluating_and_q_skips_it(tmp_path: Path) -> None:
    """The IWAE bound after the last epoch can take minutes: the status says so, and a q during
    it stops it, keeps the finished run, and says the bound was skipped and how to get it."""
    run_dir = tmp_path / "run"
    app = make_app("--epochs", "1", "--train-limit", "256", "--test-limit", "500", "--run-dir", str(run_dir),
                   *TINY, "--iwae-k", "100000")  # fmt: skip
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "evaluating")
        status = text_of(app.query_one(StatusPanel)).splitlines()[0]
        assert "EVALUATING epoch 1/1" in status and "computing the final IWAE bound (K=100000)" in status
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, timeout=30)
    assert app.status.eval_skipped and app.status.final is None
    line, code = closing_line(app)
    assert code == 0 and line is not None
    assert line.endswith(
        f"the final IWAE bound was skipped: vae-tui --eval --checkpoint {run_dir / 'checkpoint.pt'}"
    )
    assert ckpt.read_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 1


async def test_command_palette_opens_and_closes() -> None:
    from textual.command import CommandPalette

    app = make_app("--checkpoint", str(DATA), "--test-limit", "20")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        assert not isinstance(app.screen, CommandPalette)
        await pilot.press("right")
        assert app.state.image == 1  # the arrows still reach the views afterwards
        await pilot.press("q")
    assert app.return_code == 0


def test_long_paths_keep_their_tail() -> None:
    assert fit_path("/short/run", 40) == "/short/run"
    long = "/tmp/pytest-of-root/pytest-5/test_x0/checkpoints/run-7/checkpoint.pt"
    short = fit_path(long, 30)
    assert len(short) <= 30 and short.startswith("…/") and short.endswith("/run-7/checkpoint.pt")
    assert fit_path("x" * 50, 10) == "…" + "x" * 9  # no slash to cut at: still fits
