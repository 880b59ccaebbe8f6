"""`vae-tui --export` as a user runs it: the installed command on a real tiny run, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import run_cli
from vae_tui.core.config import TrainConfig


def test_export_writes_and_prints_every_file(tiny_config: TrainConfig) -> None:
    run = Path(tiny_config.run_dir)
    trained = run_cli("--train-only", *config_flags(tiny_config))
    assert trained.returncode == 0, trained.stderr
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    result = run_cli("--export", str(run), "--test-limit", "16")
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert {p.name for p in paths} == {"samples.gif", "reconstructions.gif", "traversal.gif", "loss-curves.png",
                                        "reconstructions.png", "samples.png", "traversal.png"}  # fmt: skip
    assert all(p.parent == run / "export" and p.is_file() for p in paths)
    assert Image.open(run / "export" / "samples.gif").n_frames == tiny_config.epochs
    assert (
        result.stderr.strip() == f"vae-tui: views drawn from the weights of epoch 2 ({run / 'checkpoint.pt'})"
    )
    # Read-only outside export/: every file the trainer wrote is as it was.
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert {p for p in run.rglob("*") if p.is_file()} - set(before) == set(paths)


def config_flags(c: TrainConfig) -> list[str]:
    return ["--epochs", str(c.epochs), "--hidden-dim", "32", "--latent-dim", "4", "--train-limit", "512",
            "--test-limit", "128", "--iwae-k", "0", "--swanlab", "disabled", "--run-dir", c.run_dir]  # fmt: skip


def test_export_of_an_old_run_says_what_it_skipped(old_run: Path, mnist_dir: Path) -> None:
    result = run_cli("--export", str(old_run))
    assert result.returncode == 0, result.stderr
    assert "traversal.gif skipped" in result.stderr and "traversal.gif" not in result.stdout


@pytest.mark.parametrize("make", ["missing", "empty folder", "garbage file"])
def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path, make: str) -> None:
    path = tmp_path / "thing"
    if make == "empty folder":
        path.mkdir()
    elif make == "garbage file":
        path.write_bytes(b"\x00" * 64)
    result = run_cli("--export", str(path))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vae-tui: error: ") and str(path) in lines[0], (
        result.stderr
    )
