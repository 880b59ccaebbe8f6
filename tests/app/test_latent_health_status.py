"""The status line's active units (issue 13's latent health), read off the screen of real runs
driven with Pilot, at 80 and 160 columns; and a run logged before they existed."""

from __future__ import annotations

import json
from pathlib import Path

from rich.text import Text

from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.metrics import MetricsWriter, read_metrics
from vae_tui.core.train import train
from vae_tui.tui.widgets.status import StatusPanel, epoch_summary

from .helpers import TINY, make_app, text_of, wait_for

ROW = {"epoch": 3, "step": 30, "loss": 110.5, "bce": 95.25, "kld": 20.5, "beta": 0.5, "test_loss": 118.75}


def status_rows(app) -> list[str]:
    return [row.strip() for row in text_of(app.query_one(StatusPanel)).splitlines()]


def last_epoch_row(app) -> str:
    return next(row for row in status_rows(app) if row.startswith("last epoch"))


def test_the_epoch_summary_makes_room_for_the_active_units() -> None:
    """At 80 columns (78 cells inside the padding) the β-weighted loss and then the BCE + KLD
    split step aside for the active units; with room every part shows, in order."""
    wide = epoch_summary(ROW, 158, (3, 20)).plain
    assert wide == (
        "last epoch  −ELBO train 115.75 = BCE 95.25 + KLD 20.50  held-out 118.75  active units 3/20"
        "  · loss at β 0.50: 110.50"
    )
    narrow = epoch_summary(ROW, 78, (3, 20)).plain
    assert narrow == "last epoch  −ELBO train 115.75  held-out 118.75  active units 3/20"
    # A row without them (an older run's, or a finished run whose final row says them) is as before.
    assert (
        epoch_summary(ROW, 78).plain
        == "last epoch  −ELBO train 115.75 = BCE 95.25 + KLD 20.50  held-out 118.75"
    )
    assert isinstance(epoch_summary(ROW, 10, (3, 20)), Text)  # however narrow: the head at least


async def test_a_training_run_shows_its_active_units_at_80_and_160_columns(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    app = make_app(
        "--epochs", "2", "--train-limit", "512", "--test-limit", "64", "--run-dir", str(run_dir), *TINY
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "finished" and app.status.last_epoch is not None)
        await wait_for(pilot, lambda: app.status.last_epoch.get("epoch") == 2)
        await pilot.pause(0.3)
        last = [r for r in read_metrics(run_dir) if r.get("kind") == "epoch"][-1]
        units = f"active units {last['active_units']}/4"
        row = last_epoch_row(app)
        assert row.endswith(units) and "held-out" in row and len(row) <= 78, row
        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.3)
        row = last_epoch_row(app)
        assert f"held-out {last['test_loss']:.2f}  {units}  · loss at β" in row and " = BCE " in row, row
        await pilot.press("q")


async def test_a_run_logged_before_the_active_units_is_browsed_without_them(
    tmp_path: Path, mnist_dir: Path
) -> None:
    run_dir = tmp_path / "run"
    config = TrainConfig(
        epochs=1, batch_size=128, hidden_dim=32, latent_dim=4, train_limit=256, test_limit=64,
        run_dir=str(run_dir), swanlab="disabled", iwae_k=0, device="cpu",
    )  # fmt: skip
    drive(train(config), [MetricsWriter()])
    path = run_dir / "metrics.jsonl"
    rows = [
        {k: v for k, v in r.items() if k not in ("kl_per_dim", "active_units")} for r in read_metrics(path)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = make_app("--checkpoint", str(run_dir / "checkpoint.pt"), "--test-limit", "64")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.decoder is not None)
        await pilot.pause(0.3)
        row = last_epoch_row(app)
        assert row.startswith("last epoch  −ELBO train") and " = BCE " in row and "active units" not in row
        assert app.status.active_units() is None
        await pilot.press("q")


async def test_a_finished_runs_active_units_move_down_when_its_first_row_is_full(tmp_path: Path) -> None:
    """At 80 columns `FINISHED epoch 30/30 final −ELBO …  IWAE(K=100) …  active units 20/20` was
    cut at `active units 20/…`: where the row is too narrow for them, the last epoch's row says
    them instead, once."""
    run_dir = tmp_path / "run"
    flags = ["--hidden-dim", "32", "--swanlab", "disabled", "--iwae-k", "100"]  # latent 20, the default
    app = make_app(
        "--epochs", "2", "--train-limit", "256", "--test-limit", "64", "--run-dir", str(run_dir), *flags
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "finished" and app.status.final is not None)
        await pilot.pause(0.3)
        final = next(r for r in read_metrics(run_dir) if r.get("kind") == "final")
        units = f"active units {final['active_units']}/20"
        numbers = status_rows(app)[0].split("  trained")[0]  # with room: all on the first row
        assert numbers.startswith("FINISHED epoch 2/2 final −ELBO") and numbers.endswith(units), numbers
        assert "active units" not in last_epoch_row(app)
        await pilot.resize_terminal(len(numbers) + 1, 24)  # one cell short, the panel's padding aside
        await pilot.pause(0.3)
        rows = status_rows(app)
        assert rows[0].startswith("FINISHED epoch 2/2 final −ELBO") and "…" not in rows[0], rows
        assert last_epoch_row(app).endswith(units) and sum(r.count("active units") for r in rows) == 1, rows
        await pilot.press("q")
