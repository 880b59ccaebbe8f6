"""`make bench`: issue 12's five goals, measured side by side in one run, in one table.

Run by hand (`make bench`, or `.venv/bin/python benchmarks/train_speed.py --help`); pytest never
collects it. Timings on a shared machine: run it alone (`flock /tmp/bench.lock make bench`).

Each round trains one full MNIST epoch of every variant (`variants.py`: `disabled`, `default`,
`autograd`, `app`, `reference`) and times the epoch's matmul floor (`flop_floor.py`) beside
them, in an order that rotates from round to round; round r uses seed --seed + r. Each goal's
ratio is the median of the per-round ratios (min and max beside it):

1. default / disabled images per second (tracking is free), ≥ 0.95;
2. app / default images per second, ≥ 0.90; and key-to-frame latency at 200×50 while the app
   trains (`app_latency.py`, once per run), every press ≤ 100 ms;
3. default train seconds / floor seconds, ≤ 2.0 (the other variants as context), and the
   held-out -ELBO of default against autograd within 2 standard errors, seed by seed;
4. `--train-only`'s first batch ≤ 1.0 s after torch has imported (`startup_probe.py`), beside
   `vae-tui --help` and the app's first frame (`startup_times.py`);
5. `--eval` (K = 1000, 10,000 test images) / its own matmul floor ≤ 2.0, peak RSS ≤ 1.5 GiB
   (`iwae_speed.measure_eval`).

A part whose module is not there yet is skipped and said so. The JSON (default
benchmarks/results/train_speed.json) holds the goals table under "goals", every measurement,
the machine and its load average.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import report
from goals import goal_rows
from machine import loadavg_1min, machine_info, max_rss_bytes
from mnist_files import REPO, prepare_mnist
from startup_times import app_probes, help_times
from variants import KINDS, Measurement, Settings, measure, plan_variants, rotated, step_available

DEFAULT_OUT = REPO / "benchmarks" / "results" / "train_speed.json"
PARTS = ("latency", "startup", "eval")
"""The parts measured once per run, beside the rounds' variants; `--kinds` and `--skip-*` pick."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--train-limit", type=int, default=None, help="first N training images (default all)")
    p.add_argument("--test-limit", type=int, default=None, help="first N test images (default all)")
    p.add_argument("--seed", type=int, default=0, help="round r uses seed + r (default 0)")
    p.add_argument(
        "--kl-anneal", choices=("none", "linear"), default="none",
        help="none (default): β = 1, so the held-out -ELBO is meaningful after one epoch; "
        "linear: β = 0 in a 1-epoch run, as the reference's first epoch",
    )  # fmt: skip
    p.add_argument(
        "--kinds", default=",".join(KINDS + PARTS),
        help=f"what to run, comma-separated (default all: {','.join(KINDS + PARTS)})",
    )  # fmt: skip
    p.add_argument("--threads", default="", help="also run `default` at these torch thread counts (e.g. 1,2)")
    for part in PARTS:
        p.add_argument(f"--skip-{part}", action="store_true", help=f"leave out the {part} part")
    p.add_argument("--startup-runs", type=int, default=5, help="fresh processes per start-up number")
    p.add_argument("--presses", type=int, default=20, help="timed presses per latency case (default 20)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before an app run gives up")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be ≥ 1")
    args.kinds = {k.strip() for k in args.kinds.split(",") if k.strip()}
    args.kinds -= {part for part in PARTS if getattr(args, f"skip_{part}")}
    unknown = args.kinds - set(KINDS + PARTS)
    if unknown:
        p.error(f"unknown --kinds {', '.join(sorted(unknown))} (known: {', '.join(KINDS + PARTS)})")
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    return args


def optional(module: str, function: str) -> Callable[..., Any] | None:
    """`module.function` if a helper has written it (benchmarks/ is on sys.path), else None."""
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), function, None)


def measure_startup(args: argparse.Namespace, data_root: Path, work: Path, skipped: dict) -> dict[str, Any]:
    """Fresh processes: `vae-tui --help`, the app's first frame, and `--train-only`'s first batch."""
    print("start-up: vae-tui --help, the app's first frame and --train-only in fresh processes…", flush=True)
    startup: dict[str, Any] = {"help": help_times(args.startup_runs)}
    startup["app"] = app_probes(args.startup_runs, data_root, work)
    train_only = optional("startup_probe", "measure_startup")
    if train_only is None:
        skipped["startup (--train-only first batch)"] = "benchmarks/startup_probe.py has no measure_startup"
    else:  # no --data-dir: the default run's own data path (a private per-user cache under `work`)
        env = dict(os.environ)
        try:
            startup["train_only"] = train_only(args.startup_runs, None, work / "train-only")
        finally:
            os.environ.clear()
            os.environ.update(env)
    return startup


