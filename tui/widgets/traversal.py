"""The latent traversal: what each latent dimension does to the decoded image, around a base code.

Row d sweeps z_d = base_d + offset, offsets −3σ…+3σ of the prior, the other dimensions at the
base (the selected test image's μ, the selected sample's z, or 0): its middle column, offset 0,
is the base's own decoding, framed apart. Rows come in `BrowseState.dimensions`'s order: most
informative first (their KL, from the test codes of the weights shown; `k`: index order), and
the view opens on the first until ↑/↓ pick another; inactive dimensions are greyed out. Beside the
grid a large image scrubs the selected dimension (`+`/`-` in 0.25σ steps, `p` plays the sweep):
those keys redraw only that image, not the grid, and decode with whatever weights are shown now.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer

from ..browse import Changes, Part
from .halfblock import Budget, HalfBlockView
from .protocol_image import ProtocolImageView
from .text_lines import TextLines
from .traversal_layout import (
    CANDIDATES,
    GAP,
    LABEL_WIDTH,
    Plan,
    RowLabel,
    column_header,
    is_inactive,
    place,
    plan_layout,
    row_labels,
    scrub_value,
    sweep_grid,
)
from .views import ImageView

SCRUB_STEP = 0.25
"""How far one scrubbing key moves the selected dimension, in prior standard deviations."""
PLAY_FPS = 10
LARGE_IMAGE_KEYS = ("scrub_up", "scrub_down", "play")  # offered only where the large image shows
RANGE = 3.0
"""core.tiles.TRAVERSAL_RANGE (that module imports torch): the sweep's ±σ."""


