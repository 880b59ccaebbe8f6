"""The status panel: where training is, how fast, and where its outputs go (`RunStatus`, drawn)."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text

from ..run_status import RunStatus, active_units_of
from .text_lines import TextLines


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


def fit(parts: list[Text], room: int) -> Text:
    """`parts[0]` and as many of the following parts, in order, as fit in `room` cells."""
    text = parts[0].copy()
    for part in parts[1:]:
        if text.cell_len + part.cell_len > room:
            break
        text.append_text(part)
    return text


def time_parts(s: RunStatus, label: str) -> list[Text]:
    """The run's training time and, for a resumed run, this session's share (as it fits)."""
    total = Text.assemble((f"  {label} ", "dim"), clock(s.trained()))
    if s.prior_seconds <= 0 or s.train_started is None:
        return [total]
    return [total, Text(f" ({clock(s.elapsed())} this session)", style="dim")]


def final_numbers(f: dict[str, Any], with_units: bool = True) -> Text:
    """The end-of-run evaluation, on the first status row of a finished run (a row of its own
    would take the image views' last rows at 80×24); its active units unless `with_units` is
    False (the last epoch's row says them where this one has no room)."""
    text = Text.assemble(("final ", "dim"), f"−ELBO {f['neg_elbo']:.2f}")
    if "iwae_nll" in f:
        text.append(f"  IWAE(K={f['iwae_k']}) {f['iwae_nll']:.2f}")
    if not with_units:
        return text
    units = f.get("kl_per_dim")
    text.append(f"  active units {f['active_units']}" + (f"/{len(units)}" if units else ""))
    return text


def epoch_summary(e: dict[str, Any], room: int, units: tuple[int, int] | None = None) -> Text:
    """The last epoch like with like: the training −ELBO (BCE + KLD, β = 1) beside the held-out
    one. The reference's loss weights the KLD by β, which rises during training (a student read
    its rise as overfitting, and epoch 1's 206 beside a held-out 330 as a generalisation gap): it
    comes last, said to be at β, where it fits. `units`, the held-out active units of the latent
    dimensions, follow the held-out −ELBO. Parts keep their order and are dropped least useful
    first: the loss at β, the BCE + KLD split (the loss plot has both), the active units."""
    train = e["bce"] + e["kld"]
    parts = {
        "head": Text.assemble(("last epoch  ", "dim"), "−ELBO ", ("train ", "dim"), f"{train:.2f}"),
        "split": Text.assemble((" = BCE ", "dim"), f"{e['bce']:.2f}", (" + KLD ", "dim"), f"{e['kld']:.2f}"),
        "held-out": Text.assemble(("  held-out ", "dim"), f"{e['test_loss']:.2f}"),
        "units": Text.assemble(("  active units ", "dim"), f"{units[0]}/{units[1]}") if units else Text(""),
    }
    if "beta" in e and "loss" in e:
        parts["weighted"] = Text.assemble((f"  · loss at β {e['beta']:.2f}: ", "dim"), f"{e['loss']:.2f}")
    shown = list(parts)
    for drop in ("weighted", "split", "units"):
        if sum(parts[k].cell_len for k in shown) <= room:
            break
        if drop in shown:
            shown.remove(drop)
    return Text("").join(parts[k] for k in shown)


class StatusPanel(TextLines):
    DEFAULT_CSS = """
    StatusPanel { padding: 0 1; background: $boost; }
    """

    shown: RunStatus | None = None

    def on_resize(self) -> None:
        if self.shown is not None:  # what fits has changed (the first show comes before layout)
            self.show(self.shown)

    def show(self, s: RunStatus) -> None:
        self.shown = s
        # Before the first layout it has no width yet; it spans the screen's.
        width = max(10, (self.size.width or self.app.size.width) - 2)
        rows: list[Text] = []
        if s.mode == "browse":
            head = Text.assemble(("Browsing ", "bold"), f"{s.message} · ")
            rows.append(head + Text(fit_path(s.run_dir, width - head.cell_len), style="cyan"))
            if s.run_info:
                info = [Text.assemble((f"{s.run_info[0]} ", "dim"), s.run_info[1])]
                rows.append(fit(info + time_parts(s, "trained") if s.prior_seconds else info, width))
            if s.final:
                rows.append(final_numbers(s.final))
            # Below 30 rows the image views need the row more than the final epoch's numbers.
            if s.last_epoch and (not s.final or self.app.size.height >= 30):
                rows.append(epoch_summary(s.last_epoch, width, None if s.final else s.active_units()))
        else:
            phase = "paused" if s.paused else s.phase
            style = {
                "training": "bold green",
                "paused": "bold yellow",
                "finished": "bold cyan",
                "evaluating": "bold magenta",
                "gone": "bold red",
                "stopping": "bold yellow",
            }.get(phase, "bold")
            head = Text.assemble(
                ("WATCHING ", "bold blue") if s.watching is not None else "",
                (f"{phase.upper()} ", style),
                f"epoch {s.epoch}/{s.epochs} " if s.epochs else "epoch – ",  # – until the run is planned
            )
            time_left_out: list[Text] = []
            units = None if s.final else s.active_units()  # a finished run's final row says them
            if s.final:  # the run is over: its headline numbers replace the progress bar and ETA
                numbers = head + final_numbers(s.final)
                if numbers.cell_len > width and s.last_epoch and active_units_of(s.final):  # cut: moved down
                    numbers, units = head + final_numbers(s.final, False), active_units_of(s.final)
                rows.append(fit([numbers, *time_parts(s, "trained")], width))
                if rows[-1].cell_len == numbers.cell_len:  # no room: the next row says it
                    time_left_out = time_parts(s, "trained")[:1]
            elif phase == "evaluating":  # seconds to minutes with no batches to show for it
                rows.append(head + Text(f"computing the final IWAE bound (K={s.iwae_k})…  q skips it"))
            else:
                rows.append(self.progress_row(s, head, width))
            fixed = Text.assemble(("device ", "dim"), s.device, ("  SwanLab ", "dim"), s.swanlab or "–")
            if s.swanlab_id:
                fixed.append(f" {s.swanlab_id}")
            for part in time_left_out:
                fixed.append_text(part)
            fixed.append("  run ", style="dim")
            run_dir = fit_path(s.run_dir or "–", width - fixed.cell_len)
            rows.append(fixed + Text(run_dir, style="cyan"))
            if s.last_epoch:
                rows.append(epoch_summary(s.last_epoch, width, units))
            if s.watching:
                rows.append(Text(s.watching, style="blue"))
            if s.message:
                rows.append(Text(s.message, style="yellow"))
        self.set(Text("\n").join(rows))

    @staticmethod
    def progress_row(s: RunStatus, head: Text, width: int) -> Text:
        """Epoch, progress and ETA always; the rest as room allows (at 80 columns the row used to
        be cut before its ETA). Parts keep their order on the row and are dropped least useful
        first: this session's share of the time, images/s, the step, β, the time so far."""
        fraction = s.batch / s.batches if s.batches else 0.0
        elapsed = time_parts(s, "elapsed")
        parts = {
            "step": Text(f"  step {s.step}"),
            "beta": Text(f"  β {s.beta:.2f}"),
            "speed": Text(f"  {(s.images_per_second or 0):,.0f} img/s"),
            "elapsed": elapsed[0],
            "session": elapsed[1] if len(elapsed) > 1 else Text(""),
        }
        percent, eta = Text(f" {fraction:4.0%}"), Text(f"  ETA {clock(s.eta())}")
        fixed = head.cell_len + percent.cell_len + eta.cell_len + 10  # a bar of 10 at least
        shown = list(parts)
        for drop in ("session", "speed", "step", "beta", "elapsed"):
            if fixed + sum(parts[k].cell_len for k in shown) <= width:
                break
            shown.remove(drop)
        rest = Text("").join(parts[k] for k in shown)
        bar_width = max(5, min(30, width - (fixed - 10) - rest.cell_len))
        return head + bar(fraction, bar_width) + percent + rest + eta
