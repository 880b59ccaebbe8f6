"""What `make bench` prints: each variant's numbers, the goals table, and the start-up probes."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from variants import Measurement


def summarise(ms: Sequence[Measurement]) -> dict[str, dict[str, Any]]:
    """Per variant: medians (and min) over the rounds, held-out -ELBO by seed, peak RSS."""
    by: dict[str, list[Measurement]] = {}
    for m in ms:
        by.setdefault(m.variant, []).append(m)
    out = {}
    for name, group in by.items():
        train = [m.train_seconds for m in group]
        epoch = [m.epoch_seconds for m in group if m.epoch_seconds is not None]
        losses = [m for m in group if m.test_loss is not None]
        out[name] = {
            "train_seconds_min": min(train),
            "train_seconds_median": statistics.median(train),
            "epoch_seconds_median": statistics.median(epoch) if epoch else None,
            "images_per_second_median": statistics.median(m.images_per_second for m in group),
            "wall_seconds_median": statistics.median(m.wall_seconds for m in group),
            "test_loss_mean": statistics.fmean(m.test_loss for m in losses) if losses else None,
            "test_loss_by_seed": {m.seed: round(m.test_loss, 4) for m in losses},
            "test_loss_stderr": statistics.fmean(m.test_loss_stderr for m in losses) if losses else None,
            "threads": sorted({m.extra.get("threads") for m in group if m.extra.get("threads")}),
            "peak_rss_mb": max(m.peak_rss_mb for m in group),
        }
    return out


def fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def number(value: float) -> str:
    """Three decimals for a ratio or seconds, one for milliseconds and MiB."""
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"


def print_variants(summary: dict[str, dict[str, Any]]) -> None:
    head = (
        f"{'variant':<14}{'threads':>8}{'train s min':>12}{'train s med':>12}{'epoch s med':>12}"
        f"{'img/s med':>11}{'wall s med':>11}{'test -ELBO':>11}{'peak RSS MB':>12}"
    )
    print(head)
    print("-" * len(head))
    for name, r in summary.items():
        threads = ",".join(str(t) for t in r["threads"]) or "–"
        print(
            f"{name:<14}{threads:>8}{r['train_seconds_min']:>12.2f}{r['train_seconds_median']:>12.2f}"
            f"{fmt(r['epoch_seconds_median'], '.2f'):>12}{r['images_per_second_median']:>11,.0f}"
            f"{r['wall_seconds_median']:>11.2f}{fmt(r['test_loss_mean'], '.2f'):>11}{r['peak_rss_mb']:>12.0f}"
        )


def print_goals(rows: list[dict[str, Any]]) -> None:
    print("goals of issue 12 (ratios: median of per-round ratios, with min and max):")
    head = f"{'#':<3}{'what':<58}{'median':>9}{'min':>9}{'max':>9}{'n':>4}  {'goal':<8}{'result':<6}"
    print(head)
    print("-" * len(head))
    for r in rows:
        result = {True: "pass", False: "FAIL", None: "–"}[r["pass"]]
        numbers = "".join(f"{number(r[k]):>9}" for k in ("measured", "min", "max"))
        print(f"{r['goal']:<3}{r['what']:<58}{numbers}{r['n']:>4}  {r['target'] or '':<8}{result}")
        if "by_seed" in r:
            seeds = ", ".join(
                f"seed {s}: {d['diff']:+.2f} (2 se {d['two_stderr']:.2f})" for s, d in r["by_seed"].items()
            )
            print(f"{'':<3}  {seeds}")


def print_elbo(summary: dict[str, dict[str, Any]]) -> None:
    print("held-out -ELBO by seed (same seed, one epoch):")
    for name, r in summary.items():
        if r["test_loss_by_seed"]:
            seeds = ", ".join(f"{k}: {v:.2f}" for k, v in r["test_loss_by_seed"].items())
            print(f"  {name:<14} {seeds}  (stderr ≈ {r['test_loss_stderr']:.2f})")


def print_startup(startup: dict[str, Any]) -> None:
    h = startup.get("help")
    if h:
        print(
            f"`{h['command']}`: median {h['help_median']:.3f} s over {len(h['help_seconds'])} runs "
            f"(bare python {h['python_bare_median']:.3f} s, python -c 'import torch' "
            f"{h['python_import_torch_median']:.3f} s)"
        )
    p = startup.get("app")
    for failure in (p or {}).get("failures", []):
        print(f"app start-up probe problem: {failure}")
    if p and p.get("median"):
        marks = ", ".join(f"{k} {v:.3f}" for k, v in p["median"].items())
        print(f"app start-up, median seconds from probe start: {marks}")
        print(f"first frame before torch finished importing: {p['first_frame_before_torch_imported']}")
    t = startup.get("train_only") or {}
    for failure in t.get("failures", []):
        print(f"--train-only start-up probe problem: {failure}")
    if t.get("breakdown"):
        print("--train-only start-up, median seconds per step (under 5 ms left out; the JSON has all):")
        for name, seconds in t["breakdown"].items():
            if seconds >= 0.005:
                print(f"  {name:<60} {seconds:7.3f}")
