"""The reconstructions view: test images over their reconstructions, in an order of the user's.

10,000 test images are too many to reach one ←/→ at a time: the page keys move a screenful,
`g` jumps to an image by number, `o` orders them by reconstruction error (the worst first: where
the model fails is what a person wants to see) and `c` shows one class at a time. `a` and `b` mark
the interpolation's ends, framed here in their colours. The order, the class, the selected
image's rank and number and the marks are all said in the caption.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from textual.message import Message
from textual.worker import Worker, WorkerState

from ..browse import Changes
from .goto import GoToImage
from .halfblock import Budget, fit_count, tile_image
from .text_lines import TextLines
from .views import ImageView, SelectionChanged, page_of, pick

if TYPE_CHECKING:
    from vae_tui.core.tiles import TileDecoder

ENOUGH_PAIRS = 5
"""Full-size tiles when at least this many pairs fit (a row across a zoomed 160-column screen),
else 2× smaller ones."""


def first_fitting(candidates: list[str], width: int) -> str:
    """The first (most complete) wording that fits `width` columns, else the shortest."""
    return next((text for text in candidates if len(text) <= width), candidates[-1])


class ReconstructionView(ImageView):
    """Test images (top of each pair) over their reconstructions; ←/→ selects an image."""

    DRAWS = frozenset({"image", "order", "marks"})
    KEYS = frozenset(
        {"browse", "page_up", "page_down", "first", "last", "goto", "order", "class", "mark_a", "mark_b"}
    )
    SELECTS = "image"
    HISTORY_KIND = "reconstructions"

    per_page = 1
    """Pairs the last drawing showed: what PageUp/PageDown move by."""
    ordered: TileDecoder | None = None
    """The decoder whose order by error is computed (by the worker, or waited for)."""
    ordering: TileDecoder | None = None
    """The decoder a worker computes the order of now."""
    worst_pending = False
    """`o` switched to the order by error before it was there: select the worst once it is."""

    def takes(self, action: str) -> bool:
        """`c` only where the test images have labels to choose a class by."""
        if action == "class":
            return bool(self.state.classes_present())
        return super().takes(action)

    def act(self, name: str) -> Changes:
        s = self.state
        if name == "goto":
            assert s.decoder is not None
            self.app.push_screen(GoToImage(s.decoder.count), self.go_to)
            return frozenset()
        if name in ("mark_a", "mark_b"):
            return s.mark("a" if name == "mark_a" else "b")
        if name == "order":
            changes = s.toggle_order()
            self.worst_pending = s.order == "error"
            if self.worst_pending and self.order_ready():
                changes |= self.select_worst()
            return changes
        if name == "class":
            return s.next_class()
        ranks = {
            "page_up": s.rank() - self.per_page,
            "page_down": s.rank() + self.per_page,
            "first": 0,
            "last": len(s.images()) - 1,
        }
        return s.select_rank(ranks[name])

    # -- the order by error, computed on a worker ------------------------------------------------
    def order_ready(self) -> bool:
        """Whether the shown weights' order by error is there; if not, a worker computes it
        (a pass over the test set: ~140 ms for 10,000 images, too long for a key press)."""
        e = self.state.decoder
        if e is None or self.state.order != "error" or self.ordered is e:
            return True
        if self.ordering is not e:
            self.ordering = e
            job = partial(self.compute_order, e)
            self.run_worker(job, group="recon-order", thread=True, exclusive=True, exit_on_error=False)
        return False

    def compute_order(self, decoder: TileDecoder) -> None:
        from vae_tui.core.threads import serial_on_this_thread  # noqa: PLC0415 - torch

        serial_on_this_thread()
        decoder.order("error", None)  # (a class's order is then a cheap selection of it)
        self.post_message(self.Ordered(decoder))

    class Ordered(Message):
        """A decoder's order by error is computed (and cached in it)."""

        def __init__(self, decoder: TileDecoder) -> None:
            super().__init__()
            self.decoder = decoder

    def on_reconstruction_view_ordered(self, message: Ordered) -> None:
        self.ordering = None
        if message.decoder is self.state.decoder:
            self.ordered = message.decoder
            if self.worst_pending and self.state.order == "error":
                self.post_message(SelectionChanged(self.select_worst()))
            self.update_view(force=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed order is said, and the images stay in index order (not "ordering…" forever)."""
        if event.state == WorkerState.ERROR:
            self.ordering, self.worst_pending, self.state.order = None, False, "index"
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", title="Order by error", severity="error")
            self.update_view(force=True)

    def select_worst(self) -> Changes:
        """Switched to the order by error: the worst reconstruction is what to see first."""
        self.worst_pending = False
        return self.state.select_rank(0)

    def key_seen(self, key: str) -> None:
        """A key pressed while the order is being computed acts after the worst is selected, as
        if the order had been there at once (it waits for the worker's last milliseconds)."""
        if self.worst_pending and self.state.order == "error" and self.state.decoder is not None:
            self.ordered = self.state.decoder  # (`order` waits for the worker's result, then reads it)
            self.post_message(SelectionChanged(self.select_worst()))

    def update_view(self, force: bool = False) -> None:
        """While the order by error is computed the picture stays as it is, and the caption says
        why; it is redrawn once the order is there."""
        if self.order_ready():
            super().update_view(force)
            return
        self.stale = True
        if self.is_on_screen and self.state.decoder is not None:
            count = f"{self.state.decoder.count:,}"
            self.query_one(".caption", TextLines).set(
                f"Ordering {count} test images by reconstruction error…\n"
            )

    def go_to(self, index: int | None) -> None:
        """The number typed in `g`'s dialog (None: cancelled)."""
        if index is not None and self.state.decoder is not None:
            self.post_message(SelectionChanged(self.state.go_to(index)))

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

        (cols, pairs), (_, _, factor, scale) = pick(budgets, layout, lambda cp: cp[0] * cp[1] >= ENOUGH_PAIRS)
        if cols == 0 or pairs == 0:
            return None, self.title_text(), 1
        self.per_page = cols * pairs
        images, rank = s.images(), s.rank()
        start, stop = page_of(rank, self.per_page, len(images))
        indices = [int(i) for i in images[start:stop]]
        originals, recon = e.originals(indices), e.reconstructions(indices)
        tiles = np.zeros((2 * pairs, cols, 28, 28), dtype=np.uint8)
        marks: dict[tuple[int, int], str] = {}
        for i, index in enumerate(indices):
            r, c = divmod(i, cols)
            tiles[2 * r, c], tiles[2 * r + 1, c] = originals[i], recon[i]
            for letter, marked in (("A", s.mark_a), ("B", s.mark_b)):
                if marked == index:
                    marks[2 * r, c] = marks[2 * r + 1, c] = letter
        r, c = divmod(rank - start, cols)
        image = tile_image(
            tiles,
            {(2 * r, c), (2 * r + 1, c)},
            factor,
            gap_rows=set(range(1, 2 * pairs - 1, 2)),
            marks=marks,
        )
        return image, self.caption(start, stop, factor), scale

    def caption(self, start: int, stop: int, factor: int) -> str:
        """What is shown (order, class, which of how many) over what is selected (its rank,
        number, losses, the marks and the weights), each as complete as the width allows."""
        s, e = self.state, self.state.decoder
        assert e is not None
        width = self.size.width - 2
        total = len(s.images())
        shown = f"Test images {start + 1:,}–{stop:,} of {total:,}"
        of_class = f" · {s.class_filter_name()}" if s.image_class is not None else ""
        smaller = " · 2× smaller" if factor == 2 else ""
        by, worst = (" · by error", ", worst first") if s.order == "error" else ("", "")
        first = first_fitting(
            [
                f"{shown} (top: image, below: reconstruction){of_class}{by}{worst}{smaller}",
                f"{shown}{of_class}{by}{worst}{smaller}",
                f"{shown}{of_class}{by}{smaller}",
            ],
            width,
        )
        rank = s.rank() + 1
        if s.order == "error":
            where = f"Worst 1 of {total:,} · " if rank == 1 else f"Rank {rank:,} of {total:,} by error · "
        else:
            where = f"{rank:,} of {total:,} · " if s.image_class is not None else "Selected "
        number = f"#{s.image + 1}{s.label(s.image)}"
        bce, kld = e.image_loss(s.image)
        marks = "".join(
            f" · {letter} #{marked + 1}"
            for letter, marked in (("A", s.mark_a), ("B", s.mark_b))
            if marked is not None
        )
        weights = f" · {s.weights()}" if s.weights() else ""
        second = first_fitting(
            [
                f"{where}{number}: BCE {bce:.1f} + KLD {kld:.1f} nats{marks}{weights}",
                f"{where.removeprefix('Selected ')}{number}: BCE {bce:.1f} + KLD {kld:.1f}{marks}{weights}",
                f"{where.removeprefix('Selected ')}{number}: BCE {bce:.1f}{marks}{weights}",
                f"{where.removeprefix('Selected ')}{number}{marks}{weights}",
            ],
            width,
        )
        return f"{first}\n{second}"