def run_rounds(args: argparse.Namespace, settings: Settings, skipped: dict) -> list[Measurement]:
    kinds = [k for k in KINDS if k in args.kinds]
    if "autograd" in kinds and not step_available():
        skipped["autograd"] = "TrainConfig has no `step` field yet"
    variants = plan_variants(kinds, args.threads)
    if not variants:
        return []
    print(
        f"{len(variants)} variants × {args.rounds} rounds: {', '.join(v.name for v in variants)}", flush=True
    )
    with contextlib.redirect_stdout(sys.stderr):  # load everything once before timing, untimed
        import swanlab  # noqa: F401

        from vae_tui.tui import app  # noqa: F401
    measurements = []
    for r in range(args.rounds):
        for v in rotated(variants, r):
            m = measure(v, settings, r, args.seed + r)
            measurements.append(m)
            loss = f"test -ELBO {m.test_loss:.2f}" if m.test_loss is not None else " " * 16
            print(
                f"round {r + 1}/{args.rounds} {m.variant:<12} threads {m.extra.get('threads') or '–'!s:>2}  "
                f"train {m.train_seconds:6.2f} s  {m.images_per_second:9,.0f} img/s  "
                f"wall {m.wall_seconds:6.2f} s  {loss}  load {m.extra['loadavg_1min'][1]:.2f}",
                flush=True,
            )
    return measurements


def measure_latency(args: argparse.Namespace, data_root: Path, work: Path) -> dict[str, Any]:
    from app_latency import print_latency
    from app_run import in_fresh_process

    print("key-to-frame latency while the app trains (200×50)…", flush=True)
    result = in_fresh_process(
        "app_latency", "measure_while_training", data_root=data_root, work=work, presses=args.presses, train_limit=args.train_limit, test_limit=args.test_limit,
        timeout=args.timeout,
    )  # fmt: skip
    print_latency(f"key → frame while training, {args.presses} presses each", result)
    return result


def measure_eval(data_root: Path, work: Path, skipped: dict) -> dict[str, Any] | None:
    function = optional("iwae_speed", "measure_eval")
    if function is None:
        skipped["eval"] = "benchmarks/iwae_speed.py has no measure_eval"
        return None
    print("--eval (K = 1000, 10,000 test images) against its floor…", flush=True)
    return function(data_root, work)


def run_parts(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every part asked for, in an order that keeps the fresh-process ones first."""
    data_root = prepare_mnist(work / "data")
    os.environ.setdefault("VAE_TUI_NO_DOWNLOAD", "1")
    skipped: dict[str, str] = {}
    out: dict[str, Any] = {"skipped": skipped, "startup": None, "latency": None, "eval": None}
    if "startup" in args.kinds:
        out["startup"] = measure_startup(args, data_root, work, skipped)
    settings = Settings(data_root, work, args.train_limit, args.test_limit, args.kl_anneal, args.timeout)
    out["measurements"] = run_rounds(args, settings, skipped)
    if "latency" in args.kinds:
        out["latency"] = measure_latency(args, data_root, work)
    if "eval" in args.kinds:
        out["eval"] = measure_eval(data_root, work, skipped)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()  # its load average: the machine as the benchmark found it
    work = Path(tempfile.mkdtemp(prefix="vae-tui-bench-"))
    try:
        parts = run_parts(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ms = parts["measurements"]
    startup = parts["startup"] or {}
    goals = goal_rows(ms, parts["latency"], startup.get("train_only"), parts["eval"])
    summary = report.summarise(ms)
    print()
    if summary:
        report.print_variants(summary)
        print()
        report.print_elbo(summary)
        print()
    if startup:
        report.print_startup(startup)
        print()
    report.print_goals(goals)
    for name, why in parts["skipped"].items():
        print(f"skipped: {name} ({why})")
    result = {
        "goals": goals,
        "machine": machine,
        "settings": {
            "rounds": args.rounds,
            "train_limit": args.train_limit,
            "test_limit": args.test_limit,
            "batch_size": 128,
            "architecture": "784-256-20",
            "kl_anneal": args.kl_anneal,
            "seeds": [args.seed + r for r in range(args.rounds)],
            "kinds": sorted(args.kinds),
        },
        "summary": summary,
        "latency": parts["latency"],
        "startup": startup,
        "eval": parts["eval"],
        "skipped": parts["skipped"],
        "measurements": [m.__dict__ for m in ms],
        "peak_rss_mb_process": max_rss_bytes() / 2**20,
        "loadavg_1min_end": loadavg_1min(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
