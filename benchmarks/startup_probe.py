"""Start-up of `vae-tui --train-only`: from launch to the first training batch, step by step.

Each run is a fresh `vae-tui --train-only` process (the CLI's `main`, in a Python started with
this file as its script: `python startup_probe.py --child MARKS -- FLAGS...`), with the
defaults (SwanLab offline) and a private run folder. Before `main` runs, the child installs an
import hook and nothing else: when a watched module (torch, swanlab, torch._dynamo, vae_tui's
own) finishes executing, it records the time and wraps the functions of the start-up path so
their first calls are timed. So nothing is imported earlier than the product imports it, and
the product holds no probe code. After the `STOP_AFTER`-th batch the child sends itself SIGINT,
which the app handles as a user's Ctrl-C (it saves and exits 130); the marks are written as
JSON at exit. With `app_runs`, the same is measured in the app (`vae-tui` without
`--train-only`, its training worker, under `run_test`'s headless driver at 200×50), stopped the
way its quit key stops it.

All times are `time.perf_counter()` (CLOCK_MONOTONIC on Linux, one clock for every process),
reported in seconds from the launch: the moment the parent spawned the child. The key result:
`first_batch_after_torch_s`, the first `train_batch` call's start less the end of `import torch`.

Run alone: `.venv/bin/python benchmarks/startup_probe.py [--runs 5] [--app-runs 5] [--json OUT]`;
on a shared machine under `flock /tmp/bench.lock`. `make bench` calls `measure_startup`.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STOP_AFTER = 20
"""Batches the child trains before it stops itself (the first few show any side work's cost)."""
STOP: list[Callable[[], None]] = []
"""How the child stops its run after `STOP_AFTER` batches (the app's way, in the app)."""
FLAGS = ["--train-only", "--epochs", "1", "--train-limit", "20000"]
"""The defaults otherwise (SwanLab offline, the reference model, iwae_k, the cache's MNIST)."""


# -- the child: marks, taken without touching the product ------------------------------------
class Marks:
    """Times of named moments and the first calls of wrapped functions, dumped as JSON at exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.points: dict[str, float] = {"child_start": time.perf_counter()}
        self.spans: dict[str, dict[str, Any]] = {}
        self.batches: list[float] = []
        self.lock = threading.Lock()
        atexit.register(self.dump)

    def point(self, name: str) -> None:
        with self.lock:
            self.points.setdefault(name, time.perf_counter())

    def span(self, name: str, start: float, end: float) -> None:
        with self.lock:
            self.spans.setdefault(
                name, {"start": start, "end": end, "thread": threading.current_thread().name}
            )

    def dump(self) -> None:
        data = {"points": self.points, "spans": self.spans, "batches": self.batches}
        self.path.write_text(json.dumps(data))


def timed(marks: Marks, name: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, its first call (per name: `name` may be computed from the arguments) recorded."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            marks.span(name(*args, **kwargs) if callable(name) else name, start, time.perf_counter())

    return wrapper


def wrap(marks: Marks, owner: Any, attr: str, name: str | Callable[..., str] | None = None) -> None:
    """Time `owner.attr` if it exists (the code under test moves; a missing one is skipped)."""
    fn = getattr(owner, attr, None)
    if fn is not None:
        setattr(owner, attr, timed(marks, name or attr, fn))


def patch_train(marks: Marks, train: Any) -> None:
    for attr in ("start", "resolve_device", "check_training", "resolve_dataset_dir", "prepare_run_dir"):
        wrap(marks, train, attr)
    wrap(marks, train, "load_split", lambda folder, split, *a, **k: f"load_split:{split}")
    wrap(marks, train, "write_json_atomic", "write_config_json")
    wrap(marks, train, "VAE", "model")
    wrap(marks, train, "make_optimizer")
    wrap(marks, train, "epoch_permutation")
    batch = train.train_batch

    @functools.wraps(batch)
    def train_batch(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        marks.batches.append(start)
        try:
            return batch(*args, **kwargs)
        finally:
            if len(marks.batches) == 1:
                marks.span("first_batch", start, time.perf_counter())
            if len(marks.batches) == STOP_AFTER:
                marks.point("stop_sent")
                if STOP:
                    STOP[0]()
                else:
                    os.kill(os.getpid(), signal.SIGINT)  # the app's own Ctrl-C handling stops the run

    train.train_batch = train_batch


def patch_consumers(marks: Marks, consumers: Any) -> None:
    """Time each consumer's first handling of each kind of event (RunStarted, ModelSnapshot, ...)."""
    drive = consumers.drive

    class Timed:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def handle(self, event: Any) -> None:
            start = time.perf_counter()
            try:
                self.inner.handle(event)
            finally:
                name = f"handle:{type(self.inner).__name__}:{type(event).__name__}"
                marks.span(name, start, time.perf_counter())

        def close(self, state: str) -> None:
            self.inner.close(state)

    @functools.wraps(drive)
    def timed_drive(events: Any, consumers: Any) -> Any:
        return drive(events, [Timed(c) for c in consumers])

    consumers.drive = timed_drive


def patch_run(marks: Marks, run: Any) -> None:
    wrap(marks, run, "standard_consumers")
    from vae_tui.core import threads  # torch-free; TrainingRun looks the function up as it starts

    wrap(marks, threads, "training_threads")
    wrap(marks, run.TrainingRun, "__init__", "TrainingRun.__init__")


def patch_loop_state(marks: Marks, loop_state: Any) -> None:
    wrap(marks, loop_state.LoopState, "__init__", "LoopState.__init__")
    wrap(marks, loop_state.LoopState, "run_started", "LoopState.run_started")
    wrap(marks, loop_state.LoopState, "snapshot", "LoopState.snapshot")


def patch_tracking(marks: Marks, tracking: Any) -> None:
    wrap(marks, tracking.SwanLabTracker, "_init", "swanlab_init")


PATCHES: dict[str, Callable[[Marks, Any], None]] = {
    "vae_tui.core.train": patch_train,
    "vae_tui.core.consumers": patch_consumers,
    "vae_tui.core.run": patch_run,
    "vae_tui.core.loop_state": patch_loop_state,
    "vae_tui.core.tracking": patch_tracking,
    "vae_tui.core.threads": lambda marks, threads: wrap(marks, threads, "busy_cores"),
}
WATCHED = {"torch", "torch._dynamo", "swanlab", "numpy", *PATCHES}


class ImportWatch:
    """A meta-path finder that finds nothing itself: for a watched module it asks the finders
    after it, and wraps the loader's `exec_module` to mark the import's start and end (and
    apply the module's patches)."""

    def __init__(self, marks: Marks) -> None:
        self.marks = marks

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in WATCHED:
            return None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1 :]:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec
        marks = self.marks

        def timed_exec(module: Any) -> None:
            marks.point(f"import_start:{name}")
            start = time.perf_counter()
            exec_module(module)
            marks.point(f"import_end:{name}")
            marks.span(f"import {name}", start, time.perf_counter())
            if name in PATCHES:
                PATCHES[name](marks, module)

        loader.exec_module = timed_exec  # this loader instance serves this one module
        return spec


