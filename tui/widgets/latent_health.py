"""The latent health view: how much each latent dimension is used, by the weights shown.

One bar per dimension, longest first: its KL(q(z_i|x) ‖ N(0, 1)) in nats, averaged over the test
images (`TileDecoder.usage`, computed once per set of weights), and its activity Var_x(μ_i).
A dimension whose activity is at most `ACTIVE_UNIT_THRESHOLD` (Burda et al. 2016) carries the
same code for every image: the posterior has collapsed onto the prior there, and its row is
greyed out and says so. ↑/↓ select a dimension in this order (`BrowseState.dimensions` by KL:
the traversal's, when it lists by KL too; the traversal then sweeps it);
rows that do not fit scroll with the selection, and the caption says which are shown. Below the
bars, where the run's history has them, the active units at each epoch end as a sparkline.

It draws text, not an image: an `ImageView` for the keys, the stale marking and the redraws on
new weights it shares with the picture views.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult

from ..browse import BrowseState, Changes
from ..graphics import HALFBLOCK, Graphics
from ..past_epochs import keys_hint
from .loss_history import LossHistory
from .text_lines import TextLines
from .views import ImageView

EIGHTHS = " ▏▎▍▌▋▊▉"
SPARKS = "▁▂▃▄▅▆▇█"
BAR = Style(color="rgb(95,175,215)")
COLLAPSED = Style(color="grey50", dim=True)
SELECTED = Style(color="rgb(255,176,0)", bold=True)  # the image views' amber highlight
MAX_BAR = 60
"""Cells of the longest bar: wider, the numbers drift too far from the bars they belong to."""
HISTORY_POLL = 1.0
"""Seconds between looks at the loss history: an epoch's row can come after its weights."""


def active_threshold() -> float:
    """`core.evaluate.ACTIVE_UNIT_THRESHOLD`, read once there is a model (that module imports
    torch, which the app's first frame does not wait for)."""
    from vae_tui.core.evaluate import ACTIVE_UNIT_THRESHOLD  # noqa: PLC0415 - torch

    return ACTIVE_UNIT_THRESHOLD


