"""What one round of the benchmark runs, and how one of them is measured.

- `disabled`: `TrainingRun` (the wiring `--train-only` uses) with `--swanlab disabled`, at the
  threads it picks itself (`threads.training_threads`), as `--train-only` would;
- `default`: the same with the defaults (SwanLab offline): the run a user gets;
- `autograd`: `default` with `TrainConfig(step="autograd")` (torch's autograd, not the fused step);
- `default@N`: `default` at N torch threads (asked for with `--threads`);
- `app`: `vae-tui` with the defaults, in a fresh process on a 200×50 pty (`app_terminal.py`),
  at the threads it picks itself;
- `reference`: the textbook loop (`reference_loop.py`), at torch's default threads;
- `floor`: the matmul floor of the same epoch (`flop_floor.epoch_floor`), measured beside them.

Ours take their training time from their `EpochEnd` (images / images_per_second), so data
loading, the per-epoch held-out evaluation and preview images are out of it (`epoch s` has
them). Every variant of a round trains the same architecture with the same seed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app_terminal import run_app
from machine import RssSampler, loadavg_1min
from mnist_files import TRAIN_SIZE
from reference_loop import run_reference

KINDS = ("disabled", "default", "autograd", "app", "reference", "floor")
"""Every kind of variant, in a round's starting order; `--kinds` picks among them."""


@dataclass
class Settings:
    data_root: Path
    work: Path
    train_limit: int | None
    test_limit: int | None
    kl_anneal: str
    timeout: float

    @property
    def train_size(self) -> int:
        return min(self.train_limit or TRAIN_SIZE, TRAIN_SIZE)


@dataclass(frozen=True)
class Variant:
    kind: str
    threads: int | None = None
    """Torch threads forced on ours (`default@N`); None: the variant's own choice."""

    @property
    def name(self) -> str:
        return self.kind if self.threads is None else f"{self.kind}@{self.threads}"


@dataclass
class Measurement:
    variant: str
    round: int
    seed: int
    train_seconds: float
    epoch_seconds: float | None
    images_per_second: float
    wall_seconds: float
    test_loss: float | None
    test_loss_stderr: float | None
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)


def step_available() -> bool:
    """Whether `TrainConfig` has the `step` field (fused or autograd) the `autograd` variant sets."""
    from vae_tui.core.config import TrainConfig

    return "step" in TrainConfig.__dataclass_fields__


def our_config(s: Settings, seed: int, run_dir: Path, **overrides: Any) -> Any:
    """A one-epoch run of the defaults, but for what the benchmark fixes (no final IWAE
    evaluation, the CPU, the data) and `overrides`."""
    from vae_tui.core.config import TrainConfig

    return TrainConfig(
        epochs=1, seed=seed, kl_anneal=s.kl_anneal, iwae_k=0, device="cpu", data_dir=str(s.data_root),
        train_limit=s.train_limit, test_limit=s.test_limit, run_dir=str(run_dir), **overrides,
    )  # fmt: skip


def run_ours(config: Any, threads: int | None) -> dict[str, Any]:
    """One run through `TrainingRun`, as `--train-only` drives it (minus its printer)."""
    from vae_tui.core.events import EpochEnd, RunStarted
    from vae_tui.core.run import RunPlan, TrainingRun

    wall = time.perf_counter()
    run = TrainingRun(RunPlan(config)) if threads is None else TrainingRun(RunPlan(config), threads=threads)
    rows: list[dict[str, Any]] = []
    train_size = TRAIN_SIZE

    class Collect:
        def handle(self, event: Any) -> None:
            nonlocal train_size
            if isinstance(event, RunStarted):
                train_size = event.train_size
            elif isinstance(event, EpochEnd):
                rows.append(event.metrics())

        def close(self, state: str) -> None:
            pass

    run.drive(before=[Collect()])
    last = rows[-1]
    return {
        "train_seconds": train_size / last["images_per_second"],
        "epoch_seconds": last["seconds"],
        "images_per_second": last["images_per_second"],
        "wall_seconds": time.perf_counter() - wall,
        "test_loss": last["test_loss"],
        "test_loss_stderr": last["test_loss_stderr"],
        "extra": {"threads": run.threads, "train_loss": last["loss"]},
    }


def run_floor(s: Settings) -> dict[str, Any]:
    """The matmul floor of this epoch (its 14 products per step at their shapes), at torch's
    threads as they are (one per core)."""
    import torch
    from flop_floor import epoch_floor

    start = time.perf_counter()
    floor = epoch_floor(s.train_size)
    return {
        "train_seconds": floor["seconds"],
        "epoch_seconds": None,
        "images_per_second": s.train_size / floor["seconds"],
        "wall_seconds": time.perf_counter() - start,
        "test_loss": None,
        "test_loss_stderr": None,
        "extra": {**floor, "threads": torch.get_num_threads()},
    }


def run_variant(v: Variant, s: Settings, seed: int, run_dir: Path) -> dict[str, Any]:
    if v.kind == "reference":
        from vae_tui.core.config import TrainConfig
        from vae_tui.core.schedules import kl_weight

        beta = kl_weight(0, TrainConfig(epochs=1, kl_anneal=s.kl_anneal))
        return run_reference(s.data_root, s.train_limit, s.test_limit, seed, beta)
    if v.kind == "floor":
        return run_floor(s)
    if v.kind == "app":
        return run_app(
            data_root=s.data_root, run_dir=run_dir, seed=seed, kl_anneal=s.kl_anneal,
            train_limit=s.train_limit, test_limit=s.test_limit, timeout=s.timeout,
        )  # fmt: skip
    overrides = {
        "disabled": {"swanlab": "disabled"},
        "default": {},
        "autograd": {"step": "autograd"},
    }[v.kind]
    return run_ours(our_config(s, seed, run_dir, **overrides), v.threads)


def measure(v: Variant, s: Settings, round_index: int, seed: int) -> Measurement:
    """Run `v` once, with torch's thread count put back after it (a run sets it process-wide)."""
    import torch

    threads_before = torch.get_num_threads()
    run_dir = Path(tempfile.mkdtemp(prefix=f"{v.kind}-", dir=s.work))
    load_before = loadavg_1min()
    try:
        with RssSampler() as rss:
            result = run_variant(v, s, seed, run_dir)
    finally:
        torch.set_num_threads(threads_before)
        shutil.rmtree(run_dir, ignore_errors=True)
    # The 1-minute load average around the variant: other processes on the machine show here.
    result["extra"]["loadavg_1min"] = [load_before, loadavg_1min()]
    peak = result["extra"].pop("peak_rss_mb", None) or rss.peak / 2**20  # a child's own, if it ran in one
    return Measurement(variant=v.name, round=round_index, seed=seed, peak_rss_mb=peak, **result)


def plan_variants(kinds: list[str], threads: list[int]) -> list[Variant]:
    """The variants of a round, in their starting order; `autograd` only once `TrainConfig`
    has the `step` field."""
    chosen = [k for k in KINDS if k in kinds and (k != "autograd" or step_available())]
    variants = [Variant(k) for k in chosen]
    return variants + [Variant("default", t) for t in threads]


def rotated(variants: list[Variant], round_index: int) -> list[Variant]:
    """This round's order: rotated by the round, reversed every other one, so a machine that
    gets busier or quieter during the benchmark affects every variant alike."""
    shift = round_index % len(variants)
    order = variants[shift:] + variants[:shift]
    return order[::-1] if round_index % 2 else order