def child(marks_path: Path, flags: list[str]) -> int:
    marks = Marks(marks_path)
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]  # this folder's modules (report.py, ...) must not shadow anything
    sys.meta_path.insert(0, ImportWatch(marks))
    if flags[0] == "--app":
        return child_app(flags[1:])
    from vae_tui.tui.cli import main  # after the hook, as the script would

    return main(flags)


def child_app(flags: list[str]) -> int:
    """The app as `vae-tui FLAGS` builds it, under `run_test` (no terminal needed), until the
    training worker has trained `STOP_AFTER` batches; then stopped as its quit key does."""
    import asyncio

    from vae_tui.tui.app import make_app
    from vae_tui.tui.cli import parse_request

    app = make_app(parse_request(flags))
    trained = threading.Event()
    STOP.append(trained.set)

    async def run() -> None:
        async with app.run_test(size=(200, 50)) as pilot:
            deadline = time.perf_counter() + 120
            while not trained.is_set() and time.perf_counter() < deadline:
                await pilot.pause(0.02)
            app.control.request_stop()
            while app.training_active and time.perf_counter() < deadline:
                await pilot.pause(0.05)

    asyncio.run(run())
    return 0 if trained.is_set() else 1


# -- the parent: runs, and their breakdown -----------------------------------------------------
STEPS = (
    # (name, start mark, end mark): a step is the time between two marks of one run
    ("interpreter", "launch", "child_start"),
    ("imports before torch", "child_start", "import_start:torch"),
    ("torch import", "import_start:torch", "import_end:torch"),
)


