"""Held-out quality of each `--kl-anneal` schedule at the reference's 50 epochs, seeds 0–2.

Run by hand: `.venv/bin/python benchmarks/kl_schedules.py --runs runs/kl [--train]`.
With `--train` it first trains every missing run, one after another (never in parallel: each
takes both cores), as `vae-tui --train-only --kl-anneal S --seed N --run-dir RUNS/S-sN`; about
1.5 minutes each on an idle 2-core machine. It then reads each run's final row in
metrics.jsonl (held-out −ELBO and the IWAE bound with K = 100, which every run computes at its
end) and prints the README's table: mean ± standard deviation over the seeds, and each seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

SCHEDULES = ("linear", "warmup", "cyclical")
SEEDS = (0, 1, 2)


def run_dir(runs: Path, schedule: str, seed: int) -> Path:
    return runs / f"{schedule}-s{seed}"


def final_row(folder: Path) -> dict | None:
    """The run's end-of-training evaluation (the last `final` row), or None if it has none."""
    try:
        lines = (folder / "metrics.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return None
    rows = [json.loads(line) for line in lines if line.startswith('{"kind": "final"')]
    return rows[-1] if rows else None


def train_missing(runs: Path) -> None:
    for seed in SEEDS:
        for schedule in SCHEDULES:
            folder = run_dir(runs, schedule, seed)
            if final_row(folder) is not None:
                continue
            print(f"training {folder}", flush=True)
            command = ["vae-tui", "--train-only", "--kl-anneal", schedule, "--seed", str(seed)]
            subprocess.run([*command, "--run-dir", str(folder)], check=True, stdout=subprocess.DEVNULL)


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else "–"


def table(runs: Path) -> str:
    lines = [
        "| `--kl-anneal` | held-out −ELBO | IWAE bound (K = 100) | active units | each seed's −ELBO / IWAE |",
        "| --- | --- | --- | --- | --- |",
    ]
    for schedule in SCHEDULES:
        finals = [(s, final_row(run_dir(runs, schedule, s))) for s in SEEDS]
        done = [(s, f) for s, f in finals if f is not None]
        elbo = [f["neg_elbo"] for _, f in done]
        iwae = [f["iwae_nll"] for _, f in done if "iwae_nll" in f]
        units = sorted({f"{f.get('active_units', '–')}" for _, f in done})
        seeds = "; ".join(
            f"{s}: {f['neg_elbo']:.2f} / {f.get('iwae_nll', float('nan')):.2f}" for s, f in done
        )
        lines.append(f"| {schedule} | {spread(elbo)} | {spread(iwae)} | {', '.join(units)} | {seeds} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/kl"), help="folder of the nine runs")
    parser.add_argument("--train", action="store_true", help="train the runs that are missing first")
    args = parser.parse_args()
    if args.train:
        train_missing(args.runs)
    print(table(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
