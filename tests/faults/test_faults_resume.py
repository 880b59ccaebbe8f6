"""`vae-tui --train-only --resume RUN_DIR` through the real command: it continues exactly where the
run stopped (weights, optimizer, RNG, the cut epoch's sums), into the same metrics.jsonl."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from vae_tui.core import checkpoint as ckpt

from ..fault_injection import (
    TINY,
    VAE_TUI,
    cli,
    env,
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
from ..terminal import run_in_terminal

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
    assert resumed_stop.result().stderr == ""  # the same --epochs: β is as planned, nothing to say
    # Another --epochs changes β for the epochs left: said once, with the β before and after.
    assert resumed_split.stderr.splitlines() == [
        "vae-tui: warning: --epochs 3 (was 1) changes β for the epochs left (linear annealing divides "
        "by the number of epochs): epoch 2 (added) 0.333, epoch 3 (added) 0.667; epoch 1 was trained at 0"
    ]
    assert "resuming after epoch 1" in resumed_split.stdout
    if code == 130:
        assert resume_phrase(cut) in resumed_stop.result().stdout

    # The closing line counts the whole run's training time, from metrics.jsonl, and this session's
    # share: the epochs it trained, less what an earlier session spent inside the one it resumed.
    def closing_times(stdout: str) -> tuple[float, float]:
        m = re.search(
            r"training time (\d+\.\d) s over the run's 3 epochs, (\d+\.\d) s of it in this session\.", stdout
        )
        assert m, stdout
        return float(m.group(1)), float(m.group(2))

    seconds = {r["epoch"]: r["seconds"] for r in epoch_rows(split)}
    assert closing_times(resumed_split.stdout) == (
        pytest.approx(sum(seconds.values()), abs=0.051),
        pytest.approx(seconds[2] + seconds[3], abs=0.051),
    )
    seconds = {r["epoch"]: r["seconds"] for r in epoch_rows(stopped)}
    carried = cut["partial"]["seconds"] if code == 130 else 0.0
    share = sum(s for e, s in seconds.items() if e > cut["epoch"]) - carried
    assert closing_times(resumed_stop.result().stdout) == (
        pytest.approx(sum(seconds.values()), abs=0.051),
        pytest.approx(share, abs=0.051),
    )

    for run in (split, stopped):
        assert_same_state(run, whole)
        assert numbers(epoch_rows(run)) == numbers(epoch_rows(whole))  # one row per epoch, same values
    assert json.loads((split / "config.json").read_text())["epochs"] == 3  # the accepted change


def files(run: Path) -> dict[str, tuple[int, int]]:
    """Every file of a run folder with its size and mtime: what "nothing written" compares."""
    return {
        str(p.relative_to(run)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in run.rglob("*")
        if p.is_file()
    }


def test_resuming_a_finished_run_says_so_and_writes_nothing(tmp_path: Path) -> None:
    """It used to recompute the IWAE bound, print "Finished after 1 epoch, 4 steps, …" and add a
    second swanlab/run-* folder. Now it says the run is complete and how to go on, exit 0."""
    run = tmp_path / "run"
    first = cli("--train-only", *ARGS, "1", "--train-limit", "256", "--iwae-k", "2", "--swanlab", "offline",
                "--run-dir", str(run))  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = files(run)
    assert len([name for name in before if name.endswith(".swanlab")]) == 1
    complete = (
        f"vae-tui: {run} is already complete (1 of 1 epochs trained): nothing to do, nothing written. "
        f"To train it further: vae-tui --resume {run} --epochs N (N > 1); "
        f"to look at it: vae-tui --checkpoint {run}/checkpoint.pt"
    )
    for extra in ([], ["--epochs", "1"]):
        result = cli("--train-only", "--resume", str(run), *extra)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert result.stdout.splitlines() == [complete]
    # With a terminal (the app): the same line, before the app starts, and exit code 0.
    shown = run_in_terminal([VAE_TUI, "--resume", str(run)], cwd=tmp_path, env=env(), timeout=60)
    assert shown.strip() == complete
    # A run with epochs left is told apart without torch (seconds to import): the app's first
    # frame does not wait for it. (One that looks finished is loaded and checked, as a resume is.)
    probe = (
        "import sys\nfrom vae_tui.tui.cli import parse_request\nfrom vae_tui.core.run import finished_run_note\n"
        f"request = parse_request(['--resume', {str(run)!r}, '--epochs', '2'])\n"
        "print(finished_run_note(request.overrides, request.resume), 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env(), check=True)
    assert out.stdout.splitlines() == ["None False"]
    assert files(run) == before  # nothing was written: no new SwanLab folder, no metrics row
