"""The image views' base, and the samples view (`reconstructions.py` holds the reconstructions,
`traversal.py` the latent traversal).

Each view declares what of the selection it draws (`DRAWS`: it is redrawn when one of those parts
changes), which browsing keys it takes (`KEYS`) and what ←/→ select on it (`selects`): the main
screen asks the view shown, so a new view needs no rule anywhere else. Each lays its grid out for the space it has (full-size 28×28 tiles when enough fit, else
2× downsampled ones in half-block cells, or a smaller whole-number scale through a graphics
protocol), pages through what does not fit and says so in its caption: nothing is ever cropped
silently. Views draw only when visible; a hidden view is marked stale instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

import numpy as np
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message

from ..browse import SAMPLE_COUNT, BrowseState, Changes, Part
from ..graphics import HALFBLOCK, Graphics
from ..past_epochs import past_picture
from .halfblock import Budget, HalfBlockView, fit_count, tile_image
from .protocol_image import ProtocolImageView
from .text_lines import TextLines

Layout = TypeVar("Layout")


class SelectionChanged(Message):
    """A view changed the selection outside a key's action (`g`'s dialog, once answered): the
    screen redraws what it changed, as after a key."""

    def __init__(self, changes: Changes) -> None:
        super().__init__()
        self.changes = changes


class ImageView(Vertical):
    """A caption over a HalfBlockView; subclasses build the picture for the space available."""

    DEFAULT_CSS = """
    ImageView { height: 1fr; }
    ImageView > .caption { height: 2; padding: 0 1; color: $text-muted; }
    """
    DRAWS: ClassVar[frozenset[Part]] = frozenset()
    """The parts of the selection the picture shows: it is redrawn when one of them changes."""
    KEYS: ClassVar[frozenset[str]] = frozenset()
    """The browsing keys' actions (`browse.BROWSE_ACTIONS`) and view keys (`keymap.VIEW_KEYS`) that act here."""
    SELECTS: ClassVar[Part | None] = None
    """What ←/→ select here (None: nothing; then ←/→ are not offered)."""
    HISTORY_KIND: ClassVar[str | None] = None
    """The picture each epoch keeps of this view (`core.history.KINDS`), drawn at a past epoch
    (`[`/`]`); None: none is kept, so a past epoch keeps the head's picture and says so."""

    def __init__(self, state: BrowseState, *, id: str | None = None, graphics: Graphics = HALFBLOCK) -> None:
        super().__init__(id=id)
        self.state = state
        self.graphics = graphics
        self.stale = True
        self.laid_out: Size | None = None
        """The size the view was last laid out at."""
        self.history_picture: np.ndarray | None = None
        """The kept picture of the past epoch shown (its real pixels, for `e`); None at the head."""
        self.full_size = False
        """Set while `full_picture` builds the view at real pixels (whatever fits on screen)."""

    def compose(self) -> ComposeResult:
        yield TextLines(classes="caption")
        yield self.new_picture("picture-view")

    def new_picture(self, classes: str) -> HalfBlockView | ProtocolImageView:
        """A picture drawn the way `--graphics` says."""
        if self.graphics.protocol:
            return ProtocolImageView(self.graphics.kind, self.graphics.cell, classes=classes)
        return HalfBlockView(classes=classes)

    @property
    def picture(self) -> HalfBlockView | ProtocolImageView:
        return self.query_one(
            ".picture-view", HalfBlockView if not self.graphics.protocol else ProtocolImageView
        )

    def selects(self) -> Part | None:
        """What ←/→ select here now (the traversal's depends on what it sweeps around)."""
        return self.SELECTS

    def takes(self, action: str) -> bool:
        """Whether a browsing key acts on this view as it is now. At a past epoch a view that
        shows the epoch's kept picture takes none: they act on the model's, not on that one."""
        if self.HISTORY_KIND and self.state.history_epoch is not None:
            return False
        return action in self.KEYS and (action != "browse" or self.selects() is not None)

    def act(self, name: str) -> Changes:
        """A view key (`keymap.view_key`) it `takes`: apply it, say what of the selection changed."""
        raise NotImplementedError(name)

    def arrows(self, dx: int, dy: int) -> Changes | None:
        """An arrow key, if this view uses arrows for itself (None: the usual image / dimension)."""
        return None

    def key_seen(self, key: str) -> None:
        """Any key press, before its binding acts (an animation stops on any key)."""

    def tab_shown(self) -> None:
        """Its tab has just opened: draw it if it went out of date while hidden."""
        self.update_view()

    def on_resize(self, event: events.Resize) -> None:
        # A tab shown again gets a Resize at its old size: only a new size needs a new picture
        # (redrawing anyway cost a second full-screen composition per tab switch).
        if event.size == self.laid_out:
            return
        self.laid_out = event.size
        self.stale = True
        self.call_after_refresh(self.update_view)

    def update_view(self, force: bool = False) -> None:
        """Rebuild the picture if stale (or forced) and visible."""
        self.stale = self.stale or force
        if not self.stale or not self.is_on_screen:
            return
        view = self.picture
        caption = self.query_one(".caption", TextLines)
        width, height = view.pixel_size
        if width == 0 or height == 0:  # not laid out yet: draw once it has a size
            self.call_after_refresh(self.update_view)
            return
        if self.state.decoder is None:
            view.set_image(None, "waiting for the model…")
            caption.set(self.title_text())
            self.stale = False
            return
        if width < 16 or height < 16:
            view.set_image(None, "enlarge the terminal to see this view")
            caption.set(self.title_text())
            self.stale = False
            return
        image, text, scale = self.build_now(view.budgets())
        past = self.state.history_epoch is not None and self.HISTORY_KIND is not None
        note = "not kept for this epoch" if past else "enlarge the terminal to see this view"
        view.set_image(image, note if image is None else "", scale)
        caption.set(text)
        self.stale = False

    @property
    def is_on_screen(self) -> bool:
        return self.display and self.size.width > 0 and self.size.height > 0 and self.region.area > 0

    def title_text(self) -> str:
        return ""

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        """The grid image (None if nothing fits), the caption, and the scale to draw it at."""
        raise NotImplementedError

    def build_now(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        """`build`'s, or at a past epoch (`[`/`]`) the picture the run kept of it."""
        self.history_picture = None
        if self.state.history_epoch is None or self.state.kept is None:
            return self.build(budgets)
        image, text, scale, self.history_picture = past_picture(self.state, self.HISTORY_KIND, budgets)
        if self.HISTORY_KIND is None:  # the head's picture, captioned as such
            image, _, scale = self.build(budgets)
        return image, text, scale

    def full_picture(self) -> tuple[np.ndarray, str] | None:
        """What the view shows at its real pixels (28-px tiles, never the half-block 2×
        downsampling nor a protocol's enlarging) and a file stem, for `e`; None: no picture.
        The view is built once more with full-size budgets that lay out the same tiles
        (`full_size_budgets`), then redrawn for the screen (build keeps the layout it drew)."""
        if self.history_picture is not None:
            return self.history_picture, self.stem(self.state.history_epoch, kept=True)
        if self.state.decoder is None or not self.is_on_screen:
            return None
        self.full_size = True
        try:
            image = self.build(full_size_budgets(self.picture.budgets()))[0]
        finally:
            self.full_size = False
            self.update_view(force=True)
        return None if image is None else (image, self.stem(self.state.epoch))

    def stem(self, epoch: int | None, kept: bool = False) -> str:
        """The exported file's name: the view's, and the epoch of the weights it shows (with the
        batch, for weights saved mid-epoch; an epoch's kept picture is that epoch's end)."""
        name = self.HISTORY_KIND or (self.id or "view").removeprefix("view-")
        mid = f"-batch-{self.state.batch}" if self.state.batch and not kept else ""
        return name if epoch is None else f"{name}-epoch-{epoch:03d}{mid}"


def full_size_budgets(budgets: list[Budget]) -> list[Budget]:
    """The view's budgets at real pixels: a 2×-downsampled budget becomes full-size tiles in
    twice the pixels (the same tiles, each 28 px), a protocol's enlarged one its unscaled size."""
    return [Budget(b.width * b.factor, b.height * b.factor, 1, 1) for b in budgets]


def pick(
    budgets: list[Budget], layout: Callable[[Budget], Layout], fits: Callable[[Layout], bool]
) -> tuple[Layout, Budget]:
    """The first budget whose layout `fits` (shows enough tiles), else the last one."""
    for budget in budgets[:-1]:
        if fits(planned := layout(budget)):
            return planned, budget
    return layout(budgets[-1]), budgets[-1]


def page_of(selected: int, per_page: int, total: int) -> tuple[int, int]:
    """[start, stop) of the page holding `selected`."""
    start = (selected // per_page) * per_page
    return start, min(total, start + per_page)


class SamplesView(ImageView):
    """Decodings of a fixed z ~ N(0, I) (the same z every epoch); `n` draws a new z."""

    DRAWS = frozenset({"sample", "draw"})
    KEYS = frozenset({"browse", "new_samples", "page_up", "page_down", "first", "last"})
    SELECTS = "sample"
    HISTORY_KIND = "samples"

    per_page = 1
    """Samples the last drawing showed: what PageUp/PageDown move by."""

    def act(self, name: str) -> Changes:
        """The page keys: a screenful of samples on or back, or the first or last sample."""
        s = self.state
        targets = {
            "page_up": s.sample - self.per_page,
            "page_down": s.sample + self.per_page,
            "first": 0,
            "last": SAMPLE_COUNT - 1,
        }
        s.sample = min(max(targets[name], 0), SAMPLE_COUNT - 1)
        return s.follow("sample") | {"sample"}

    def title_text(self) -> str:
        return "Samples decoded from z ~ N(0, I)"

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        s, e = self.state, self.state.decoder
        assert e is not None and s.samples_z is not None
        (cols, rows), (_, _, factor, scale) = pick(
            budgets,
            lambda b: (fit_count(b.width, b.factor), fit_count(b.height, b.factor)),
            lambda cr: cr[0] * cr[1] >= 12,
        )
        if cols == 0 or rows == 0:
            return None, self.title_text(), 1
        per_page = self.per_page = cols * rows
        start, stop = page_of(s.sample, per_page, SAMPLE_COUNT)
        decoded = e.decode(s.samples_z[start:stop])
        tiles = np.zeros((rows, cols, 28, 28), dtype=np.uint8)
        for i in range(stop - start):
            tiles[divmod(i, cols)] = decoded[i]
        image = tile_image(tiles, {divmod(s.sample - start, cols)}, factor)
        # Only training changes the pictures of a fixed z; once it is over (or when browsing a
        # saved model), "the same every epoch" describes nothing there is to see.
        draw = f"z draw #{s.sample_seed + 1}" + (
            ", same every epoch (n: new)" if s.training else " (n: new z)"
        )
        text = (
            f"Samples {start + 1}–{stop} of {SAMPLE_COUNT} decoded from z ~ N(0, I)"
            f"{' · 2× smaller' if factor == 2 else ''}\n"
            f"Selected {s.sample + 1} · ↑↓ traverses it · {draw}"
        )
        return image, text, scale
