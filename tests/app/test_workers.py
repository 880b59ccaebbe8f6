"""The app's training worker, called as the app calls it, on a real (tiny) run that fails."""

from __future__ import annotations

from pathlib import Path

from vae_tui.core.control import TrainControl
from vae_tui.tui.cli import parse_request
from vae_tui.tui.messages import Failed
from vae_tui.tui.workers import start_training_run, train

from .helpers import TINY


def run_worker(*flags: str) -> list[object]:
    posted: list[object] = []
    train(parse_request(list(flags)), TrainControl(), start_training_run, posted.append, lambda _: None)
    return posted


def test_a_failure_mid_run_is_said_once_with_what_is_kept(tmp_path: Path) -> None:
    """TrainingRun.drive words a failure, naming what is kept; the worker must not word it
    again (it once appended the checkpoint note twice)."""
    run_dir = tmp_path / "run"
    (run_dir / "metrics.jsonl").mkdir(parents=True)  # the metrics writer cannot open it
    posted = run_worker("--run-dir", str(run_dir), "--epochs", "1", "--train-limit", "256", *TINY)
    (failed,) = [m for m in posted if isinstance(m, Failed)]
    assert "metrics.jsonl" in failed.text and failed.exit_code != 0
    assert failed.text.count("no checkpoint had been saved yet") == 1, failed.text


def test_a_resume_that_cannot_start_names_the_checkpoint_it_keeps(tmp_path: Path) -> None:
    """A resume refused before training (here: fewer --epochs than already trained) is fatal,
    and its line is the resume's own, not "nothing to resume"."""
    run_dir = tmp_path / "run"
    first = run_worker("--run-dir", str(run_dir), "--epochs", "2", "--train-limit", "256", *TINY)
    assert not [m for m in first if isinstance(m, Failed)] and (run_dir / "checkpoint.pt").is_file()
    posted = run_worker("--resume", str(run_dir), "--epochs", "1")
    (failed,) = [m for m in posted if isinstance(m, Failed)]
    assert failed.fatal and "fewer than the 2 already trained" in failed.text, failed.text
    assert "nothing to resume" not in failed.text and "nothing had been saved" not in failed.text
