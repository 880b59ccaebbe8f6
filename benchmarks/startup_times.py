"""Start-up, in fresh interpreters: `vae-tui --help`, and the app's first frame against the moment
torch has finished importing.

Run as a script (`python startup_times.py DATA_ROOT RUN_DIR`) it is the app probe itself: one
fresh process, printing its marks as JSON on its last line (`probe_app`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed_runs(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def help_times(runs: int) -> dict[str, Any]:
    """Wall time of `vae-tui --help` (the installed script), bare python and `import torch`."""
    script = Path(sys.executable).with_name("vae-tui")
    command = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "vae_tui.tui", "--help"]
    times = timed_runs(command, runs)
    return {
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command)),
        "help_seconds": times,
        "help_median": statistics.median(times),
        "python_bare_median": statistics.median(timed_runs([sys.executable, "-c", "pass"], runs)),
        "python_import_torch_median": statistics.median(
            timed_runs([sys.executable, "-c", "import torch"], max(1, runs // 2))
        ),
    }


def watch_torch(mark: Callable[[str], None], stop: threading.Event) -> None:
    """Mark when `sys.modules['torch']` appears and when it is no longer initialising (2 ms polls)."""
    while not stop.is_set():
        module = sys.modules.get("torch")
        if module is not None:
            mark("torch_import_began")
            spec = getattr(module, "__spec__", None)
            if spec is not None and not getattr(spec, "_initializing", False):
                mark("torch_imported")
                return
        time.sleep(0.002)


def probe_app(data_root: str, run_dir: str) -> dict[str, Any]:
    """When does the app show its first frame, and when has its training worker imported torch?

    Seconds from the probe's start (before `vae_tui.tui.app` is imported; the interpreter's own
    start-up, ~`python_bare_median`, comes before that). `first_frame` is the first compositor
    update handed to Textual's driver (`App._display`: `run_test`'s headless driver discards it,
    a terminal would write it), `mounted` the app's `on_mount`, `run_started` when the app has
    handled RunStarted (its status shows the device)."""
    t0 = time.perf_counter()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks.setdefault(name, time.perf_counter() - t0)

    stop = threading.Event()
    assert "torch" not in sys.modules
    threading.Thread(target=watch_torch, args=(mark, stop), daemon=True).start()
    from vae_tui.tui.app import VaeApp
    from vae_tui.tui.cli import parse_request

    mark("app_module_imported")

    class ProbeApp(VaeApp):
        CSS_PATH = str(Path(sys.modules[VaeApp.__module__].__file__).with_name(VaeApp.CSS_PATH))

        def _display(self, screen: Any, renderable: Any) -> None:
            if renderable is not None:
                mark("first_frame")
            super()._display(screen, renderable)

        def on_mount(self) -> None:
            mark("mounted")
            super().on_mount()

    flags = ["--epochs", "1", "--train-limit", "1024", "--test-limit", "256", "--iwae-k", "0"]
    flags += ["--swanlab", "disabled", "--device", "cpu", "--data-dir", data_root, "--run-dir", run_dir]
    app = ProbeApp(parse_request(flags))
    result: dict[str, Any] = {}
    try:
        asyncio.run(run_until_started(app, mark))
    except Exception as e:
        if "run_started" not in marks:
            raise
        result["teardown_error"] = f"{type(e).__name__}: {e}"  # while closing, after the measurement
    stop.set()
    result["marks"] = dict(sorted(marks.items(), key=lambda kv: kv[1]))
    return result


async def run_until_started(app: Any, mark: Callable[[str], None]) -> None:
    async with app.run_test(size=(200, 50)) as pilot:
        deadline = time.perf_counter() + 120
        while app.status.device == "…" and time.perf_counter() < deadline:
            await pilot.pause(0.01)
        mark("run_started")
        app.control.request_stop()
        while app.training_active and time.perf_counter() < deadline:
            await pilot.pause(0.05)


def app_probes(runs: int, data_root: Path, work: Path) -> dict[str, Any]:
    """`probe_app` in `runs` fresh processes: every run's marks, and their medians."""
    results, failures = [], []
    for i in range(runs):
        run_dir = work / f"probe-{i}"
        out = subprocess.run(
            [sys.executable, __file__, str(data_root), str(run_dir)],
            check=False,
            capture_output=True,
            text=True,
        )
        shutil.rmtree(run_dir, ignore_errors=True)
        if out.returncode != 0:
            tail = " | ".join(out.stderr.strip().splitlines()[-3:])
            failures.append(f"exit {out.returncode}: {tail}")
            print(f"  start-up probe {i + 1} failed: {tail}", file=sys.stderr)
            continue
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        if "teardown_error" in probe:
            failures.append(f"after the measurement: {probe['teardown_error']}")
        results.append(probe["marks"])
    if not results:
        return {"runs": [], "failures": failures}
    keys = sorted(
        {k for r in results for k in r}, key=lambda k: statistics.median(r.get(k, 0) for r in results)
    )
    before = sum(1 for r in results if r.get("first_frame", 1e9) < r.get("torch_imported", 0))
    return {
        "runs": results,
        "median": {k: statistics.median(r[k] for r in results if k in r) for k in keys},
        "first_frame_before_torch_imported": f"{before}/{len(results)}",
        "failures": failures,
    }


if __name__ == "__main__":
    print(json.dumps(probe_app(sys.argv[1], sys.argv[2])))