def bar(value: float, top: float, width: int) -> str:
    """`value` of `top` as a bar `width` cells long at most, in eighths of a cell."""
    if width <= 0 or top <= 0:
        return " " * max(0, width)
    eighths = round(max(0.0, min(1.0, value / top)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


def window(position: int, shown: int, total: int) -> int:
    """The first row of `shown` consecutive rows of `total` that keeps `position` in view."""
    return min(max(0, position - shown // 2), max(0, total - shown))


def sparkline(values: list[int], top: int, width: int) -> str:
    """The last `width` values as block heights, 0 … `top`."""
    values = values[-width:] if width > 0 else []
    last = len(SPARKS) - 1
    return "".join(SPARKS[round(last * max(0, min(v, top)) / top)] if top else SPARKS[0] for v in values)


def active_units_by_epoch(history: LossHistory | None) -> tuple[list[int], list[int]]:
    """(epochs, active units) of the history's epoch rows that have them."""
    if history is None:
        return [], []
    rows = [r for r in history.epochs if isinstance(r.get("active_units"), int)]
    return [int(r.get("epoch", i + 1)) for i, r in enumerate(rows)], [int(r["active_units"]) for r in rows]


class LatentHealthView(ImageView):
    """One bar per latent dimension, sorted by KL; collapsed dimensions marked; ↑/↓ select."""

    DEFAULT_CSS = """
    LatentHealthView > .health-bars { height: 1fr; padding: 0 1; }
    """
    DRAWS = frozenset({"dimension"})
    KEYS = frozenset({"dimension", "arrows"})

    def __init__(
        self,
        state: BrowseState,
        *,
        id: str | None = None,
        graphics: Graphics = HALFBLOCK,
        history: LossHistory | None = None,
    ) -> None:
        super().__init__(state, id=id, graphics=graphics)
        self.history = history
        self._epoch_version = -1

    def compose(self) -> ComposeResult:
        yield TextLines(classes="caption")
        yield TextLines(classes="health-bars")

    def on_mount(self) -> None:
        self.set_interval(HISTORY_POLL, self._history_news)

    def _history_news(self) -> None:
        if self.history is not None and self.history.epoch_version != self._epoch_version:
            self.update_view(force=True)

    def title_text(self) -> str:
        return "Latent health: KL per latent dimension, collapsed dimensions marked"

    def full_picture(self) -> None:
        """None: this view is text (its numbers are in metrics.jsonl and `--export`'s plots)."""
        return None

    def arrows(self, dx: int, dy: int) -> Changes | None:
        """↑/↓ select the next dimension in this view's order (by KL, whatever the traversal's)."""
        if dy == 0 or self.state.decoder is None:
            return None
        return self.state.select_dimension(dy, None, by_kl=True)

    def update_view(self, force: bool = False) -> None:
        """Rewrite the bars if stale (or forced) and visible (no picture to lay out: text)."""
        self.stale = self.stale or force
        if not self.stale or not self.is_on_screen:
            return
        body = self.query_one(".health-bars", TextLines)
        caption = self.query_one(".caption", TextLines)
        width, height = body.content_size
        if width == 0 or height == 0:
            self.call_after_refresh(self.update_view)
            return
        if self.history is not None:
            self._epoch_version = self.history.epoch_version
        if self.state.decoder is None:
            caption.set(self.title_text())
            body.set("waiting for the model…")
        elif self.state.history_epoch is not None and self.state.kept is not None:
            past_caption, text = self.past_lines(width, height)
            caption.set(past_caption)
            body.set(text)
        else:
            text, shown = self.lines(width, height)
            caption.set(self.caption(shown))
            body.set(text)
        self.stale = False

    def caption(self, shown: tuple[int, int] | None) -> str:
        """The active units and total KL first; then which rows show and what a bar is."""
        s, e = self.state, self.state.decoder
        assert e is not None
        usage = e.usage()
        dims = e.latent_dim
        weights = f" · {s.weights()}" if s.weights() else ""
        first = (
            f"{usage['active_units']} of {dims} dimensions active (Var_x μ > {active_threshold()}), "
            f"KL {sum(usage['kl_per_dim']):.1f} nats in all{weights}"
        )
        rows = ""
        if shown is not None and shown != (0, dims):
            rows = f"Rows {shown[0] + 1}–{shown[1]} of {dims} (↑↓) · "
        return f"{first}\n{rows}Bars: KL per dimension in nats, most first, mean of {e.count:,} test images"

    def lines(self, width: int, height: int) -> tuple[Text, tuple[int, int] | None]:
        """The bars that fit `height` lines (the sparkline's line too, where the history has it),
        and which rows of the order they are (None: none fit)."""
        usage: dict[str, Any] = self.state.decoder.usage()  # type: ignore[union-attr]
        order = self.state.dimensions(by_kl=True)
        epochs, units = active_units_by_epoch(self.history)
        spark = bool(units) and height >= 4
        shown = min(len(order), height - spark)
        if shown <= 0:
            return Text("enlarge the terminal to see this view"), None
        position = order.index(self.state.dim)
        start = window(position, shown, len(order))
        text = Text()
        for row, d in enumerate(order[start : start + shown]):
            if row:
                text.append("\n")
            text.append_text(self.bar_row(d, usage, width))
        if spark:
            text.append("\n")
            text.append_text(self.spark_row(epochs, units, len(order), width))
        return text, (start, start + shown)

    def bar_row(self, d: int, usage: dict[str, Any], width: int) -> Text:
        """`▶ z3   ████▌   2.31 nats  Var μ 0.953` — or greyed out and `collapsed`."""
        kl, activity = usage["kl_per_dim"], usage["activity_per_dim"]
        collapsed = activity[d] <= active_threshold()
        selected = d == self.state.dim
        marker = "▶" if selected else " "
        name = f"z{d + 1}".ljust(4)
        numbers = f" {kl[d]:6.2f} nats"
        if width >= 60:
            numbers += f"  Var_x μ {activity[d]:6.3f}"
        tail = "  collapsed" if collapsed else ""
        length = max(1, min(MAX_BAR, width - len(marker) - len(name) - 2 - len(numbers) - len("  collapsed")))
        row = Text(f"{marker}{name} ", style=SELECTED if selected else (COLLAPSED if collapsed else ""))
        row.append(bar(kl[d], max(*kl, 1e-9), length), style=COLLAPSED if collapsed else BAR)
        row.append(numbers + tail, style=COLLAPSED if collapsed else "")
        return row

    def spark_row(self, epochs: list[int], units: list[int], dims: int, width: int) -> Text:
        """`Active units by epoch ▁▃▅▇█ (epochs 1–5: 2 → 6 of 8)`."""
        label = "Active units by epoch "
        room = max(0, width - len(label) - len(f" (epochs {epochs[0]}–{epochs[-1]}: 00 → 00 of {dims})"))
        line = sparkline(units, dims, room)
        start = len(units) - len(line) if line else 0
        row = Text(label)
        row.append(line, style=BAR)
        row.append(f" (epochs {epochs[start]}–{epochs[-1]}: {units[start]} → {units[-1]} of {dims})")
        return row

    def past_lines(self, width: int, height: int) -> tuple[str, Text]:
        """At a past epoch (`[`/`]`): the KL bars of its metrics row. The row keeps no activity
        per dimension, so none is marked collapsed; a row from before KL per dimension was
        logged has no bars, and this says so."""
        s, kept = self.state, self.state.kept
        row = kept.row(s.history_epoch) or {}
        where, hint = kept.where(s).capitalize(), keys_hint(s)
        kl = [float(v) for v in row.get("kl_per_dim") or []]
        if not kl:
            return f"Latent health · {where}\n{hint}", Text(
                "This epoch's metrics row has no KL per dimension."
            )
        units = row.get("active_units")
        active = f"{units} of {len(kl)} dimensions active, " if isinstance(units, int) else ""
        caption = f"{where}: {active}KL {sum(kl):.1f} nats in all (from its metrics row)\n{hint}"
        order = sorted(range(len(kl)), key=lambda d: (-kl[d], d))
        start = window(order.index(s.dim) if s.dim in order else 0, height, len(order))
        text = Text()
        for line, d in enumerate(order[start : start + max(0, height)]):
            numbers, selected = f" {kl[d]:6.2f} nats", d == s.dim
            text.append(("\n" if line else "") + ("▶" if selected else " ") + f"z{d + 1}".ljust(4) + " ")
            text.append(bar(kl[d], max(*kl, 1e-9), max(1, min(MAX_BAR, width - 7 - len(numbers)))), style=BAR)
            text.append(numbers, style=SELECTED if selected else "")
        return caption, text
