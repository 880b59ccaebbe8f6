"""How long a key press takes to change an image view, at a given terminal size (run by hand).

    .venv/bin/python benchmarks/app_latency.py [--size 200x50] [--presses 30] [--checkpoint PATH]

Opens a model in the app (browse mode; the reference architecture 784-256-20 with random
weights unless --checkpoint is given) and, for each view, presses a key that changes the
picture. The latency is measured inside the app, from the moment the key reaches the app's
bindings to the end of the first screen composition after the view rebuilt its picture: the
time a user waits. (Pilot's own waits for CPU idle, 20 ms sleeps, are not counted.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from textual.app import App
from textual.screen import Screen

from vae_tui.core.model import VAE
from vae_tui.tui.app import make_app
from vae_tui.tui.cli import parse_request
from vae_tui.tui.widgets.views import ImageView

CASES = [  # (tab key, key that changes the picture, label)
    ("2", "right", "reconstructions ←/→"),
    ("3", "right", "samples ←/→"),
    ("3", "n", "samples n (new z)"),
    ("4", "down", "traversal ↑/↓"),
    ("4", "right", "traversal ←/→ (new base image)"),
]


class Clock:
    """Timestamps of key dispatch, view rebuilds and screen compositions."""

    def __init__(self) -> None:
        self.key = 0.0
        self.view_done = 0.0
        self.frames: list[float] = []

    def install(self) -> None:
        clock = self
        check_bindings = App._check_bindings
        update_view = ImageView.update_view
        compositor_refresh = Screen._compositor_refresh

        async def timed_bindings(app, key, priority=False):
            if not priority:
                clock.key = time.perf_counter()
            return await check_bindings(app, key, priority)

        def timed_update(view, force=False):
            result = update_view(view, force)
            clock.view_done = time.perf_counter()
            return result

        def timed_refresh(screen):
            result = compositor_refresh(screen)
            clock.frames.append(time.perf_counter())
            return result

        App._check_bindings = timed_bindings
        ImageView.update_view = timed_update
        Screen._compositor_refresh = timed_refresh


async def measure(checkpoint: str, size: tuple[int, int], presses: int, clock: Clock) -> dict:
    app = make_app(parse_request(["--checkpoint", checkpoint]))
    results = {}
    async with app.run_test(size=size) as pilot:
        while app.state.decoder is None:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        for tab, key, label in CASES:
            await pilot.press(tab)
            await pilot.pause(0.2)
            times = []
            for i in range(presses + 1):
                clock.frames.clear()
                await pilot.press(key)
                await pilot.pause(0.05)
                frame = next(t for t in clock.frames if t >= clock.view_done)
                if i:  # the first press after a tab switch also pays for the tab's first layout
                    times.append((frame - clock.key) * 1000)
                else:
                    first = (frame - clock.key) * 1000
            times.sort()
            results[label] = {
                "median_ms": statistics.median(times),
                "p90_ms": times[int(0.9 * (len(times) - 1))],
                "max_ms": times[-1],
                "first_press_ms": first,
                "all_ms": [round(t, 1) for t in times],
            }
        await pilot.press("q")
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="200x50")
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--checkpoint")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "app_latency.json")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    clock = Clock()
    clock.install()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            torch.manual_seed(0)
            checkpoint = str(Path(tmp) / "vae.pt")
            torch.save(VAE().state_dict(), checkpoint)
        results = asyncio.run(measure(checkpoint, (width, height), args.presses, clock))
    print(
        f"Key press → view rebuilt → frame composed, {width}x{height}, {args.presses} presses each (budget 100 ms)"
    )
    print(f"{'view and key':34} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}")
    for label, r in results.items():
        print(f"{label:34} {r['median_ms']:10.1f} {r['p90_ms']:8.1f} {r['max_ms']:8.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    record = {"size": [width, height], "presses": args.presses, "results": results}
    args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
