"""How long a key press takes to change an image view, at a given terminal size.

    .venv/bin/python benchmarks/app_latency.py [--size 200x50] [--presses 30] [--checkpoint PATH]
    .venv/bin/python benchmarks/app_latency.py --training     # while the app trains (as `make bench`)

Browsing opens a model (the reference architecture 784-256-20 with random weights unless
--checkpoint is given); `--training` starts the app with the default flags (SwanLab offline) and
presses while it trains. For each view a key that changes its picture is pressed; the latency is
measured inside the app, from the moment the key reaches the app's bindings to the end of the
first screen composition after the view rebuilt its picture: the time a user waits. Keys are
handed to the driver as a terminal's would be, a gap apart (Pilot's `press` waits for the CPU to
go idle, which it never does while training).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App
from textual.screen import Screen

from vae_tui.tui.widgets.views import ImageView

CASES = [  # (tab key, key that changes the picture, label)
    ("2", "right", "reconstructions ←/→"),
    ("3", "right", "samples ←/→"),
    ("3", "n", "samples n (new z)"),
    ("4", "down", "traversal ↑/↓"),
    ("4", "right", "traversal ←/→ (new base image)"),
]
GAP = 0.1
"""Seconds between presses: a quick typist's pace, and time for the app to settle."""
WAIT = 2.0
"""Seconds a press may take before it counts as missed."""


class Clock:
    """Timestamps of key dispatch, the first view rebuild after it, and screen compositions;
    installed on Textual's classes for as long as the `with` block runs."""

    def __init__(self) -> None:
        self.key = 0.0
        self.view_done = 0.0
        self.frames: list[float] = []
        self._saved: list[tuple[type, str, Any]] = []

    def __enter__(self) -> Clock:
        clock = self
        check_bindings, update_view = App._check_bindings, ImageView.update_view
        compositor_refresh = Screen._compositor_refresh

        async def timed_bindings(app: App, key: str, priority: bool = False) -> bool:
            if not priority:
                clock.key, clock.view_done = time.perf_counter(), 0.0
            return await check_bindings(app, key, priority)

        def timed_update(view: ImageView, force: bool = False) -> None:
            update_view(view, force)
            if not clock.view_done:  # the key's own rebuild (a tick's later one does not count)
                clock.view_done = time.perf_counter()

        def timed_refresh(screen: Screen) -> None:
            compositor_refresh(screen)
            clock.frames.append(time.perf_counter())

        for owner, name, timed in (
            (App, "_check_bindings", timed_bindings),
            (ImageView, "update_view", timed_update),
            (Screen, "_compositor_refresh", timed_refresh),
        ):
            self._saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in self._saved:
            setattr(owner, name, original)
        self._saved.clear()


def send_key(app: App, key: str) -> None:
    """The key as a terminal's driver delivers it (what Pilot's `press` sends, without its waits)."""
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app._driver.send_message(event)


async def press(app: App, clock: Clock, key: str) -> float | None:
    """Milliseconds from `key` reaching the bindings to the first frame after its view rebuilt;
    None if no such frame came within `WAIT`."""
    clock.frames.clear()
    sent = time.perf_counter()
    send_key(app, key)
    while time.perf_counter() - sent < WAIT:
        await asyncio.sleep(0.002)
        done = clock.view_done
        if done and clock.key >= sent and (frame := next((t for t in clock.frames if t >= done), None)):
            return (frame - clock.key) * 1000
    return None


def stats(times: list[float]) -> dict[str, Any]:
    times = sorted(times)
    return {
        "median_ms": statistics.median(times),
        "p90_ms": statistics.quantiles(times, n=10, method="inclusive")[-1] if len(times) > 1 else times[0],
        "max_ms": times[-1],
        "all_ms": [round(t, 1) for t in times],
    }


