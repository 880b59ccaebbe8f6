"""What the status panel says about a run (training, resumed, browsed), read off the screen;
real runs, driven with Pilot."""

from __future__ import annotations

import re
from pathlib import Path

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.control import TrainControl
from vae_tui.core.events import BatchEnd
from vae_tui.core.metrics import MetricsWriter, read_metrics
from vae_tui.core.train import train
from vae_tui.tui.app import closing_line
from vae_tui.tui.widgets.status import StatusPanel

from .helpers import TINY, make_app, make_fake_app, text_of, wait_for


def status_rows(app) -> list[str]:
    return [row.strip() for row in text_of(app.query_one(StatusPanel)).splitlines()]


def run_stopped_at(run_dir: Path, step: int, **changes: object) -> TrainConfig:
    """A real run of 2 epochs × 4 batches, stopped (and saved) after `step` batches."""
    config = TrainConfig(
        epochs=2, batch_size=128, hidden_dim=32, latent_dim=4, train_limit=512, test_limit=64,
        run_dir=str(run_dir), swanlab="disabled", iwae_k=0, device="cpu",
    ).with_(**changes)  # fmt: skip
    control = TrainControl()

    class StopAt:
        def handle(self, event: object) -> None:
            if isinstance(event, BatchEnd) and event.step == step:
                control.request_stop()

        def close(self, state: str) -> None:
            pass

    drive(train(config, control), [MetricsWriter(), StopAt()])
    return config


async def test_the_progress_row_keeps_its_eta_at_80_columns(tmp_path: Path) -> None:
    """At 80×24 the row was cut at `elapsed 0:04 …`: the ETA never showed. (A fake stream of 50
    batches an epoch, 5 ms each: minutes to go, as a real run would have.)"""
    run_dir = tmp_path / "run"
    app, _ = make_fake_app("--epochs", "500", "--train-limit", "3200", "--batch-size", "64", "--test-limit", "64",
                           "--run-dir", str(run_dir), *TINY, run_dir=run_dir, batch_sleep=0.005)  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.status.epoch >= 2 and app.status.eta() is not None)
        await pilot.pause(0.6)  # a status tick
        row = status_rows(app)[0]
        assert re.match(r"TRAINING epoch \d+/500 ━+ +\d+%", row), row
        assert re.search(r"ETA \d+:\d\d$", row) and "…" not in row, row
        await pilot.resize_terminal(160, 40)  # with room, the rest comes back
        await pilot.pause(0.6)
        row = status_rows(app)[0]
        assert all(part in row for part in ("step ", "β ", "img/s", "elapsed ", "ETA ")), row
        await pilot.press("q")


async def test_resume_shows_where_it_stands_from_the_first_frame_and_the_runs_whole_time(
    tmp_path: Path,
) -> None:
    """The first frame of --resume read `step 0  β 0.00 … run –` until torch had loaded; and
    `trained 0:13` counted only this process, not the run."""
    run_dir = tmp_path / "run"
    run_stopped_at(run_dir, step=6)  # epoch 2, batch 2: β 0.5
    saved = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    earlier = sum(r["seconds"] for r in read_metrics(run_dir)) + saved["partial"]["seconds"]
    app = make_app("--resume", str(run_dir))
    async with app.run_test(size=(120, 30)) as pilot:
        rows = status_rows(app)  # the first frame: the worker has not started training yet
        assert "epoch 2/2" in rows[0] and "step 6" in rows[0] and "β 0.50" in rows[0], rows
        assert str(run_dir) in rows[1], rows
        assert [r["epoch"] for r in app.history.epochs] == [1] and len(app.history.steps) == 6
        await wait_for(pilot, lambda: app.status.phase == "finished")
        assert abs(app.status.prior_seconds - earlier) < 1e-6
        assert app.history.steps.tolist() == list(range(1, 9))  # replaced, not added twice
        await pilot.pause(0.6)
        row = status_rows(app)[0]
        assert re.search(r"elapsed \d+:\d\d \(\d+:\d\d this session\)", row), row
        assert app.status.trained() > app.status.elapsed()
        await pilot.press("q")


async def test_a_browsed_run_says_what_it_was(tmp_path: Path) -> None:
    """The --checkpoint header said only `Browsing 2 epochs · mnist test set`: it says the run's
    settings, its final held-out numbers and IWAE bound, and compares like with like."""
    run_dir = tmp_path / "run"
    config = TrainConfig(
        epochs=2, batch_size=128, hidden_dim=32, latent_dim=4, train_limit=512, test_limit=64,
        run_dir=str(run_dir), swanlab="disabled", iwae_k=8, device="cpu", seed=3,
    )  # fmt: skip
    drive(train(config), [MetricsWriter()])
    final = next(r for r in read_metrics(run_dir) if r.get("kind") == "final")
    last = [r for r in read_metrics(run_dir) if r.get("kind") == "epoch"][-1]
    app = make_app("--checkpoint", str(run_dir / "checkpoint.pt"), "--test-limit", "64")
    async with app.run_test(size=(160, 46)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.pause(0.3)
        rows = status_rows(app)
        assert rows[0].startswith("Browsing 2 epochs · mnist test set")
        run = rows[1]
        assert run.startswith("run latent 4 · hidden 32 · β 0→0.5 (linear, 2 epochs)"), run
        assert "512 training images · seed 3" in run and "trained 0:" in run, run
        assert rows[2] == (
            f"final −ELBO {final['neg_elbo']:.2f}  IWAE(K=8) {final['iwae_nll']:.2f}  active units "
            f"{final['active_units']}/4"
        ), rows
        # Like with like: the training −ELBO at β = 1 beside the held-out one; the β-weighted
        # loss (what the reference prints) last, said to be at β.
        train_elbo = last["bce"] + last["kld"]
        assert rows[3].startswith(
            f"last epoch  −ELBO train {train_elbo:.2f} = BCE {last['bce']:.2f} + KLD {last['kld']:.2f}  "
            f"held-out {last['test_loss']:.2f}  · loss at β 0.50: {last['loss']:.2f}"
        ), rows
        await pilot.press("q")


async def test_swanlab_run_id_and_log_are_shown_and_the_upload_command_said_at_exit(tmp_path: Path) -> None:
    """The app said only "SwanLab offline": where is the log, which run is it, how to upload?"""
    run_dir = tmp_path / "run"
    flags = [f for f in TINY if f not in ("--swanlab", "disabled")]
    app = make_app("--epochs", "1", "--train-limit", "256", "--test-limit", "64", "--run-dir", str(run_dir),
                   *flags, "--swanlab", "offline")  # fmt: skip
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "finished" and not app.training_active)
        tracker = app.tracker
        await wait_for(pilot, lambda: bool(app.status.swanlab_id))
        assert tracker.run_id and f"SwanLab offline {tracker.run_id}" in status_rows(app)[1]
        await pilot.press("ctrl+p", *"run details")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(n.title == "Run details" for n in app._notifications))
        details = next(n.message for n in app._notifications if n.title == "Run details")
        folder = next((run_dir / "swanlab").glob(f"run-*-{tracker.run_id}"))
        assert f"SwanLab offline run {tracker.run_id}" in details and f"Log: {folder}" in details
        assert f"swanlab sync {folder}" in details and f"Run folder: {run_dir}" in details
        await pilot.press("q")
    line, code = closing_line(app)
    assert code == 0 and line is not None
    assert line.splitlines()[-1] == (
        f"vae-tui: SwanLab offline run {tracker.run_id}, logged in {folder}; "
        f"to upload it: swanlab login (once), then swanlab sync {folder}"
    )
