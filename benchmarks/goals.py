"""Issue 12's five goals, each as a row: what was measured, its spread, the goal, pass or fail.

Ratios of two variants are paired by round (the two ran minutes apart at most, so a machine that
got busier slows both) and summarised by their median, with min and max beside it. A goal whose
part was not run (`--kinds`, `--skip-*`) has no row.
"""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from variants import Measurement

Comparison = tuple[Callable[[float, float], bool], str]
AT_LEAST: Comparison = (operator.ge, "≥")
AT_MOST: Comparison = (operator.le, "≤")
EVAL_RSS_LIMIT_MB = 1.5 * 1024
"""Goal 5's peak RSS, 1.5 GiB, in the MiB `peak_rss_mb` is counted in."""


def paired(ms: Sequence[Measurement], num: str, den: str, key: str) -> list[float]:
    """num / den of `key`, one ratio per round in which both ran."""
    a = {m.round: getattr(m, key) for m in ms if m.variant == num}
    b = {m.round: getattr(m, key) for m in ms if m.variant == den}
    return [a[r] / b[r] for r in sorted(a) if b.get(r)]


def row(
    goal: str, what: str, values: Sequence[float], target: float | None = None, op: Comparison = AT_MOST,
    measured: float | None = None, passed: bool | None = None, **detail: Any,
) -> dict[str, Any]:  # fmt: skip
    """One row of the table: `measured` (default: the median of `values`) against `target`."""
    middle = statistics.median(values) if measured is None else measured
    if passed is None and target is not None:
        passed = op[0](middle, target)
    return {
        "goal": goal,
        "what": what,
        "measured": middle,
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "target": None if target is None else f"{op[1]} {target:g}",
        "pass": passed,
        **detail,
    }


def ratio_row(goal: str, what: str, values: list[float], target: float | None, op: Comparison) -> list[dict]:
    return [row(goal, what, values, target, op, per_round=values)] if values else []


def speed_rows(ms: Sequence[Measurement]) -> list[dict[str, Any]]:
    """Goals 1, 2 (throughput) and 3 (seconds per floor), plus the other variants against the floor."""
    rows = ratio_row(
        "1", "default / disabled, images per second", paired(ms, "default", "disabled", "images_per_second"),
        0.95, AT_LEAST,
    )  # fmt: skip
    rows += ratio_row(
        "2", "app / default, images per second", paired(ms, "app", "default", "images_per_second"),
        0.90, AT_LEAST,
    )  # fmt: skip
    rows += ratio_row(
        "3", "default train s / matmul floor s", paired(ms, "default", "floor", "train_seconds"), 2.0, AT_MOST
    )
    others = sorted({m.variant for m in ms} - {"default", "floor"})
    for name in others:  # context, no goal of their own
        rows += ratio_row("3", f"{name} train s / matmul floor s", paired(ms, name, "floor", "train_seconds"),
                          None, AT_MOST)  # fmt: skip
    return rows


def elbo_row(ms: Sequence[Measurement]) -> list[dict[str, Any]]:
    """Goal 3's accuracy side: default against autograd, seed by seed, each within 2 standard
    errors (the larger of the two estimates')."""
    ours = {m.seed: m for m in ms if m.variant == "default"}
    autograd = {m.seed: m for m in ms if m.variant == "autograd"}
    seeds = sorted(set(ours) & set(autograd))
    if not seeds:
        return []
    diffs = {s: ours[s].test_loss - autograd[s].test_loss for s in seeds}
    bounds = {s: 2 * max(ours[s].test_loss_stderr, autograd[s].test_loss_stderr) for s in seeds}
    return [
        row(
            "3", "held-out -ELBO, default - autograd (nats)", list(diffs.values()),
            measured=max(abs(d) for d in diffs.values()), passed=all(abs(diffs[s]) <= bounds[s] for s in seeds),
            target=None, by_seed={s: {"diff": diffs[s], "two_stderr": bounds[s]} for s in seeds},
            rule="|diff| ≤ 2 stderr for every seed",
        )
    ]  # fmt: skip


def latency_rows(latency: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Goal 2's other half: key to frame at 200×50 while the app trains, every press ≤ 100 ms."""
    if not latency or not latency.get("all_ms"):
        return []
    times = latency["all_ms"]
    return [
        row(
            "2", "app key → frame while training, 200×50 (ms; pass: max)", times, 100.0, AT_MOST,
            passed=max(times) <= 100.0, p90_ms=latency.get("p90_ms"),
            presses_while_training=latency.get("presses_while_training"),
        )
    ]  # fmt: skip


def startup_rows(startup: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Goal 4: the first training batch of `vae-tui --train-only` after torch has imported."""
    if not startup or "first_batch_after_torch_s" not in startup:
        return []
    runs = startup.get("runs") or []
    rows = []
    for key, what, target in (
        ("first_batch_after_torch_s", "--train-only: first batch after torch imported (s)", 1.0),
        ("launch_to_first_batch_s", "--train-only: launch to first batch (s)", None),
    ):
        values = [r[key] for r in runs if isinstance(r, dict) and key in r] or [startup[key]]
        if key in startup:
            rows.append(row("4", what, values, target, AT_MOST, measured=startup[key]))
    return rows


def eval_rows(ev: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Goal 5: `--eval` (K = 1000, the 10,000 test images) against its own floor, and its memory."""
    if not ev or "ratio" not in ev:
        return []
    return [
        row("5", "--eval K=1000 s / its matmul floor s", [ev["ratio"]], 2.0, AT_MOST,
            seconds=ev.get("seconds"), floor_seconds=ev.get("floor_seconds")),
        row("5", "--eval peak RSS (MiB)", [ev["peak_rss_mb"]], EVAL_RSS_LIMIT_MB, AT_MOST),
    ]  # fmt: skip


def goal_rows(
    ms: Sequence[Measurement],
    latency: dict[str, Any] | None,
    startup: dict[str, Any] | None,
    ev: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Every goal row the parts that ran can fill, in the issue's order."""
    rows = speed_rows(ms) + latency_rows(latency) + elbo_row(ms) + startup_rows(startup) + eval_rows(ev)
    return sorted(rows, key=lambda r: r["goal"])  # stable: within a goal, the order above
