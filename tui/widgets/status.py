"""The status panel: where training is, how fast, and where its outputs go."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from .text_line import TextLines


def clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def fit_path(path: str, cells: int) -> str:
    """Keep a path's tail (the file and its folders) when it must shrink: the start of a long
    absolute path says the least, and what follows it on the line must stay visible."""
    cells = max(cells, 8)
    if len(path) <= cells:
        return path
    tail = path[-(cells - 1) :]
    cut = tail.find("/")
    if 0 <= cut < len(tail) - 1:
        tail = tail[cut:]
    return "…" + tail


def bar(fraction: float, width: int) -> Text:
    filled = max(0, min(width, round(fraction * width)))
    return Text("━" * filled, style="green") + Text("━" * (width - filled), style="grey30")


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
    started: float = field(default_factory=time.monotonic)
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
    last_epoch: dict[str, float] | None = None
    final: dict[str, Any] | None = None
    message: str = ""

    def elapsed(self) -> float:
        if self.train_started is None:
            return 0.0
        now = self.ended_at or self.paused_at or time.monotonic()
        return now - self.train_started - self.paused_total

    def eta(self) -> float | None:
        if not self.done_batches or self.phase != "training":
            return None
        return self.elapsed() / self.done_batches * self.remaining_batches


def final_numbers(f: dict[str, Any], elapsed: float, room: int) -> Text:
    """The end-of-run evaluation on the first status row (a row of its own would take the image
    views' last rows at 80×24); the training time follows where it fits."""
    text = Text.assemble(("final ", "dim"), f"−ELBO {f['neg_elbo']:.2f}")
    if "iwae_nll" in f:
        text.append(f"  IWAE(K={f['iwae_k']}) {f['iwae_nll']:.2f}")
    text.append(f"  active units {f['active_units']}/{len(f['kl_per_dim'])}")
    took = Text.assemble(("  trained ", "dim"), clock(elapsed))
    return text + took if text.cell_len + took.cell_len <= room else text


class StatusPanel(TextLines):
    DEFAULT_CSS = """
    StatusPanel { padding: 0 1; background: $boost; }
    """

    def show(self, s: RunStatus) -> None:
        width = max(10, self.size.width - 2)
        rows: list[Text] = []
        if s.mode == "browse":
            head = Text.assemble(("Browsing ", "bold"), f"{s.message} · ")
            rows.append(head + Text(fit_path(s.run_dir, width - head.cell_len), style="cyan"))
        else:
            phase = "paused" if s.paused else s.phase
            style = {
                "training": "bold green",
                "paused": "bold yellow",
                "finished": "bold cyan",
                "evaluating": "bold magenta",
            }.get(phase, "bold")
            fraction = s.batch / s.batches if s.batches else 0.0
            head = Text.assemble(
                (f"{phase.upper()} ", style),
                f"epoch {s.epoch}/{s.epochs} " if s.epochs else "epoch – ",  # – until the run is planned
            )
            if s.final:  # the run is over: its headline numbers replace the progress bar and ETA
                rows.append(head + final_numbers(s.final, s.elapsed(), width - head.cell_len))
            elif phase == "evaluating":  # seconds to minutes with no batches to show for it
                rows.append(head + Text(f"computing the final IWAE bound (K={s.iwae_k})…  q skips it"))
            else:
                rest = Text(
                    f" {fraction:4.0%}  step {s.step}  β {s.beta:.2f}  "
                    f"{(s.images_per_second or 0):,.0f} img/s  "
                    f"elapsed {clock(s.elapsed())}  ETA {clock(s.eta())}"
                )
                bar_width = max(5, min(30, width - head.cell_len - rest.cell_len))
                rows.append(head + bar(fraction, bar_width) + rest)
        if s.mode != "browse":
            fixed = Text.assemble(
                ("device ", "dim"), s.device, ("  SwanLab ", "dim"), s.swanlab or "–", ("  run ", "dim")
            )  # fmt: skip
            run_dir = fit_path(s.run_dir or "–", width - fixed.cell_len)
            rows.append(fixed + Text(run_dir, style="cyan"))
        if s.last_epoch:
            e = s.last_epoch
            summary = Text.assemble(
                ("last epoch ", "dim"),
                f"loss {e['loss']:.2f}  BCE {e['bce']:.2f}  KLD {e['kld']:.2f}",
                ("  held-out −ELBO ", "dim"),
                f"{e['test_loss']:.2f}",
            )
            rows.append(summary)
        if s.message and s.mode != "browse":
            rows.append(Text(s.message, style="yellow"))
        self.set(Text("\n").join(rows))