class TraversalView(ImageView):
    """One row per latent dimension swept around a base code, and a large image scrubbing the
    selected one; ↑/↓ move through the rows in the order shown."""

    DEFAULT_CSS = """
    TraversalView > .caption { height: 1; }
    TraversalView > .columns { height: 1; padding: 0; color: $text-muted; }
    TraversalView > .body { height: 1fr; }
    TraversalView .row-labels { width: 11; height: 1fr; color: $text-muted; }
    TraversalView .scrub { width: 28; height: 1fr; margin-left: 1; }
    """
    DRAWS = frozenset({"image", "sample", "dimension", "draw", "base"})
    KEYS = frozenset({"browse", "dimension", "toggle_base", "kl_order", *LARGE_IMAGE_KEYS})
    HISTORY_KIND = "traversal"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scrubbed = 0.0
        """The scrubbed offset of the selected dimension from the base, in prior σ."""
        self.plan: Plan | None = None
        self.grid: np.ndarray | None = None
        """The grid last drawn (RGB, before any protocol's enlarging)."""
        self.base: Any = None
        self.base_dim = -1  # the dimension the offset was scrubbed on (another one starts at 0)
        self.widths: tuple[int, int | None, int] | None = None  # labels', grid's, large image's
        self.player: Timer | None = None  # plays the sweep
        self.stopped_by: str | None = None  # the key that just stopped the sweep

    def compose(self) -> ComposeResult:
        yield TextLines(classes="caption")
        yield TextLines(classes="columns")
        with Horizontal(classes="body"):
            yield TextLines(classes="row-labels")
            yield self.new_picture("picture-view")
            with Vertical(classes="scrub"):
                yield self.new_picture("scrub-view")
                yield TextLines(classes="scrub-value")

    # -- keys --------------------------------------------------------------------------------
    def selects(self) -> Part | None:
        """←/→ move what it sweeps around (nothing, around z = 0)."""
        return None if self.state.zero_base else self.state.base

    def takes(self, action: str) -> bool:
        if action in LARGE_IMAGE_KEYS:
            return self.plan is not None and self.plan.big > 0
        return super().takes(action)

    def act(self, name: str) -> Changes:
        if name == "kl_order":
            return self.state.toggle_dimension_order()  # the rows move: the screen redraws them
        if name == "play" and self.stopped_by is not None:
            self.stopped_by = None  # this press stopped the sweep: it does not start it again
        elif name == "play":
            self.scrubbed = -RANGE
            self.player = self.set_interval(1 / PLAY_FPS, self.next_frame)
            self.draw_scrub()
        elif name in ("scrub_up", "scrub_down"):
            step = SCRUB_STEP if name == "scrub_up" else -SCRUB_STEP
            self.scrubbed = min(RANGE, max(-RANGE, self.scrubbed + step))
            self.draw_scrub()
        return frozenset()

    def key_seen(self, key: str) -> None:
        """Any key stops the sweep being played (and p, stopping it, does not start it again).
        The same key press may be seen more than once (as it bubbles): only another key forgets
        which one stopped it."""
        if self.player is not None:
            self.player.stop()
            self.player, self.stopped_by = None, key
            self.draw_scrub()  # its value line loses the ▶
        elif key != self.stopped_by:
            self.stopped_by = None

    def next_frame(self) -> None:
        """The next offset of the sweep being played: −3σ to +3σ, then from −3σ again."""
        self.scrubbed += SCRUB_STEP
        if self.scrubbed > RANGE + 1e-9:
            self.scrubbed = -RANGE
        self.draw_scrub()

    # -- what it shows -----------------------------------------------------------------------
    def title_text(self) -> str:
        return "Latent traversal"

    def base_code(self) -> tuple[Any, str]:
        """The code swept around, and what it is in words."""
        s, e = self.state, self.state.decoder
        assert e is not None
        if s.zero_base:
            return e.code(None), "z = 0"
        if s.base == "sample" and s.samples_z is not None:
            return s.samples_z[s.sample], f"sample {s.sample + 1} (z draw #{s.sample_seed + 1})"
        return e.code(s.image), f"μ of test image #{s.image + 1}{s.label(s.image)}"

    def update_view(self, force: bool = False) -> None:
        """As ImageView's, but first size the row labels, grid and large image for the space the
        view has; when that changes their widths, draw once they are laid out."""
        self.stale = self.stale or force
        if self.stale and self.is_on_screen and self.state.decoder is not None and self.fit_parts():
            self.call_after_refresh(self.update_view)
            return
        super().update_view()

    def fit_parts(self) -> bool:
        """Plan the layout for the view's size; whether a part's width had to change."""
        e = self.state.decoder
        assert e is not None
        past = self.state.history_epoch is not None  # (the kept picture: no labels, no large image)
        plan = plan_layout(self.size.width, self.size.height - 2, e.latent_dim) if not past else None
        grid_width = plan.width if plan is not None else None
        big, label = (plan.big, plan.label) if plan is not None else (0, 0 if past else LABEL_WIDTH)
        offered = self.plan is not None and self.plan.big > 0
        self.plan = plan
        if offered != (big > 0) and hasattr(self.app, "sync_bindings"):
            self.app.sync_bindings()  # the scrubbing keys are offered only with the large image
        if (label, grid_width, big) == self.widths:
            return False
        self.widths = (label, grid_width, big)
        self.query_one(".row-labels").styles.width = label
        picture, scrub = self.picture, self.query_one(".scrub", Vertical)
        picture.styles.width = grid_width if grid_width is not None else "1fr"
        scrub.display, scrub.styles.width = big > 0, 28 * max(1, big)
        big_view = self.query_one(".scrub-view")
        big_view.styles.width, big_view.styles.height = 28 * max(1, big), 14 * max(1, big)
        return True

    def build_now(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        """At a past epoch, the kept picture: its caption's second line where the columns go."""
        image, text, scale = super().build_now(budgets)
        if self.state.history_epoch is not None:
            text, _, second = text.partition("\n")
            self.query_one(".row-labels", TextLines).set("")
            self.query_one(".columns", TextLines).set(f" {second}")  # (under the caption's padding)
        return image, text, scale

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        s, e, plan = self.state, self.state.decoder, self.plan
        assert e is not None
        if plan is None:
            self.query_one(".row-labels", TextLines).set("")
            self.query_one(".columns", TextLines).set("")
            return None, self.title_text(), 1
        order, dim = s.dimensions(), s.dim
        at = order.index(dim)
        first = min(max(0, at - plan.rows // 2), e.latent_dim - plan.rows)
        dims = order[first : first + plan.rows]
        self.base, where = self.base_code()
        if self.base_dim != dim:
            self.scrubbed, self.base_dim = 0.0, dim
        offsets = np.linspace(-RANGE, RANGE, plan.steps)
        usage = e.usage()
        inactive = {row for row, d in enumerate(dims) if is_inactive(usage, d)}
        image, factor, scale = self.grid_image(e.traversal(self.base, dims, offsets.tolist()), dims, inactive)
        self.grid = image
        place_of = self.cells_of(image.shape, scale)
        self.draw_labels(dims, usage, place_of, factor)
        self.draw_columns(offsets, place_of, factor)
        self.draw_scrub()
        by = "by KL (k: by index)" if s.by_kl else "by index (k: by KL)"
        # Beside the loss plots few offsets fit: say that f gives the view the whole width.
        wider = plan.steps < CANDIDATES[0][1] and not self.screen.has_class("narrow")
        # (The selected dimension is named over the columns and the large image, and framed.)
        text = (
            f"Rows {first + 1}–{first + plan.rows} of {e.latent_dim} {by} · base: {where}"
            f"{' · f: wider' if wider else ' · 2× smaller' if factor == 2 else ''}"
        )
        return image, text, scale

    def grid_image(
        self, tiles: np.ndarray, dims: list[int], inactive: set[int]
    ) -> tuple[np.ndarray, int, int]:
        """The grid, its downsampling and its scale: a protocol draws full-size tiles, as large
        as whole-number scaling fits its pixels (half-block: as planned)."""
        assert self.plan is not None
        selected = dims.index(self.state.dim)
        if self.full_size:  # `e`: real pixels, whatever the screen fits
            return sweep_grid(tiles, 1, selected, inactive), 1, 1
        if not self.graphics.protocol:
            return sweep_grid(tiles, self.plan.factor, selected, inactive), self.plan.factor, 1
        image = sweep_grid(tiles, 1, selected, inactive)
        width, height = self.picture.pixel_size
        scale = min(width // image.shape[1], height // image.shape[0])
        if scale >= 1:
            return image, 1, scale
        return sweep_grid(tiles, 2, selected, inactive), 2, 1

    def cells_of(self, shape: tuple[int, ...], scale: int) -> Any:
        """Where a pixel (x, y) of the grid lands on screen, in cells of the view: the pictures
        centre their image (half-block by whole lines of 2 pixels)."""
        assert self.plan is not None
        picture, left, top = self.picture, self.plan.label, 2  # (beside the labels, under 2 lines)
        if self.graphics.protocol:
            cell_w, cell_h = self.graphics.cell
            width, height = picture.pixel_size
            x0, y0 = (width - shape[1] * scale) // 2, (height - shape[0] * scale) // 2
        else:
            cell_w, cell_h = 1, 2
            x0 = max(0, (self.plan.width - shape[1]) // 2)
            y0 = 2 * max(0, (self.size.height - 2 - (shape[0] + 1) // 2) // 2)
        return lambda x, y: (left + (x0 + x * scale) // cell_w, top + (y0 + y * scale) // cell_h)

    def draw_labels(self, dims: list[int], usage: dict[str, Any], place_of: Any, factor: int) -> None:
        """Each row's dimension, its KL and whether it is inactive, beside its tiles."""
        assert self.plan is not None
        body_top = 2
        rows = [
            RowLabel(
                place_of(0, self.plan.pad + row * (28 // factor + self.plan.pad))[1] - body_top,
                d, usage["kl_per_dim"][d], is_inactive(usage, d), d == self.state.dim,
            )
            for row, d in enumerate(dims)
        ]  # fmt: skip
        height = self.query_one(".row-labels").size.height or self.size.height
        self.query_one(".row-labels", TextLines).set(row_labels(rows, height, self.plan.label))

    def draw_columns(self, offsets: np.ndarray, place_of: Any, factor: int) -> None:
        """The columns' offsets and the selected dimension's value at each (z_d = base_d + offset)."""
        assert self.plan is not None and self.base is not None
        pitch = 28 // factor + self.plan.pad
        centres = [place_of(self.plan.pad + c * pitch + 28 // factor // 2, 0)[0] for c in range(len(offsets))]
        d = self.state.dim
        line = column_header(self.size.width, d, float(self.base[d]), offsets.tolist(), centres, pitch)
        if self.plan.big:  # over the large image (laid out as planned: regions may lag behind)
            place(line, f"z{d + 1} scrubbed", self.plan.label + self.plan.width + GAP + 14 * self.plan.big)
        self.query_one(".columns", TextLines).set("".join(line).rstrip())

    def draw_scrub(self) -> None:
        """The large image: the base with the selected dimension at base + offset."""
        e, plan = self.state.decoder, self.plan
        if e is None or plan is None or not plan.big or self.base is None or not self.is_on_screen:
            return
        d = self.state.dim
        code = self.base.clone()
        code[d] = self.base[d] + self.scrubbed
        tile = e.decode(code[None])[0]
        view = self.query_one(
            ".scrub-view", HalfBlockView if not self.graphics.protocol else ProtocolImageView
        )
        rgb = np.repeat(tile[..., None], 3, axis=2)
        if self.graphics.protocol:
            width, height = view.pixel_size
            view.set_image(rgb, "", max(1, min(width, height) // 28))
        else:
            view.set_image(np.repeat(np.repeat(rgb, plan.big, axis=0), plan.big, axis=1))
        value = scrub_value(d, float(self.base[d]), self.scrubbed)
        self.query_one(".scrub-value", TextLines).set(value + (" ▶" if self.player is not None else ""))