def summarise_run(marks: dict[str, Any], launch: float) -> dict[str, Any]:
    """One run's marks as seconds from launch, and its steps up to the end of its first batch:
    the spans named `name [thread]` ran beside the thread that trains."""
    points = {k: v - launch for k, v in marks["points"].items()}
    points["launch"] = 0.0
    spans = {
        k: {"start": v["start"] - launch, "end": v["end"] - launch, "thread": v["thread"]}
        for k, v in marks["spans"].items()
    }
    batches = [b - launch for b in marks["batches"]]
    torch_end = points.get("import_end:torch")
    out: dict[str, Any] = {"points": points, "spans": spans, "batch_starts": batches[:STOP_AFTER]}
    if not batches or torch_end is None or "first_batch" not in spans:
        return {**out, "steps": {}, "step_starts": {}}
    out["first_batch_after_torch_s"] = batches[0] - torch_end
    out["launch_to_first_batch_s"] = batches[0]
    out["torch_imported_s"] = torch_end
    if len(batches) >= STOP_AFTER:
        out[f"batches_2_to_{STOP_AFTER}_s"] = batches[STOP_AFTER - 1] - batches[1]
    trainer = spans["first_batch"]["thread"]  # the main thread headless, a worker in the app
    steps: dict[str, float] = {}
    starts: dict[str, float] = {}
    for name, a, b in STEPS:
        if a in points and b in points:
            steps[name], starts[name] = points[b] - points[a], points[a]
    for name, span in spans.items():
        if span["start"] <= spans["first_batch"]["end"]:  # on the path, or beside it
            label = name if span["thread"] == trainer else f"{name} [{span['thread']}]"
            steps[label], starts[label] = span["end"] - span["start"], span["start"]
    # What the training thread did between torch's import and the first batch that no span covers.
    covered = sorted(
        (max(s["start"], torch_end), min(s["end"], batches[0]))
        for s in spans.values()
        if s["thread"] == trainer and s["end"] > torch_end and s["start"] < batches[0]
    )
    total, reach = 0.0, torch_end
    for a, b in covered:
        if b > reach:
            total += b - max(a, reach)
            reach = b
    gap = "training thread, torch imported → batch 1, in no span above"
    steps[gap], starts[gap] = (batches[0] - torch_end) - total, batches[0]
    out["steps"], out["step_starts"] = steps, starts
    return out


def one_run(
    work: Path, index: int, data_root: Path | None, timeout: float, app: bool = False
) -> dict[str, Any]:
    """One fresh process, its marks summarised (or {"error": its last lines})."""
    run_dir = work / f"startup-{'app' if app else 'run'}-{index}"
    marks_path = work / f"startup-marks-{'app' if app else 'run'}-{index}.json"
    flags = ["--app", *FLAGS[1:]] if app else [*FLAGS]
    flags += ["--run-dir", str(run_dir)]
    if data_root is not None:
        flags += ["--data-dir", str(data_root)]
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(marks_path), "--", *flags]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if data_root is None:
        env["VAE_TUI_CACHE"] = str(work / "cache")  # a private cache, as a user's is: installed once
    launch = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if done.returncode not in (0, 128 + signal.SIGINT) or not marks_path.exists():
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return {"error": f"exit {done.returncode}: {tail}"}
    result = summarise_run(json.loads(marks_path.read_text()), launch)
    result["exit_code"] = done.returncode
    return result


