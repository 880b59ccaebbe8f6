"""What the benchmark's app runs share: their flags, an app built in-process with its thread
choice recorded (the latency measurement, `app_latency.py`), and a fresh interpreter to run in.

The throughput variant runs `vae-tui` itself on a pty (`app_terminal.py`); the latency one
drives the app in Textual's test driver, in a fresh process (`in_fresh_process`). Either way
the app picks its own torch threads (`workers.start_training_run`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

APP_SIZE = (200, 50)


def app_flags(
    data_root: Path,
    run_dir: Path,
    *,
    epochs: int | None,
    seed: int | None = None,
    kl_anneal: str | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
) -> list[str]:
    """The app's command line: the defaults, but for what the benchmark needs fixed (None: the
    default; `--iwae-k 0` so a run's end is not an evaluation, `--device cpu` as measured)."""
    flags = ["--iwae-k", "0", "--device", "cpu", "--run-dir", str(run_dir), "--data-dir", str(data_root)]
    given = {
        "--epochs": epochs,
        "--seed": seed,
        "--kl-anneal": kl_anneal,
        "--train-limit": train_limit,
        "--test-limit": test_limit,
    }
    for flag, value in given.items():
        if value is not None:
            flags += [flag, str(value)]
    return flags


class ThreadRecorder:
    """The app's `start_run`: the real one (`workers.start_training_run`), noting the torch
    threads it chose."""

    def __init__(self) -> None:
        self.threads: int | None = None

    def __call__(self, plan: Any, control: Any) -> Any:
        from vae_tui.tui import workers

        run = workers.start_training_run(plan, control)
        self.threads = run.threads
        return run


def make_recorded_app(flags: list[str]) -> tuple[Any, ThreadRecorder]:
    from vae_tui.tui.app import make_app
    from vae_tui.tui.cli import parse_request

    recorder = ThreadRecorder()
    return make_app(parse_request(flags), start_run=recorder), recorder


def in_fresh_process(module: str, function: str, **kwargs: Any) -> Any:
    """`module.function(**kwargs)` in a fresh interpreter, as a user starts the app (paths go as
    strings; the result comes back as JSON). This process has run torch on its main thread (the
    floor, the other variants), and torch's OpenMP keeps thread teams for that thread that would
    slow an app's training thread (core/threads.py `serial_on_this_thread`)."""
    kwargs = {k: str(v) if isinstance(v, Path) else v for k, v in kwargs.items()}
    command = [sys.executable, __file__, module, function, json.dumps(kwargs)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{function} failed: {' | '.join(done.stderr.strip().splitlines()[-3:])}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # the child of `in_fresh_process`: module, function, keyword arguments
    import importlib

    target = getattr(importlib.import_module(sys.argv[1]), sys.argv[2])
    print(json.dumps(target(**json.loads(sys.argv[3]))))
