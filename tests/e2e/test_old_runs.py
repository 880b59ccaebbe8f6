"""A run written before issue 14 (no traversal pictures, no request channel) still resumes, and
the resumed epochs keep what this version keeps: the fixture is today's format, kept as is."""

from __future__ import annotations

from pathlib import Path

from vae_tui.core import history
from vae_tui.core.metrics import read_history

from ..helpers import run_cli


def test_an_old_run_resumes_and_its_new_epochs_keep_their_traversal(old_run: Path, mnist_dir: Path) -> None:
    assert history.epochs_on_disk(old_run, "traversal") == []
    result = run_cli("--resume", str(old_run), "--epochs", "4", "--data-dir", str(mnist_dir), "--iwae-k", "0")
    assert result.returncode == 0, result.stderr
    assert history.epochs_on_disk(old_run) == [1, 2, 3, 4]
    assert history.epochs_on_disk(old_run, "traversal") == [4]  # the old epochs kept none: nothing invented
    traversal = history.read_image(old_run, 4, "traversal")
    assert traversal is not None and traversal.shape[0] > 28  # a row per latent dimension (2)
    assert [row["epoch"] for row in read_history(old_run).epochs] == [1, 2, 3, 4]
