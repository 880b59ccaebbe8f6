"""The app as a user starts it: `vae-tui` in a fresh process on a real pseudo-terminal.

`run_app` starts the installed `vae-tui` script with the default flags (plus what the benchmark
fixes) on a 200×50 pty, reads everything it draws (as a terminal would, so it never blocks on
output), and once its epoch row is in `metrics.jsonl` presses `q`, which stops it as a user
would (checkpoint saved, SwanLab finished). Its training speed comes from that row, like every
variant's. Textual's own test driver (`App.run_test`) is not used here: it is not what users
run, and the app trained measurably slower under it.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

from app_run import APP_SIZE, app_flags
from mnist_files import TRAIN_SIZE


def epoch_row(run_dir: Path) -> dict[str, Any] | None:
    """The first epoch row of the run's metrics, once written whole."""
    try:
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("kind", "epoch") == "epoch":
            return row
    return None


def script() -> list[str]:
    installed = Path(sys.executable).with_name("vae-tui")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "vae_tui.tui"]


def run_app(
    data_root: Path,
    run_dir: Path,
    *,
    seed: int,
    kl_anneal: str,
    train_limit: int | None,
    test_limit: int | None,
    timeout: float,
) -> dict[str, Any]:
    """One epoch of the app on a pty; its speed from its epoch row, its peak RSS from the OS."""
    flags = app_flags(
        data_root, run_dir, epochs=1, seed=seed, kl_anneal=kl_anneal,
        train_limit=train_limit, test_limit=test_limit,
    )  # fmt: skip
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", APP_SIZE[1], APP_SIZE[0], 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    env["TERM"] = "xterm-256color"
    start = time.perf_counter()
    proc = subprocess.Popen([*script(), *flags], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)  # fmt: skip
    os.close(slave)
    row, pressed, deadline = None, False, start + timeout
    try:
        while time.perf_counter() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    if not os.read(master, 1 << 16):
                        break
                except OSError:  # the app exited and the terminal closed
                    break
            if row is None and (row := epoch_row(run_dir)) is not None:
                wall = time.perf_counter() - start
            if row is not None and not pressed:
                os.write(master, b"q")  # leave the finished app, as a user would
                pressed = True
            if proc.poll() is not None:
                break
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    if row is None:
        raise RuntimeError(f"the app wrote no epoch row within {timeout:.0f} s (exit status {status})")
    ips = row["images_per_second"]
    return {
        "train_seconds": min(train_limit or TRAIN_SIZE, TRAIN_SIZE) / ips,
        "epoch_seconds": row["seconds"],
        "images_per_second": ips,
        "wall_seconds": wall,
        "test_loss": row["test_loss"],
        "test_loss_stderr": row["test_loss_stderr"],
        "extra": {"train_loss": row["loss"], "peak_rss_mb": usage.ru_maxrss / 1024, "exit_status": status},
    }
