"""`vae-tui --train-only --resume RUN_DIR` through the real command: it continues exactly where the
run stopped (weights, optimizer, RNG, the cut epoch's sums), into the same metrics.jsonl."""

from __future__ import annotations

import json
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from vae_tui.core import checkpoint as ckpt

from .faults import (
    TINY,
    cli,
    epoch_rows,
    finish,
    forked_cli,
    forked_many,
    no_leftover_processes,  # noqa: F401 - autouse fixture
    numbers,
    read_until,
    resume_phrase,
    same_weights,
    spawn,
)

ARGS = (*TINY, "--train-limit", "4000", "--test-limit", "200", "--swanlab", "disabled", "--epochs")


def full_state(run_dir: Path) -> dict:
    return ckpt.read_checkpoint(run_dir / "checkpoint.pt")


def assert_same_state(a: Path, b: Path) -> None:
    """Weights, optimizer moments and the sampling-noise RNG are bit-for-bit the same."""
    sa, sb = full_state(a), full_state(b)
    assert same_weights(a, b)
    for (ka, va), (kb, vb) in zip(
        sa["optimizer"]["state"].items(), sb["optimizer"]["state"].items(), strict=True
    ):
        assert ka == kb and va.keys() == vb.keys()
        assert all(torch.equal(va[k], vb[k]) for k in va)
    assert torch.equal(sa["rng"]["noise"], sb["rng"]["noise"])
    assert (sa["epoch"], sa["batch"], sa["step"]) == (sb["epoch"], sb["batch"], sb["step"])


def interrupted_run(run_dir: Path) -> int:
    """3 epochs, Ctrl-C once the first is saved: it stops somewhere in epoch 2 or 3."""
    proc = spawn("--train-only", *ARGS, "3", "--run-dir", str(run_dir))
    read_until(proc, "Model saved at epoch 1.")
    proc.send_signal(signal.SIGINT)
    finish(proc)
    return proc.returncode


def test_resume_through_the_cli_is_exact(tmp_path: Path) -> None:
    """3 epochs in one go (`whole`) = 1 epoch, then resumed to 3 (`split`) = 3 epochs stopped by
    Ctrl-C somewhere in epoch 2 or 3, then resumed (`stopped`). The Ctrl-C'd run and its resume
    are the real `vae-tui` script; the others run the same `main()` from the fork server."""
    whole, split, stopped = tmp_path / "whole", tmp_path / "split", tmp_path / "stopped"
    with ThreadPoolExecutor(1) as pool:
        interrupted = pool.submit(interrupted_run, stopped)
        first = forked_many({"whole": ["--train-only", *ARGS, "3", "--run-dir", str(whole)],
                             "split": ["--train-only", *ARGS, "1", "--run-dir", str(split)]}, tmp_path)  # fmt: skip
        code = interrupted.result()
    assert all(r.returncode == 0 for r in first.values()), first
    assert code in (130, 0)  # 0 only if the machine finished all 3 epochs before the signal came
    cut = full_state(stopped)
    if code == 130:
        assert 1 <= cut["epoch"] < 3

    with ThreadPoolExecutor(1) as pool:
        resumed_stop = pool.submit(cli, "--train-only", "--resume", str(stopped))  # the same 3 epochs
        resumed_split = forked_cli("--train-only", "--resume", str(split), "--epochs", "3", tmp=tmp_path)
        for result in (resumed_stop.result(), resumed_split):
            assert result.returncode == 0, result.stderr
            assert result.stderr == ""
    assert "resuming after epoch 1" in resumed_split.stdout
    if code == 130:
        assert resume_phrase(cut) in resumed_stop.result().stdout

    for run in (split, stopped):
        assert_same_state(run, whole)
        assert numbers(epoch_rows(run)) == numbers(epoch_rows(whole))  # one row per epoch, same values
    assert json.loads((split / "config.json").read_text())["epochs"] == 3  # the accepted change


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert forked_cli("--train-only", *ARGS, "1", "--train-limit", "256", "--run-dir", str(run),
                      tmp=tmp_path).returncode == 0  # fmt: skip
    before = (run / "checkpoint.pt").read_bytes()
    rows = epoch_rows(run)
    result = forked_cli("--train-only", "--resume", str(run), tmp=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (run / "checkpoint.pt").read_bytes() == before
    assert epoch_rows(run) == rows
