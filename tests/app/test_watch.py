"""`--watch` in the app (Pilot): a finished run shows its whole history and says so; a folder
that grows as a trainer would write it moves the plots and the status; q leaves the watcher
without a word to the trainer; x asks once before it stops the trainer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vae_tui.core import requests as rq
from vae_tui.core.atomic import write_json_atomic
from vae_tui.core.config import TrainConfig
from vae_tui.core.metrics import read_history, training_time
from vae_tui.tui.app import WatchApp
from vae_tui.tui.shutdown import closing_line
from vae_tui.tui.widgets.status import StatusPanel

from .helpers import TINY, make_app, text_of, wait_for


async def test_a_finished_old_run_shows_its_whole_history_and_says_finished(old_run: Path) -> None:
    app = make_app("--watch", str(old_run))
    assert isinstance(app, WatchApp)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "finished" and app.state.decoder is not None)
        await pilot.pause(0.3)
        status = text_of(app.query_one(StatusPanel))
        assert "WATCHING FINISHED" in status and "no trainer" in status
        history = read_history(old_run)
        assert list(app.history.steps) == history.steps and len(app.history.epochs) == 3
        assert app.status.final is not None  # the final evaluation's numbers
        # It stands at its end: all batches of its last epoch, that epoch's β, its training time.
        assert (app.status.epoch, app.status.batch) == (3, app.status.batches) and app.status.batches > 0
        assert app.status.beta == pytest.approx(2 / 3)
        assert app.status.trained() == pytest.approx(training_time(old_run)[1]) and app.status.trained() > 0
        await pilot.press("space", "s")  # nothing to steer: said, and nothing written
        await pilot.press("q")
    assert app.return_code == 0
    assert not (old_run / rq.REQUESTS_DIR).exists()
    line, code = closing_line(app)
    assert code == 0 and line is not None
    assert line.startswith(f"vae-tui: stopped watching {old_run} (no trainer")
    assert line.endswith(f"again: vae-tui --watch {old_run}")


def batch_row(epoch: int, first: int, n: int) -> str:
    return (
        json.dumps({"epoch": epoch, "first_step": first, "loss": [550.0 - first - i for i in range(n)]})
        + "\n"
    )


async def test_a_growing_folder_moves_the_plots_and_the_status(
    tmp_path: Path, tiny_config: TrainConfig
) -> None:
    run = tmp_path / "later"
    app = make_app("--watch", str(run))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "waiting" in text_of(app.query_one(StatusPanel)).lower())
        run.mkdir()
        write_json_atomic(run / "config.json", tiny_config.with_(run_dir=str(run), epochs=3).to_dict())
        await wait_for(pilot, lambda: app.status.epochs == 3)
        with open(run / "batches.jsonl", "a") as f:
            f.write(batch_row(1, 1, 5))
        await wait_for(pilot, lambda: list(app.history.steps) == [1, 2, 3, 4, 5])
        with open(run / "batches.jsonl", "a") as f:
            f.write(batch_row(1, 6, 2)[:20])  # torn: not yet
        await pilot.pause(0.6)
        assert list(app.history.steps) == [1, 2, 3, 4, 5]
        with open(run / "batches.jsonl", "a") as f:
            f.write(batch_row(1, 6, 2)[20:])
        await wait_for(pilot, lambda: app.status.step == 7 and app.history.steps[-1] == 7)
        assert app.status.batch == 7 and app.status.epoch == 1
        await wait_for(pilot, lambda: "step 7" in text_of(app.query_one(StatusPanel)))
        text = text_of(app.query_one(StatusPanel))
        assert text.strip().startswith("WATCHING") and "epoch 1/3" in text
        await pilot.press("q")
    assert app.return_code == 0
    assert not (run / rq.REQUESTS_DIR).exists()  # leaving asked nothing of anyone


async def test_x_asks_once_then_sends_a_stop(old_run: Path) -> None:
    """With a trainer that works (its state file says so), the first x only asks; the second
    writes a stop request. (The real trainer's answer: tests/e2e/test_watch.py.)"""
    app = make_app("--watch", str(old_run))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "finished")
        app.training_active = True  # as a live trainer's TrainerChanged sets it
        await pilot.press("x")
        await pilot.pause(0.1)
        assert not rq.pending_requests(old_run)
        await pilot.press("x")
        await wait_for(pilot, lambda: len(rq.pending_requests(old_run)) == 1)
        (path,) = rq.pending_requests(old_run)
        assert json.loads(path.read_text())["verb"] == "stop"
        await pilot.press("q")


async def test_the_trainer_app_answers_a_watchers_requests(tmp_path: Path) -> None:
    """The app's own training run polls the channel too, and shows a pause it did not ask for."""
    run_dir = tmp_path / "run"
    app = make_app(
        "--epochs", "500", "--train-limit", "4096", "--test-limit", "64", "--run-dir", str(run_dir), *TINY
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.status.step > 0)
        paused = rq.send(run_dir, "pause")
        await wait_for(pilot, lambda: (rq.read_ack(run_dir, paused) or {}).get("status") == "done")
        await wait_for(pilot, lambda: app.status.paused and "PAUSED" in text_of(app.query_one(StatusPanel)))
        assert app.control.paused and app.paused_at_step is not None
        resumed = rq.send(run_dir, "resume")
        await wait_for(pilot, lambda: (rq.read_ack(run_dir, resumed) or {}).get("status") == "done")
        await wait_for(
            pilot, lambda: not app.status.paused and "TRAINING" in text_of(app.query_one(StatusPanel))
        )
        step = app.status.step
        await wait_for(pilot, lambda: app.status.step > step)
        stopped = rq.send(run_dir, "stop")
        await wait_for(pilot, lambda: app.status.phase == "stopped")
        assert (rq.read_ack(run_dir, stopped) or {}).get("status") == "done"
        await pilot.press("q")
    assert app.return_code == 0


async def test_watching_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    not_a_run = tmp_path / "notes.txt"
    not_a_run.write_text("hello")
    app = make_app("--watch", str(not_a_run))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 2 and app.fatal is not None
    assert app.fatal.text == f"--watch {not_a_run} is a file, not a run folder"
