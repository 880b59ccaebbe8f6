"""One writer per run folder, through real `vae-tui` processes: a second trainer is refused in one
line while the first goes on untouched, `kill -9` leaves no stale lock, racing runs never share a
folder, and readers (`--eval`, browsing `--checkpoint`) work on a run that is training."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.runlock import RunLock
from vae_tui.tui.app import closing_line, make_app
from vae_tui.tui.cli import parse_request

from ..fault_injection import (
    SMALL,
    TINY,
    cli,
    cli_many,
    epoch_rows,
    error_line,
    finish,
    forked_cli,
    forked_many,
    no_leftover_processes,  # noqa: F401 - autouse fixture
    read_until,
    spawn,
)

LONG = (*TINY, "--train-limit", "512", "--test-limit", "64", "--epochs", "100000")
"""A run that trains until it is stopped, saving every few hundredths of a second."""


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Let the app run until `condition` holds (its workers run in real threads meanwhile)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {condition}"
        await pilot.pause(0.05)


def epochs_of(run: Path) -> list[int]:
    return [r["epoch"] for r in epoch_rows(run)]


def test_a_second_trainer_is_refused_while_the_first_goes_on_untouched(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = spawn("--train-only", *LONG, "--swanlab", "disabled", "--run-dir", str(run))
    read_until(first, "Model saved at epoch 2.")
    holder = rf"process {first.pid} \(started \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\)"

    resumed = cli("--train-only", "--resume", str(run))
    assert resumed.returncode == 2
    assert re.fullmatch(
        rf"vae-tui: error: {run} is being trained by {holder}; wait for it to end before resuming it",
        error_line(resumed),
    )
    fresh = cli("--train-only", *SMALL, "--run-dir", str(run))
    assert fresh.returncode == 2
    assert re.fullmatch(
        rf"vae-tui: error: {run} is being trained by {holder}; wait for it or pick another --run-dir",
        error_line(fresh),
    )
    # Readers need no lock: --eval reads the last complete checkpoint of the run being trained.
    reader = ("--eval", "--checkpoint", str(run / "checkpoint.pt"), "--iwae-k", "2", "--test-limit", "64")
    evaluated = forked_cli(*reader, tmp=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "IWAE bound on -log p(x), K=2" in evaluated.stdout

    # The first run went on through all of this, and stops as it always does.
    done = int(read_until(first, "Model saved at epoch")[-1].split()[-1].rstrip("."))
    read_until(first, f"Model saved at epoch {done + 2}.")
    first.send_signal(signal.SIGTERM)
    _, err = finish(first)
    assert first.returncode == 143, err
    saved = ckpt.read_checkpoint(run / "checkpoint.pt")
    assert epochs_of(run) == list(range(1, saved["epoch"] + 1))  # each epoch once, in order
    assert saved["epoch"] >= done + 2

    # Released with its process: --resume now goes on from where it stopped.
    more = str(saved["epoch"] + 1)
    again = forked_cli("--train-only", "--resume", str(run), "--epochs", more, tmp=tmp_path)
    assert again.returncode == 0, again.stderr
    assert epochs_of(run) == list(range(1, saved["epoch"] + 2))


def test_after_kill_9_of_the_trainer_resume_works_at_once(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = spawn("--train-only", *LONG, "--swanlab", "offline", "--run-dir", str(run))
    read_until(first, "Model saved at epoch 2.")
    first.kill()
    first.communicate()
    saved = ckpt.read_checkpoint(run / "checkpoint.pt")["epoch"]
    flags = ("--resume", str(run), "--epochs", str(saved + 1), "--swanlab", "disabled")
    resumed = forked_cli("--train-only", *flags, tmp=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after epoch {saved}" in resumed.stdout
    assert epochs_of(run) == list(range(1, saved + 2))


def test_two_new_runs_racing_for_one_fresh_folder_train_it_once(tmp_path: Path) -> None:
    """Both pass the early look (nobody trains it yet) and meet at the lock itself."""
    run = tmp_path / "run"
    args = ["--train-only", *SMALL, "--epochs", "30", "--run-dir", str(run)]
    done = forked_many({"a": args, "b": args}, tmp_path)
    codes = sorted(r.returncode for r in done.values())
    assert codes == [0, 2], {k: r.stderr for k, r in done.items()}
    winner, loser = sorted(done.values(), key=lambda r: r.returncode)
    assert "Finished after 30 epochs" in winner.stdout
    # Refused by the lock, or (had the winner already finished) by the checkpoint it left.
    assert re.search(
        rf"{run} (is being trained by process \d+ \(started .*\); wait for it or pick another --run-dir"
        rf"|already holds a run; continue it with --resume {run})",
        error_line(loser),
    )
    assert loser.stdout == ""
    assert epochs_of(run) == list(range(1, 31))


def test_two_default_runs_started_together_get_two_folders(tmp_path: Path) -> None:
    args = ("--train-only", *SMALL, "--epochs", "1")
    done = cli_many({"a": (args, {"cwd": tmp_path}), "b": (args, {"cwd": tmp_path})})
    for result in done.values():
        assert result.returncode == 0, result.stderr
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2
    named = {re.search(r"run dir (\S+);", r.stdout).group(1) for r in done.values()}
    assert named == {str(f.relative_to(tmp_path)) for f in folders}
    for folder in folders:
        assert ckpt.read_checkpoint(folder / "checkpoint.pt")["epoch"] == 1
        assert epochs_of(folder) == [1]


def test_a_run_that_fails_before_training_leaves_no_folder(tmp_path: Path) -> None:
    """A default folder is claimed only once the data is loaded: nothing left to clean up."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    result = cli("--train-only", *SMALL, "--epochs", "1", "--data-dir", str(empty), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no-data"]


async def test_browsing_a_run_that_is_training_needs_no_lock(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer = spawn("--train-only", *LONG, "--swanlab", "disabled", "--run-dir", str(run))
    read_until(trainer, "Model saved at epoch 2.")
    flags = ["--checkpoint", str(run / "checkpoint.pt"), "--test-limit", "64"]
    app = make_app(parse_request(flags))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.state.decoder is not None or not app.is_running)
        assert app.state.decoder is not None
        assert len(app.history.epochs) >= 2  # its history so far, read from the run folder
        await until(pilot, lambda: "Quit" in {key.description for key in app.query(FooterKey)})
        # The key goes in as the terminal sends it, not through `pilot.press`: that then waits
        # for the animator, which the closing app stops; a late tab-underline animation could
        # clear its "complete" flag after that, and the Pilot waited for ever (1 run in ~4 here).
        app._driver.send_message(events.Key("q", "q"))
        await until(pilot, lambda: not app.is_running)
    assert app.return_code == 0
    assert trainer.poll() is None  # the trainer was not disturbed
    trainer.send_signal(signal.SIGTERM)
    finish(trainer)
    assert trainer.returncode == 143


async def test_the_app_refused_a_run_being_trained_exits_2_with_the_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    with RunLock() as lock:
        lock.acquire(run, resuming=False)
        lock.record()
        app = make_app(parse_request(["--run-dir", str(run), "--epochs", "1", *TINY]))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: not app.is_running)
    assert app.return_code == 2
    line, code = closing_line(app)  # what run_app prints once the screen is gone: one line, unwrapped
    assert code == 2 and line is not None and "\n" not in line
    assert line.startswith(f"vae-tui: error: {run} is being trained by process ")
    assert line.endswith("; wait for it or pick another --run-dir")
    assert sorted(p.name for p in run.iterdir()) == ["trainer.lock"]
