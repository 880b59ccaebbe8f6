"""How long a key press takes to change an image view, at a given terminal size (run by hand).

    .venv/bin/python benchmarks/app_latency.py [--size 200x50] [--presses 30]

Opens a model in the app (browse mode, the reference architecture 784-256-20, random weights
unless --checkpoint is given), then for each view presses a key that changes the picture and
times it until the app is idle again (the frame is composed). Prints median and max per view.
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

from vae_tui.core.model import VAE
from vae_tui.tui.app import VaeApp
from vae_tui.tui.cli import build_parser

CASES = [  # (view tab key, key that changes the picture, label)
    ("2", "right", "reconstructions ←/→"),
    ("3", "right", "samples ←/→"),
    ("3", "n", "samples n (new z)"),
    ("4", "down", "traversal ↑/↓"),
    ("4", "right", "traversal ←/→ (new base image)"),
]


async def measure(checkpoint: str, size: tuple[int, int], presses: int) -> dict:
    app = VaeApp(build_parser().parse_args(["--checkpoint", checkpoint]))
    results = {}
    async with app.run_test(size=size) as pilot:
        while app.state.explorer is None:
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        for tab, key, label in CASES:
            await pilot.press(tab)
            await pilot.pause(0.1)
            times = []
            for _ in range(presses):
                start = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()  # until the app has processed it and composed the frame
                times.append((time.perf_counter() - start) * 1000)
            results[label] = {"median_ms": statistics.median(times), "max_ms": max(times)}
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
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            torch.manual_seed(0)
            checkpoint = str(Path(tmp) / "vae.pt")
            torch.save(VAE().state_dict(), checkpoint)
        results = asyncio.run(measure(checkpoint, (width, height), args.presses))
    print(f"Key press → frame composed, {width}x{height}, {args.presses} presses each (budget: 100 ms)")
    print(f"{'view and key':34} {'median ms':>10} {'max ms':>8}")
    for label, r in results.items():
        print(f"{label:34} {r['median_ms']:10.1f} {r['max_ms']:8.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"size": [width, height], "presses": args.presses, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