async def press_cases(app: App, clock: Clock, presses: int, busy: Any = lambda: False) -> dict[str, Any]:
    """Every case, `presses` times each after one untimed press (a tab's first press also pays
    for its first layout); `busy()` says whether the app is training at the moment of a press."""
    cases: dict[str, Any] = {}
    missed = while_busy = 0
    for tab, key, label in CASES:
        send_key(app, tab)
        await asyncio.sleep(0.3)
        times = []
        for i in range(presses + 1):
            await asyncio.sleep(GAP)
            while_busy += bool(busy()) if i else 0
            ms = await press(app, clock, key)
            if ms is None:
                missed += 1
            elif i:
                times.append(ms)
        if times:
            cases[label] = stats(times)
    every = [t for case in cases.values() for t in case["all_ms"]]
    return {
        "cases": cases,
        **(stats(every) if every else {}),
        "missed": missed,
        "presses_while_busy": while_busy,
    }


async def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} within {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def browse_latency(checkpoint: str, size: tuple[int, int], presses: int) -> dict[str, Any]:
    from vae_tui.tui.app import make_app
    from vae_tui.tui.cli import parse_request

    app = make_app(parse_request(["--checkpoint", checkpoint]))
    with Clock() as clock:
        async with app.run_test(size=size):
            await wait_for(lambda: app.state.decoder is not None, 60, "the model did not open")
            await asyncio.sleep(0.3)
            return await press_cases(app, clock, presses)


async def training_latency(app: Any, presses: int, timeout: float, result: dict[str, Any]) -> None:
    """Press once the app trains (its first batches done, a model to draw), then stop it;
    `result` is filled before the app closes, so an error while closing leaves it."""
    with Clock() as clock:
        async with app.run_test(size=(200, 50)):
            await wait_for(
                lambda: app.state.decoder is not None and app.status.step > 0,
                timeout,
                "training did not start",
            )
            result.update(await press_cases(app, clock, presses, busy=lambda: app.training_active))
            app.control.request_stop()
            await wait_for(lambda: not app.training_active, timeout, "training did not stop")


def measure_while_training(
    data_root: Path,
    work: Path,
    *,
    presses: int = 20,
    train_limit: int | None = None,
    test_limit: int | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Key-to-frame latency at 200×50 while the app trains with the default flags (its 50 epochs
    outlast the presses; it is stopped after them). `presses_while_training` counts the presses
    made while training ran: all of them, unless a small `--train-limit` let it finish first."""
    from app_run import app_flags, make_recorded_app

    data_root, work = Path(data_root), Path(work)
    run_dir = Path(tempfile.mkdtemp(prefix="latency-", dir=work))
    flags = app_flags(data_root, run_dir, epochs=None, train_limit=train_limit, test_limit=test_limit)
    app, recorder = make_recorded_app(flags)
    result: dict[str, Any] = {}
    try:
        asyncio.run(training_latency(app, presses, timeout, result))
    except Exception as e:
        if "cases" not in result:
            raise
        result["teardown_error"] = f"{type(e).__name__}: {e}"  # after the measurement
    result["presses_while_training"] = result.pop("presses_while_busy")
    result.update(size=[200, 50], presses_per_case=presses, threads=recorder.threads)
    return result


def print_latency(title: str, result: dict[str, Any]) -> None:
    print(f"{title} (budget 100 ms)")
    print(f"{'view and key':34} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}")
    for label, r in result["cases"].items():
        print(f"{label:34} {r['median_ms']:10.1f} {r['p90_ms']:8.1f} {r['max_ms']:8.1f}")
    if result.get("missed"):
        print(f"{result['missed']} presses drew no frame within {WAIT:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="200x50", help="browsing only; training is measured at 200x50")
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--checkpoint")
    parser.add_argument("--training", action="store_true", help="measure while the app trains")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "app_latency.json")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        if args.training:
            from mnist_files import prepare_mnist

            result = measure_while_training(
                prepare_mnist(Path(tmp) / "data"), Path(tmp), presses=args.presses
            )
            size = "200x50 while training"
        else:
            import torch

            from vae_tui.core.model import VAE

            checkpoint = args.checkpoint
            if checkpoint is None:
                torch.manual_seed(0)
                checkpoint = str(Path(tmp) / "vae.pt")
                torch.save(VAE().state_dict(), checkpoint)
            result = asyncio.run(browse_latency(checkpoint, (width, height), args.presses))
            size = f"{width}x{height}"
    print_latency(f"Key press → view rebuilt → frame composed, {size}, {args.presses} presses each", result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    record = {"size": [width, height], "presses": args.presses, "results": result["cases"], "all": result}
    args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
