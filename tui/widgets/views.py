"""The three image views: reconstructions, samples and latent traversals.

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
from textual.app import ComposeResult
from textual.containers import Vertical

from ..browse import SAMPLE_COUNT, BrowseState, Part
from ..graphics import HALFBLOCK, Graphics
from .halfblock import Budget, HalfBlockView, fit_count, tile_image
from .protocol_image import ProtocolImageView
from .text_lines import TextLines

Layout = TypeVar("Layout")

TRAVERSAL_STEPS = 9


class ImageView(Vertical):
    """A caption over a HalfBlockView; subclasses build the picture for the space available."""

    DEFAULT_CSS = """
    ImageView { height: 1fr; }
    ImageView > .caption { height: 2; padding: 0 1; color: $text-muted; }
    """
    DRAWS: ClassVar[frozenset[Part]] = frozenset()
    """The parts of the selection the picture shows: it is redrawn when one of them changes."""
    KEYS: ClassVar[frozenset[str]] = frozenset()
    """The browsing keys' actions (`browse.BROWSE_ACTIONS`) that act here."""
    SELECTS: ClassVar[Part | None] = None
    """What ←/→ select here (None: nothing; then ←/→ are not offered)."""

    def __init__(self, state: BrowseState, *, id: str | None = None, graphics: Graphics = HALFBLOCK) -> None:
        super().__init__(id=id)
        self.state = state
        self.graphics = graphics
        self.stale = True

    def compose(self) -> ComposeResult:
        yield TextLines(classes="caption")
        if self.graphics.protocol:
            yield ProtocolImageView(self.graphics.kind, self.graphics.cell, classes="picture-view")
        else:
            yield HalfBlockView(classes="picture-view")

    @property
    def picture(self) -> HalfBlockView | ProtocolImageView:
        return self.query_one(
            ".picture-view", HalfBlockView if not self.graphics.protocol else ProtocolImageView
        )

    def selects(self) -> Part | None:
        """What ←/→ select here now (the traversal's depends on what it sweeps around)."""
        return self.SELECTS

    def takes(self, action: str) -> bool:
        """Whether a browsing key acts on this view as it is now."""
        return action in self.KEYS and (action != "browse" or self.selects() is not None)

    def tab_shown(self) -> None:
        """Its tab has just opened: draw it if it went out of date while hidden."""
        self.update_view()

    def on_resize(self) -> None:
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
        image, text, scale = self.build(view.budgets())
        view.set_image(image, "enlarge the terminal to see this view" if image is None else "", scale)
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


class ReconstructionView(ImageView):
    """Test images (top of each pair) over their reconstructions; ←/→ selects an image."""

    DRAWS = frozenset({"image"})
    KEYS = frozenset({"browse"})
    SELECTS = "image"

    def title_text(self) -> str:
        return "Reconstructions: test images over their reconstructions"

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        s, e = self.state, self.state.decoder
        assert e is not None

        def layout(b: Budget) -> tuple[int, int]:
            tile, pad = 28 // b.factor, 2 if b.factor == 1 else 1
            cols = fit_count(b.width, b.factor)
            pairs = 0
            while pad + (pairs + 1) * 2 * (tile + pad) + pairs * 2 * pad <= b.height:
                pairs += 1
            return cols, pairs

        (cols, pairs), (_, _, factor, scale) = pick(budgets, layout, lambda cp: cp[0] * cp[1] >= 8)
        if cols == 0 or pairs == 0:
            return None, self.title_text(), 1
        per_page = cols * pairs
        start, stop = page_of(s.image, per_page, e.count)
        indices = list(range(start, stop))
        originals, recon = e.originals(indices), e.reconstructions(indices)
        tiles = np.zeros((2 * pairs, cols, 28, 28), dtype=np.uint8)
        for i in range(len(indices)):
            r, c = divmod(i, cols)
            tiles[2 * r, c], tiles[2 * r + 1, c] = originals[i], recon[i]
        r, c = divmod(s.image - start, cols)
        image = tile_image(
            tiles, {(2 * r, c), (2 * r + 1, c)}, factor, gap_rows=set(range(1, 2 * pairs - 1, 2))
        )
        bce, kld = e.image_loss(s.image)
        numbers = f"#{s.image + 1}{s.label(s.image)}: BCE {bce:.1f} + KLD {kld:.1f} nats"
        weights = f" · {s.weights()}" if s.weights() else ""
        selected = f"Selected {numbers}{weights}"
        if len(selected) > self.size.width - 2:  # the weights matter more than the word
            selected = f"{numbers}{weights}"
        text = (
            f"Test images {start + 1}–{stop} of {e.count} (top: image, below: reconstruction)"
            f"{' · 2× smaller' if factor == 2 else ''}\n{selected}"
        )
        return image, text, scale


class SamplesView(ImageView):
    """Decodings of a fixed z ~ N(0, I) (the same z every epoch); `n` draws a new z."""

    DRAWS = frozenset({"sample", "draw"})
    KEYS = frozenset({"browse", "new_samples"})
    SELECTS = "sample"

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
        per_page = cols * rows
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


class TraversalView(ImageView):
    """One row per latent dimension, sweeping it from −3 to +3 around a base code (the selected
    test image's μ or sample's z, or 0); ↑/↓ selects."""

    DRAWS = frozenset({"image", "sample", "dimension", "draw", "base"})
    KEYS = frozenset({"browse", "dimension", "toggle_base"})

    def selects(self) -> Part | None:
        """←/→ move what it sweeps around (nothing, around z = 0)."""
        return None if self.state.zero_base else self.state.base

    def title_text(self) -> str:
        return "Latent traversal"

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        s, e = self.state, self.state.decoder
        assert e is not None
        (steps, rows), (_, _, factor, scale) = pick(
            budgets,
            lambda b: (fit_count(b.width, b.factor), fit_count(b.height, b.factor)),
            lambda sr: sr[0] >= 7 and sr[1] >= 3,
        )
        steps = min(TRAVERSAL_STEPS, steps)
        if steps < 3 or rows == 0:
            return None, self.title_text(), 1
        if steps % 2 == 0:
            steps -= 1  # keep the base value (0 offset) in the middle column
        rows = min(rows, e.latent_dim)
        first = min(max(0, s.dim - rows // 2), e.latent_dim - rows)
        dims = list(range(first, first + rows))
        if s.zero_base:
            base, where = e.code(None), "z = 0"
        elif s.base == "sample" and s.samples_z is not None:
            base, where = s.samples_z[s.sample], f"sample {s.sample + 1} (z draw #{s.sample_seed + 1})"
        else:
            base, where = e.code(s.image), f"μ of test image #{s.image + 1}{s.label(s.image)}"
        tiles = e.traversal(base, dims, steps)
        image = tile_image(tiles, {(s.dim - first, c) for c in range(steps)}, factor)
        text = (
            f"Rows z{first + 1}–z{first + rows} of {e.latent_dim}, each swept −3 → +3 in {steps} steps"
            f"{' · 2× smaller' if factor == 2 else ''}\n"
            f"Selected z{s.dim + 1} · base: {where} (z: toggle)"
        )
        return image, text, scale
