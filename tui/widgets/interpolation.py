"""The interpolation view: the decoded path between the codes (μ) of two test images, A and B.

The path runs from μ_A to μ_B in as many steps as fit the width, both ends included (so its first
and last tiles are A's and B's reconstructions), with A's and B's original images set apart at
the two ends. Where two rows fit, the straight line (linear) is drawn above the great-circle arc
(slerp) and `l` frames one or the other; where one fits, `l` switches which is drawn. A and B are
the images marked with `a` / `b` in the reconstructions; unmarked, the selected image and the
next stand in, and the caption says so.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..browse import BrowseState, Changes
from ..graphics import HALFBLOCK, Graphics
from .halfblock import PAD_GREY, Budget, tile_image
from .views import ImageView, pick

Mode = Literal["linear", "slerp"]
MODES: tuple[Mode, Mode] = ("linear", "slerp")
MAX_STEPS = 32
"""More steps than this add nothing a person can see between two digits (and cost decodes)."""
MIN_FULL_SIZE_STEPS = 5
"""Full-size tiles only where the path still has this many steps; else 2× smaller, and longer."""
END_GAP = 1
"""Extra grid pixels (per tile pad) between an original image and the path: sets the ends apart."""


def path_steps(budget: Budget) -> int:
    """How many path tiles fit beside the two end images, at the budget's downsampling."""
    tile, pad = 28 // budget.factor, 2 if budget.factor == 1 else 1
    ends = 2 * (tile + 2 * pad) + 2 * END_GAP * pad
    return max(0, min(MAX_STEPS, (budget.width - ends - pad) // (tile + pad)))


def path_rows(budget: Budget) -> int:
    """Path rows that fit the height (two at most: linear and slerp)."""
    tile, pad = 28 // budget.factor, 2 if budget.factor == 1 else 1
    extra = 2 * pad  # tile_image's wider gap between the two rows
    return 2 if 3 * pad + 2 * tile + extra <= budget.height else int(2 * pad + tile <= budget.height)


def end_column(tile: np.ndarray, letter: str, height: int, factor: int) -> np.ndarray:
    """One original image, framed and lettered as the reconstructions mark it (A or B), centred
    on a column `height` pixels high."""
    single = tile_image(tile[None, None], None, factor, marks={(0, 0): letter})
    column = np.full((height, single.shape[1], 3), PAD_GREY, dtype=np.uint8)
    top = (height - single.shape[0]) // 2
    column[top : top + single.shape[0]] = single
    return column


def path_picture(
    a: np.ndarray, b: np.ndarray, paths: np.ndarray, framed: int | None, factor: int
) -> np.ndarray:
    """A's original | the path rows `paths` (R, N, 28, 28), row `framed` framed | B's original."""
    rows, steps = paths.shape[:2]
    highlight = {(framed, c) for c in range(steps)} if framed is not None else None
    middle = tile_image(paths, highlight, factor, gap_rows={0} if rows > 1 else None)
    height, pad = middle.shape[0], 2 if factor == 1 else 1
    gap = np.full((height, END_GAP * pad, 3), PAD_GREY // 2, dtype=np.uint8)
    left, right = (end_column(tile, letter, height, factor) for tile, letter in ((a, "A"), (b, "B")))
    return np.hstack([left, gap, middle, gap, right])


class InterpolationView(ImageView):
    """The decoded path from μ_A to μ_B, linear and spherical; `l` switches which is shown/framed."""

    DRAWS = frozenset({"image", "marks"})  # unmarked, the ends follow the selected image
    KEYS = frozenset({"path_mode", "browse"})
    SELECTS = "image"  # ←/→: the selected image, which an unmarked A is

    def __init__(self, state: BrowseState, *, id: str | None = None, graphics: Graphics = HALFBLOCK) -> None:
        super().__init__(state, id=id, graphics=graphics)
        self.mode: Mode = "linear"
        """The path framed (two rows) or drawn (one row): `l` switches."""
        self.drawn: np.ndarray | None = None
        """The path rows last drawn, (rows, steps, 28, 28): what the picture shows between A and B."""

    def act(self, name: str) -> Changes:
        """`l`: the other path. Nothing of the shared selection changes, only this view."""
        assert name == "path_mode"
        self.mode = MODES[1 - MODES.index(self.mode)]
        self.stale = True
        return frozenset()

    def ends(self) -> tuple[int, int, bool, bool]:
        """(A, B, A is a default, B is a default): the marks, or the selected image and the next
        in the order and class the reconstructions show."""
        s = self.state
        a = s.mark_a if s.mark_a is not None else s.image
        if s.mark_b is not None:
            return a, s.mark_b, s.mark_a is None, False
        images = s.images() if s.decoder is not None else [a + 1]
        return a, int(images[(s.rank() + 1) % len(images)]), s.mark_a is None, True

    def title_text(self) -> str:
        return "Interpolation between the codes of two test images (mark A, B: a, b in Recon)"

    def paths(self, a: int, b: int, steps: int, rows: int) -> np.ndarray:
        """(rows, steps, 28, 28): both paths (linear above slerp), or the one `mode` selects."""
        e = self.state.decoder
        assert e is not None
        mu_a, mu_b = e.code(a), e.code(b)
        modes = MODES if rows > 1 else (self.mode,)
        return np.stack([e.interpolation(mu_a, mu_b, steps, mode) for mode in modes])

    def build(self, budgets: list[Budget]) -> tuple[np.ndarray | None, str, int]:
        e = self.state.decoder
        assert e is not None
        (steps, rows), (_, _, factor, scale) = pick(
            budgets,
            lambda b: (path_steps(b), path_rows(b)),
            lambda sr: sr[0] >= MIN_FULL_SIZE_STEPS and sr[1] > 0,
        )
        if steps < 2 or rows == 0:
            return None, self.title_text(), 1
        a, b, a_default, b_default = self.ends()
        paths = self.drawn = self.paths(a, b, steps, rows)
        framed = MODES.index(self.mode) if rows > 1 else None
        image = path_picture(e.originals([a])[0], e.originals([b])[0], paths, framed, factor)
        return image, self.caption(a, b, a_default, b_default, steps, rows, factor), scale

    def caption(
        self, a: int, b: int, a_default: bool, b_default: bool, steps: int, rows: int, factor: int
    ) -> str:
        """Which images the ends are (and whether they are marked), and which path is which."""
        s = self.state
        a_name = f"A = selected #{a + 1}" if a_default else f"A #{a + 1}"
        b_name = f"B = next #{b + 1}" if b_default else f"B #{b + 1}"
        small = " · 2× smaller" if factor == 2 else ""
        first = f"{a_name}{s.label(a)} → {b_name}{s.label(b)}: {steps} steps{small}"
        other = MODES[1 - MODES.index(self.mode)]
        if rows > 1:
            second = f"μ decoded, linear above, slerp below ({self.mode} framed, l: {other})"
        else:
            second = f"μ decoded along the {'linear' if self.mode == 'linear' else 'spherical (slerp)'} path · l: {other}"
        if a_default or b_default:
            second += " · a, b in Recon mark A, B"
        return f"{first}\n{second}"