def measure_startup(
    runs: int, data_root: Path | None, work: Path, *, app_runs: int = 0, timeout: float = 120.0
) -> dict[str, Any]:
    """`runs` fresh `vae-tui --train-only` processes (defaults, SwanLab offline), each stopped
    after its first batches: medians of the first batch's start after `import torch` ended and
    after launch, and of every step of the start-up (seconds). `data_root`: a folder of the
    MNIST files to pass as `--data-dir`; None reads the per-user cache, as the default run does
    (here a private one under `work`, installed by a first, untimed run). `app_runs` > 0 adds
    the same for the app's training worker, under "app"."""
    work.mkdir(parents=True, exist_ok=True)
    if data_root is None:
        one_run(work, -1, None, timeout)  # installs the cache; its timing is not kept
    out = summarise_runs([one_run(work, i, data_root, timeout) for i in range(runs)], FLAGS)
    if app_runs > 0:
        app = [one_run(work, i, data_root, timeout, app=True) for i in range(app_runs)]
        out["app"] = summarise_runs(app, ["(app, 200×50)", *FLAGS[1:]])
    return out


def summarise_runs(runs: list[dict[str, Any]], flags: list[str]) -> dict[str, Any]:
    results = [r for r in runs if "error" not in r]
    failures = [r["error"] for r in runs if "error" in r]
    out: dict[str, Any] = {"command": "vae-tui " + " ".join(flags), "runs": results, "failures": failures}
    if not results:
        return out
    for key in (
        "first_batch_after_torch_s",
        "launch_to_first_batch_s",
        "torch_imported_s",
        f"batches_2_to_{STOP_AFTER}_s",
    ):
        values = [r[key] for r in results if key in r]
        if values:
            out[key] = statistics.median(values)
    names = [name for r in results for name in r["steps"]]
    order = {
        name: statistics.median(r["step_starts"][name] for r in results if name in r["steps"])
        for name in names
    }
    out["breakdown"] = {
        name: statistics.median(r["steps"][name] for r in results if name in r["steps"])
        for name in sorted(dict.fromkeys(names), key=lambda n: order[n])
    }
    return out


def print_report(result: dict[str, Any]) -> None:
    print(f"{result['command']}: {len(result['runs'])} fresh processes")
    for failure in result["failures"]:
        print(f"  failed: {failure}")
    for key in (
        "torch_imported_s",
        "first_batch_after_torch_s",
        "launch_to_first_batch_s",
        f"batches_2_to_{STOP_AFTER}_s",
    ):
        if key in result:
            print(
                f"  {key:<32} {result[key]:7.3f}   runs: {' '.join(f'{r[key]:.3f}' for r in result['runs'] if key in r)}"
            )
    print("  breakdown to the end of the first batch (median seconds, in order of start; < 1 ms not shown):")
    for name, seconds in result.get("breakdown", {}).items():
        if seconds >= 0.001:
            print(f"    {seconds:7.3f}  {name}")
    if "app" in result:
        print()
        print_report(result["app"])


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(Path(sys.argv[2]), sys.argv[4:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh --train-only processes")
    parser.add_argument("--app-runs", type=int, default=0, help="fresh app processes")
    parser.add_argument("--data-dir", type=Path, help="pass as --data-dir (default: the per-user cache)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vae-tui-startup-") as work:
        result = measure_startup(args.runs, args.data_dir, Path(work), app_runs=args.app_runs)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if result["runs"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
