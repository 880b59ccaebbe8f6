"""End to end on real MNIST: the installed `vae-tui --train-only`, read as a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.metrics import read_metrics

from ..swanlab_log import read_swanlab_log

VAE_TUI = Path(sys.executable).parent / "vae-tui"
SUMMARY = re.compile(
    r"--- Epoch \[(\d+)/2\] Summary ---\n"
    r"Avg Loss: \d+\.\d{4}, Avg BCE: \d+\.\d{4}, Avg KLD: \d+\.\d{4}\n"
    r"Model saved at epoch \1\.\n"
    r"-ELBO \(beta 1\): train \d+\.\d{4}, held-out \d+\.\d{4} ± \d+\.\d{4} \(BCE \d+\.\d{4} \+ KLD \d+\.\d{4}\); "
    r"Avg Loss above is at beta 0(\.\d+)?; .*\n"
)


@pytest.mark.slow
def test_train_only_two_epochs_on_real_mnist(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [str(VAE_TUI), "--train-only", "--epochs", "2", "--train-limit", "3000", "--test-limit", "500",
         "--run-dir", str(run_dir), "--iwae-k", "8"],
        check=False, capture_output=True, text=True, cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, "TERM": "xterm-256color"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b" not in out and "\r" not in out  # a pipe gets plain lines only
    assert "▄" not in out and "Reconstructions, epoch" not in out  # and no inline images
    assert [m.group(1) for m in SUMMARY.finditer(out)] == ["1", "2"]
    assert "Final held-out: -ELBO" in out and "IWAE -log p(x)" in out
    # The bound takes a while on the full test set: it is announced before it starts.
    assert out.index("Computing the IWAE bound on -log p(x) (K=8)…") < out.index("Final held-out")
    assert result.stderr == ""

    rows = read_metrics(run_dir)
    epochs = [r for r in rows if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    expected = {
        "epoch",
        "loss",
        "bce",
        "kld",
        "beta",
        "test_loss",
        "test_bce",
        "test_kld",
        "seconds",
        "images_per_second",
    }
    assert expected <= set(epochs[0])
    # The printed numbers are the logged ones.
    assert f"Avg Loss: {epochs[1]['loss']:.4f}, Avg BCE: {epochs[1]['bce']:.4f}" in out
    # Beside the held-out -ELBO, the training one at the same beta = 1 (BCE + KLD), not Avg Loss:
    # in epoch 2 (beta 0.5) those differ, and only the former compares with the held-out number.
    for r in epochs:
        assert f"-ELBO (beta 1): train {r['bce'] + r['kld']:.4f}, held-out {r['test_loss']:.4f} ± " in out
    assert epochs[1]["loss"] < epochs[1]["bce"] + epochs[1]["kld"]
    # It learned: reconstruction and held-out loss went down.
    assert epochs[1]["bce"] < epochs[0]["bce"]
    assert epochs[1]["test_loss"] < epochs[0]["test_loss"]
    assert rows[-1]["kind"] == "final" and rows[-1]["iwae_nll"] <= rows[-1]["neg_elbo"] + 1.0

    data = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    assert data["epoch"] == 2 and ckpt.architecture(ckpt.model_state(data))["latent_dim"] == 20
    assert json.loads((run_dir / "config.json").read_text())["train_limit"] == 3000
    assert sorted(p.name for p in (run_dir / "images").iterdir()) == [
        "epoch-001-reconstructions.png", "epoch-001-samples.png", "epoch-001-traversal.png",
        "epoch-002-reconstructions.png", "epoch-002-samples.png", "epoch-002-traversal.png",
    ]  # fmt: skip
    swan = list((run_dir / "swanlab").glob("run-*/run-*.swanlab"))
    assert len(swan) == 1
    assert len(list(swan[0].parent.glob("media/image/*.png"))) == 4
    # Where the SwanLab log is (its id and folder) is said once it has started, and at the end the
    # command that uploads it.
    run_id = (run_dir / "swanlab" / "run_id").read_text().strip()
    lines = out.splitlines()
    assert lines.count(f"SwanLab offline run {run_id}: {swan[0].parent}") == 1
    assert lines[-1] == f"To upload the SwanLab log: swanlab login (once), then swanlab sync {swan[0].parent}"
    log = read_swanlab_log(swan[0])
    batches = log["scalars"]["train/loss"]
    assert [step for step, _ in batches] == list(range(1, 2 * 24 + 1))  # every batch, by step
    assert [v for _, v in log["scalars"]["test/loss"]] == pytest.approx([r["test_loss"] for r in epochs])
    assert log["media"] == {  # the epoch grids, and the two GIFs logged once at the end
        "images/reconstructions": 2, "images/samples": 2, "gifs/reconstructions": 1, "gifs/samples": 1,
    }  # fmt: skip
    assert log["finished"] == "RUN_STATE_FINISHED"


def test_without_a_terminal_plain_vae_tui_runs_headless(tmp_path: Path) -> None:
    """`ssh host vae-tui` without -t, nohup, CI: no App is created, the run goes headless."""
    result = subprocess.run(
        [str(VAE_TUI), "--epochs", "1", "--train-limit", "256", "--test-limit", "64", "--hidden-dim", "16",
         "--latent-dim", "2", "--run-dir", str(tmp_path / "run"), "--swanlab", "disabled", "--iwae-k", "0",
         "--graphics", "sixel"],
        check=False, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "vae-tui: no terminal on stdin/stderr, running headless (as --train-only); --graphics does not apply"
    )
    assert "--- Epoch [1/1] Summary ---" in lines
    assert "\x1b" not in result.stdout + result.stderr


def test_with_a_terminal_a_progress_bar_runs_within_the_epoch(tmp_path: Path) -> None:
    """On a terminal (a pty here) --train-only adds a rich progress bar; the summary stays exact."""
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(VAE_TUI), "--train-only", "--epochs", "2", "--train-limit", "2048", "--test-limit", "64",
         "--hidden-dim", "16", "--latent-dim", "2", "--run-dir", str(tmp_path / "run"), "--swanlab", "disabled",
         "--iwae-k", "0"],
        stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"},
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("no output for 120 s")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    output = b"".join(chunks).decode(errors="replace")
    assert "\x1b[" in output  # a live display: control codes, unlike in a pipe
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    # The bar: its label, batches done and the live loss (which epoch it caught depends on timing).
    assert re.search(r"Epoch [12]/2 ━+╺?━* +\d+/16 loss \d+\.\d\d", plain)
    assert "--- Epoch [2/2] Summary ---" in output and "Model saved at epoch 2." in output
    # It ends with the final grids drawn inline (rich-pixels half-blocks), for SSH users.
    assert plain.index("Reconstructions, epoch 2") < plain.index("Samples, epoch 2") and "▄" in plain
