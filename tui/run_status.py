"""Where the run stands, as the status panel shows it, and the clock arithmetic behind it.

The app feeds it events (`run_started`, `batches_done`, …) and the pause keys; the panel
(`widgets/status.py`) only draws it. Elapsed time is training time: the clock stops while
paused and once training ends, and a resumed run adds the time of its earlier sessions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vae_tui.core.events import BatchEnd, Paused, RunFinished, RunStarted

from .messages import OpenedModel
from .wording import trained_for

if TYPE_CHECKING:
    from vae_tui.core.runinfo import SavedRun

RATE_WINDOW = 3.0  # seconds of batches the images/s figure averages over


def active_units_of(row: dict[str, Any] | None) -> tuple[int, int] | None:
    """(active units, latent dimensions) from an epoch row or a final evaluation, when it has
    them: rows written before the held-out pass measured them (older runs) do not."""
    units, kl = (row or {}).get("active_units"), (row or {}).get("kl_per_dim")
    if not isinstance(units, int) or isinstance(units, bool) or not isinstance(kl, list) or not kl:
        return None
    return units, len(kl)


@dataclass
class RunStatus:
    """What the status panel shows; the app updates it from events."""

    phase: str = "loading PyTorch…"
    mode: str = "train"
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    step: int = 0
    beta: float = 0.0
    images_per_second: float | None = None
    device: str = "…"
    run_dir: str = ""
    swanlab: str = ""
    train_started: float | None = None
    done_batches: int = 0
    """Batches done since this session began (for the ETA)."""
    remaining_batches: int = 0
    paused: bool = False
    paused_at: float | None = None
    paused_total: float = 0.0
    ended_at: float | None = None
    """When training finished or stopped: the clock stops there."""
    iwae_k: int = 0
    """K of the final IWAE bound, while it is being computed."""
    eval_skipped: bool = False
    """Quit while the final bound was computed: the run is complete, its bound missing."""
    last_epoch: dict[str, Any] | None = None
    """The last epoch's `metrics.jsonl` row (this session's, or the run's saved history's)."""
    final: dict[str, Any] | None = None
    message: str = ""
    prior_seconds: float = 0.0
    """Training time the run had before this session (a resumed run; a browsed run's whole)."""
    swanlab_id: str = ""
    """The SwanLab run's id, once it has started."""
    run_info: tuple[str, str] | None = None
    """Browsing: what the run was (`run`, its settings) or the model is (`model`, a bare
    state_dict's architecture)."""
    batch_size: int = 128
    """Images per batch, for the images/s figure."""
    watching: str | None = None
    """`--watch`: the trainer, in words (who, and what it last said); None when not watching."""
    _rate: list[tuple[float, int]] = field(default_factory=list, repr=False)
    """(time, step) of the last few seconds' batches."""

    # -- the clock ---------------------------------------------------------------------------
    def elapsed(self) -> float:
        """This session's training time."""
        if self.train_started is None:
            return 0.0
        now = self.ended_at or self.paused_at or time.monotonic()
        return now - self.train_started - self.paused_total

    def trained(self) -> float:
        """The run's training time, over all its sessions."""
        return self.prior_seconds + self.elapsed()

    def eta(self) -> float | None:
        if not self.done_batches or self.phase != "training":
            return None
        return self.elapsed() / self.done_batches * self.remaining_batches

    def pause(self) -> None:
        self.paused, self.paused_at = True, time.monotonic()
        self._rate.clear()  # a rate across the pause would read low

    def resume(self) -> None:
        if self.paused_at is not None:
            self.paused_total += time.monotonic() - self.paused_at
        self.paused, self.paused_at = False, None
        self._rate.clear()

    def sync_pause(self, paused: bool) -> None:
        """Follow a pause or resume asked for from elsewhere (a watcher's request)."""
        if paused != self.paused:
            self.pause() if paused else self.resume()

    def stop_clock(self) -> None:
        """Elapsed time is training time: it stops when training does, paused or not."""
        now = time.monotonic()
        if self.paused_at is not None:
            self.paused_total += now - self.paused_at
        self.paused, self.paused_at = False, None
        if self.ended_at is None:
            self.ended_at = now

    def active_units(self) -> tuple[int, int] | None:
        """(active units, latent dimensions) of the last epoch, when its row has them."""
        return active_units_of(self.last_epoch)

    # -- what the run says -------------------------------------------------------------------
    def resuming(self, saved: SavedRun, run_dir: str) -> None:
        """`--resume`'s first frame: the saved position, read before torch has loaded."""
        self.run_dir, self.swanlab, self.prior_seconds = run_dir, saved.swanlab, saved.seconds
        self.epochs, self.batches, self.step, self.beta = saved.epochs, saved.batches, saved.step, saved.beta
        self.epoch = min(saved.epochs_done + 1, saved.epochs)
        self.batch = saved.batch

    def run_started(self, e: RunStarted, beta: float) -> None:
        """Where it starts: a resumed run at its saved step, in the epoch after those done."""
        self.device, self.run_dir, self.swanlab = e.device, e.run_dir, e.config["swanlab"]
        self.epochs, self.batches, self.phase = e.config["epochs"], e.batches_per_epoch, "training"
        self.epoch = min(e.start_epoch + 1, self.epochs)
        self.batch, self.step, self.beta = e.start_batch, e.start_step, beta
        if e.start_epoch >= self.epochs:  # nothing left (a finished run, watched): it stands at its end
            self.batch = self.batches
        self.remaining_batches = (self.epochs - e.start_epoch) * e.batches_per_epoch - e.start_batch
        self.batch_size = e.config.get("batch_size", 128)

    def batches_done(self, batches: Sequence[BatchEnd]) -> None:
        """Progress, the ETA's counts, and images/s over the last few seconds."""
        last = batches[-1]
        if self.train_started is None:
            self.train_started = time.monotonic()
        self.phase = "training"
        self.epoch, self.epochs, self.batch, self.batches, self.step, self.beta = (
            last.epoch, last.epochs, last.batch, last.batches, last.step, last.beta,
        )  # fmt: skip
        self.done_batches += len(batches)
        self.remaining_batches = (last.epochs - last.epoch) * last.batches + (last.batches - last.batch)
        now = time.monotonic()
        self._rate.append((now, last.step))
        self._rate = [(t, st) for t, st in self._rate if now - t <= RATE_WINDOW]
        if len(self._rate) > 1 and not self.paused:
            (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
            if t1 > t0:
                self.images_per_second = (s1 - s0) * self.batch_size / (t1 - t0)

    def paused_where(self, e: Paused) -> None:
        """Exact while the loop waits (the last `Batches` may be older)."""
        self.step, self.batch, self.epoch, self.beta = e.step, e.batch, e.epoch, e.beta

    def evaluating(self, iwae_k: int) -> None:
        """The last epoch is saved; the final IWAE bound is computed now (no batches, no ETA)."""
        self.phase, self.iwae_k = "evaluating", iwae_k
        self.stop_clock()

    def run_finished(self, e: RunFinished) -> None:
        self.eval_skipped = self.phase == "evaluating" and self.final is None
        self.phase = "finished" if e.status == "completed" else "stopped"
        self.stop_clock()

    def browsing(self, m: OpenedModel, path: str) -> None:
        """`--checkpoint`: what the model is, how far it was trained, and on what."""
        epochs = trained_for(m.epoch, m.batch) if m.epoch is not None else "reference state_dict"
        self.run_dir, self.message = path, f"{epochs} · {m.dataset} test set"
        self.device, self.swanlab, self.phase = "cpu", "not tracking", "browsing"
        self.run_info, self.final = m.run_info, m.final
        if m.history is not None:
            self.prior_seconds = m.seconds

    def worker_ended(self) -> None:
        """However the worker ended (an error included), the run is over."""
        if self.phase not in ("finished", "stopped"):
            self.phase = "stopped"
        self.stop_clock()
