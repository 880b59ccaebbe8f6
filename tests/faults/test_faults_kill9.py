"""`kill -9` at seeded random moments: the checkpoint on disk always loads, metrics.jsonl always
parses, and resuming after any number of kills ends with exactly the weights and metrics of a run
that was never interrupted."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.metrics import read_metrics

from ..fault_injection import (
    TINY,
    ForkServer,
    epoch_rows,
    fork_server,
    no_leftover_processes,  # noqa: F401 - autouse fixture
    numbers,
    same_weights,
    spawn,
)

KILLS = 20
EPOCHS = 12
BATCHES = 8  # 512 images in batches of 64: short epochs, so kills often land in the writes
ARGS = (*TINY, "--train-limit", "512", "--test-limit", "64", "--epochs", str(EPOCHS),
        "--iwae-k", "4", "--swanlab", "offline")  # fmt: skip


def check_after_kill(run_dir: Path) -> int:
    """What a kill must never break; returns the epochs in the checkpoint (0 without one)."""
    epoch = 0
    path = run_dir / "checkpoint.pt"
    if path.exists():
        data = ckpt.read_checkpoint(path)  # loads (the previous one if the kill hit a save)
        dims = ckpt.architecture(ckpt.model_state(data))
        assert (dims["hidden_dim"], dims["latent_dim"]) == (32, 4)
        epoch = data["epoch"]
        assert (data["batch"], data["step"]) == (0, epoch * BATCHES) and 1 <= epoch <= EPOCHS
    metrics = run_dir / "metrics.jsonl"
    if metrics.exists():
        lines = metrics.read_bytes().split(b"\n")
        for line in lines[:-1]:  # every complete line parses; only an unterminated tail may not
            assert isinstance(json.loads(line), dict), line
        rows = read_metrics(metrics)
        epochs = [r["epoch"] for r in rows if r["kind"] == "epoch"]
        assert epochs == list(range(1, len(epochs) + 1))  # each epoch once, in order
        assert len(epochs) in (epoch, epoch + 1)  # a row is written just before its checkpoint
        finals = [r for r in rows if r["kind"] == "final"]
        assert not finals or (rows[-1] is finals[0] and len(finals) == 1 and epoch == EPOCHS)
    return epoch


def check_complete(run_dir: Path, reference: Path) -> None:
    """A run that got to the end, however often it was killed, is the uninterrupted one."""
    from PIL import Image

    assert same_weights(run_dir, reference)
    assert numbers(epoch_rows(run_dir)) == numbers(epoch_rows(reference))
    final, final_ref = read_metrics(run_dir)[-1], read_metrics(reference)[-1]
    assert final["kind"] == "final" and final["iwae_nll"] == final_ref["iwae_nll"]
    for e in range(1, EPOCHS + 1):  # a grid torn by a kill is redrawn when its epoch is redone
        for name in ("reconstructions", "samples"):
            with Image.open(run_dir / "images" / f"epoch-{e:03d}-{name}.png") as im:
                im.load()
    assert not list(run_dir.glob(".*.tmp*"))  # stray temp files were cleaned up


def run_to_end(server: ForkServer, argv: list[str], tmp: Path) -> tuple[int, str, str]:
    out, err = tmp / "out.txt", tmp / "err.txt"
    rc = server.wait(server.run(argv, out, err))
    return rc, out.read_text(), err.read_text()


def test_kill_9_at_random_moments(tmp_path: Path) -> None:
    """20 kills, each at a seeded random moment of a run or of its resumption: during start-up,
    data loading, training, or the writes at the end of an epoch. A run that completes starts
    the next chain; every completed chain must equal the uninterrupted run."""
    rng = random.Random(int(os.environ.get("KILL9_SEED", "20240601")))
    server = fork_server()
    reference = tmp_path / "reference"
    uninterrupted = spawn("--train-only", *ARGS, "--run-dir", str(reference))  # meanwhile, for real

    chain, run_dir = 0, tmp_path / "chain-0"
    completed: list[Path] = []
    kills = 0
    while kills < KILLS:
        resume = (run_dir / "checkpoint.pt").exists()
        argv = ["--train-only", "--resume", str(run_dir)] if resume else [
            "--train-only", *ARGS, "--run-dir", str(run_dir)]  # fmt: skip
        err = tmp_path / "err.txt"
        pid = server.run(argv, tmp_path / "out.txt", err)
        time.sleep(rng.uniform(0.0, 1.5))
        os.kill(pid, signal.SIGKILL)  # harmless if it has already exited (a zombie until reaped)
        rc = server.wait(pid)
        assert "Traceback" not in err.read_text(), err.read_text()
        if rc == 0:  # it finished before the kill
            assert check_after_kill(run_dir) == EPOCHS
            completed.append(run_dir)
            chain += 1
            run_dir = tmp_path / f"chain-{chain}"
            continue
        assert rc == -signal.SIGKILL, (rc, err.read_text())
        kills += 1
        if check_after_kill(run_dir) == 0 and run_dir.is_dir():
            # Killed before its first checkpoint: --resume says so, in one line.
            rc, out, err_text = run_to_end(server, ["--train-only", "--resume", str(run_dir)], tmp_path)
            assert rc == 2 and out == "", err_text
            assert err_text.startswith("vae-tui: error: nothing to resume in ") and err_text.count("\n") == 1

    # The last chain, however far it got, is taken to the end.
    resume = (run_dir / "checkpoint.pt").exists()
    argv = ["--train-only", "--resume", str(run_dir)] if resume else [
        "--train-only", *ARGS, "--run-dir", str(run_dir)]  # fmt: skip
    rc, _, err_text = run_to_end(server, argv, tmp_path)
    assert rc == 0 and err_text == "", err_text
    completed.append(run_dir)

    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.communicate()
    assert len(completed) >= 1
    for done in completed:
        check_complete(done, reference)
