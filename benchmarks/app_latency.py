"""How long a key press takes to change an image view, at a given terminal size.

    .venv/bin/python benchmarks/app_latency.py [--size 200x50] [--presses 30] [--checkpoint PATH]
    .venv/bin/python benchmarks/app_latency.py --training     # while the app trains (as `make bench`)

Browsing opens a model (the reference architecture 784-256-20 with random weights unless
--checkpoint is given); `--training` starts the app with the default flags (SwanLab offline) and
presses while it trains. Every view's keys are pressed (`CASES`), and each tab key from
another tab; the latency is measured inside the app (`frame_clock.py`), from the moment the key
reaches the app's bindings to the end of the first screen composition after the view shown
redrew for it and is up to date (a redraw a worker's result waits for included): the time a user
waits. Keys are handed to the driver as a terminal's would be, a gap apart (Pilot's `press`
waits for the CPU to go idle, which it never does while training).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frame_clock import WAIT, Clock, press, send_key
from textual.app import App


@dataclass(frozen=True)
class Case:
    tab: str
    """The tab's number key, pressed (untimed) before the case."""
    keys: tuple[str, ...]
    """The keys timed, in turn (a pair that undo each other keeps the view in range)."""
    label: str
    undo: str | None = None
    """A key pressed untimed after each timed one, to come back (to the tab left, the order)."""


CASES = [
    Case("2", ("right",), "recon ←/→"),
    Case("2", ("pagedown",), "recon PageDown"),
    Case("2", ("o",), "recon o (→ by error)", undo="o"),
    Case("2", ("c",), "recon c (next class)"),
    Case("3", ("right",), "samples ←/→"),
    Case("3", ("n",), "samples n (new z)"),
    Case("4", ("down",), "traversal ↑/↓"),
    Case("4", ("right",), "traversal ←/→ (new base image)"),
    Case("4", ("plus", "minus"), "traversal +/- (scrub)"),
    Case("4", ("k",), "traversal k (KL ↔ index order)"),
    Case("5", ("l",), "interp l (linear ↔ slerp)"),
    Case("6", ("right", "down", "left", "up"), "map arrows (cursor)"),
    Case("7", ("down",), "latents ↑/↓"),
    Case("2", ("5",), "tab 2 → 5 Interp", undo="2"),
    Case("2", ("6",), "tab 2 → 6 Map", undo="2"),
    Case("2", ("7",), "tab 2 → 7 Latents", undo="2"),
    # Last: they leave the views at a past epoch. Each press reads an epoch's PNG not read before
    # (a run folder's checkpoint with that many epochs kept; else they only say there are none).
    Case("3", ("left_square_bracket",), "samples [ (an epoch back: its PNG read)"),
    Case("2", ("left_square_bracket",), "recon [ (an epoch back: its PNG read)"),
    Case("7", ("right_square_bracket",), "latents ] (an epoch on: its metrics row)"),
]
GAP = 0.1
"""Seconds between presses: a quick typist's pace, and time for the app to settle."""
BUDGET_MS = 100.0


def stats(times: list[float]) -> dict[str, Any]:
    times = sorted(times)
    return {
        "median_ms": statistics.median(times),
        "p90_ms": statistics.quantiles(times, n=10, method="inclusive")[-1] if len(times) > 1 else times[0],
        "max_ms": times[-1],
        "over_budget": sum(t > BUDGET_MS for t in times),
        "all_ms": [round(t, 1) for t in times],
    }


async def press_cases(app: App, clock: Clock, presses: int, busy: Any = lambda: False) -> dict[str, Any]:
    """Every case, `presses` times each after one untimed press (a tab's first press also pays
    for its first layout); `busy()` says whether the app is training at the moment of a press."""
    cases: dict[str, Any] = {}
    missed = while_busy = 0
    for case in CASES:
        send_key(app, case.tab)
        await asyncio.sleep(0.3)
        times, case_missed = [], 0
        for i in range(presses + 1):
            await asyncio.sleep(GAP)
            while_busy += bool(busy()) if i else 0
            ms = await press(app, clock, case.keys[i % len(case.keys)])
            if ms is None:
                case_missed += 1
            elif i:
                times.append(ms)
            if case.undo is not None:
                await asyncio.sleep(GAP)
                await press(app, clock, case.undo)
        missed += case_missed
        if times:
            cases[case.label] = stats(times) | {"missed": case_missed}
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
    print(f"{title} (budget {BUDGET_MS:.0f} ms)")
    print(f"{'view and key':34} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'over':>5} {'missed':>7}")
    for label, r in result["cases"].items():
        over, missed = r.get("over_budget", 0), r.get("missed", 0)
        print(f"{label:34} {r['median_ms']:10.1f} {r['p90_ms']:8.1f} {r['max_ms']:8.1f} {over:5} {missed:7}")
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
