"""The Textual app trained by the benchmark, as the interactive `vae-tui` runs it.

`run_app` drives one run of the app with the default flags (SwanLab offline) in Textual's
headless driver at 200×50 until its epochs are over; the app picks its own torch threads
(`workers.start_training_run`), and `ThreadRecorder` reads the count it picked, so the result
is labelled with what the app used rather than with a guess made at the benchmark's start.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mnist_files import TRAIN_SIZE

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


async def drive_to_end(app: Any, timeout: float, timing: dict[str, float]) -> None:
    """Run `app` until its training is over; `timing["wall"]`: the seconds that took (set before
    the app closes, so an error while closing leaves it)."""
    start = time.perf_counter()
    async with app.run_test(size=APP_SIZE):
        deadline = time.perf_counter() + timeout
        # Plain sleeps, not `pilot.pause`: that walks every widget and forces a screen update
        # each call, work the real app never does.
        while app.status.phase not in ("finished", "stopped") or app.training_active:
            if time.perf_counter() > deadline:
                app.control.request_stop()
                raise TimeoutError(f"the app did not finish within {timeout:.0f} s")
            await asyncio.sleep(0.1)
        timing["wall"] = time.perf_counter() - start


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


def run_app(**kwargs: Any) -> dict[str, Any]:
    """`run_app_here` in a fresh interpreter."""
    return in_fresh_process("app_run", "run_app_here", **kwargs)


def run_app_here(
    data_root: Path,
    run_dir: Path,
    *,
    seed: int,
    kl_anneal: str,
    train_limit: int | None,
    test_limit: int | None,
    timeout: float,
) -> dict[str, Any]:
    """One epoch in the app; its training speed from the epoch's own row, as ours."""
    data_root, run_dir = Path(data_root), Path(run_dir)
    flags = app_flags(
        data_root, run_dir, epochs=1, seed=seed, kl_anneal=kl_anneal,
        train_limit=train_limit, test_limit=test_limit,
    )  # fmt: skip
    app, recorder = make_recorded_app(flags)
    timing: dict[str, float] = {}
    teardown_error = None
    try:
        asyncio.run(drive_to_end(app, timeout, timing))
    except Exception as e:
        if not app.history.epochs or "wall" not in timing:
            raise
        teardown_error = f"{type(e).__name__}: {e}"  # raised while closing, after the epoch
        print(f"  (the app raised while closing: {teardown_error})", file=sys.stderr)
    if not app.history.epochs:
        raise RuntimeError(f"the app stopped early: {app.status.phase} {app.status.message}")
    row = app.history.epochs[-1]
    ips = row["images_per_second"]
    extra: dict[str, Any] = {
        "threads": recorder.threads,
        "train_loss": row["loss"],
        "peak_rss_mb": peak_rss_mb(),
    }
    if teardown_error:
        extra["teardown_error"] = teardown_error
    return {
        "train_seconds": min(train_limit or TRAIN_SIZE, TRAIN_SIZE) / ips,
        "epoch_seconds": row["seconds"],
        "images_per_second": ips,
        "wall_seconds": timing["wall"],
        "test_loss": row["test_loss"],
        "test_loss_stderr": row["test_loss_stderr"],
        "extra": extra,
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux counts ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":  # the child of `in_fresh_process`: module, function, keyword arguments
    import importlib

    target = getattr(importlib.import_module(sys.argv[1]), sys.argv[2])
    print(json.dumps(target(**json.loads(sys.argv[3]))))
