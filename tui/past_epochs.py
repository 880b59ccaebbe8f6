"""Past epochs in the app (`[`/`]`): which epochs the run kept, their pictures and numbers, and
how an image view draws one.

A run keeps no weights per epoch: what a past epoch can show is what its folder kept
(`core.history`: the reconstructions, samples and traversal pictures of each epoch end) and the
epoch's row of `metrics.jsonl` (losses, KL per dimension, active units), which the app already
holds as the loss history. The views that need weights (map, interpolation, manifold) keep the
head's picture and say so. The run folder is asked of the app each time (`run_folder`): a
training run's, a browsed checkpoint's, or a watched run's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from math import ceil
from typing import TYPE_CHECKING

import numpy as np

from .widgets.halfblock import Budget

if TYPE_CHECKING:
    from .browse import BrowseState
    from .widgets.loss_history import LossHistory

CACHED_PICTURES = 96
"""Pictures kept in memory (~50 kB each): every kind of 32 epochs, so stepping back and forth
reads each PNG once (a read and decode takes a few ms)."""
TITLES = {
    "reconstructions": "The 16 fixed test images over their reconstructions",
    "samples": "The run's fixed z (draw #1) decoded",
    "traversal": "Test image #1's μ swept −3σ…+3σ along z1, z2, … (a row each)",
}
"""What each kept picture is (`core.grids`: the same every epoch, so epochs compare)."""


class PastEpochs:
    """The run's kept epochs: which they are, and their pictures (read once, then cached)."""

    def __init__(
        self, run_folder: Callable[[], str | None], history: LossHistory, total: Callable[[], int]
    ) -> None:
        self.run_folder = run_folder
        self.history = history
        self.total = total
        """The run's planned epochs (0: unknown): the "of 50" in "epoch 12 of 50"."""
        self._pictures: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()

    def epochs(self) -> list[int]:
        """The epochs `[`/`]` step through: those the run logged a row for (none without a
        folder to read their pictures from, e.g. a bare state_dict)."""
        if not self.run_folder():
            return []
        return sorted({int(r["epoch"]) for r in self.history.epochs if isinstance(r.get("epoch"), int)})

    def row(self, epoch: int) -> dict | None:
        """Epoch `epoch`'s row of metrics.jsonl, as the loss history holds it."""
        return next((r for r in self.history.epochs if r.get("epoch") == epoch), None)

    def picture(self, epoch: int, kind: str) -> np.ndarray | None:
        """The `kind` picture kept for `epoch` (None: not kept, or not written yet)."""
        from vae_tui.core.history import read_image  # noqa: PLC0415 - PIL, only when stepping

        folder = self.run_folder()
        if not folder:
            return None
        key = (folder, epoch, kind)
        if (cached := self._pictures.get(key)) is not None:
            self._pictures.move_to_end(key)
            return cached
        picture = read_image(folder, epoch, kind)
        if picture is not None:  # (a missing one may be written yet: ask again next time)
            self._pictures[key] = picture
            while len(self._pictures) > CACHED_PICTURES:
                self._pictures.popitem(last=False)
        return picture

    def step(self, state: BrowseState, delta: int) -> tuple[int | None, str]:
        """`[` (delta −1) or `]` (+1) from the epoch shown: the epoch to show (None: the head),
        and what to tell the user when the key cannot move."""
        epochs, current = self.epochs(), state.history_epoch
        if not epochs:
            if not self.run_folder():
                return current, "No run folder: there are no past epochs to step through."
            return current, "No epoch has ended yet: each epoch is kept when it ends."
        if current is None:
            if delta > 0:
                return None, "Already at the head: [ steps back through the epochs."
            return epochs[-1], ""
        if delta < 0:
            earlier = [e for e in epochs if e < current]
            return (earlier[-1], "") if earlier else (current, f"Epoch {current} is the first kept.")
        later = [e for e in epochs if e > current]
        return (later[0] if later else None), ""

    def where(self, state: BrowseState) -> str:
        """The epoch shown, as captions say it: "epoch 12 of 50" (of the last kept, when the
        run's length is unknown)."""
        epoch = state.history_epoch
        total = self.total() or max(self.epochs(), default=epoch or 0)
        return f"epoch {epoch} of {total}"


def keys_hint(state: BrowseState) -> str:
    """How to step, and where `]` at the last kept epoch goes."""
    return f"[ ] step · ] at the last returns to {'live' if state.training else 'the model'}"


def fit_stored(picture: np.ndarray, budgets: list[Budget]) -> tuple[np.ndarray, int, int]:
    """A kept (H, W) picture as RGB for the space the view has, whole: at the first budget it
    fits at full size (a protocol's whole-number scale), else averaged down by the smallest
    whole factor that fits. Returns (image, scale, shrink factor)."""
    height, width = picture.shape
    for budget in budgets:
        if budget.factor == 1 and width <= budget.width and height <= budget.height:
            return grey_rgb(picture), budget.scale, 1
    last = budgets[-1]
    factor = max(1, ceil(width / max(1, last.width)), ceil(height / max(1, last.height)))
    padded = np.zeros((ceil(height / factor) * factor, ceil(width / factor) * factor), dtype=np.float32)
    padded[:height, :width] = picture
    h, w = padded.shape[0] // factor, padded.shape[1] // factor
    pooled = padded.reshape(h, factor, w, factor).mean(axis=(1, 3))
    return grey_rgb((pooled + 0.5).astype(np.uint8)), 1, factor


def grey_rgb(picture: np.ndarray) -> np.ndarray:
    return np.repeat(picture[..., None], 3, axis=2)


def past_picture(
    state: BrowseState, kind: str | None, budgets: list[Budget]
) -> tuple[np.ndarray | None, str, int, np.ndarray | None]:
    """What an image view shows at a past epoch: (picture, caption, scale, the kept pixels).
    A view with no kept picture (`kind` None) gets no picture: it keeps the head's, and this
    caption, which says so."""
    kept = state.kept
    assert kept is not None and state.history_epoch is not None
    where, hint = kept.where(state), keys_hint(state)
    if kind is None:
        head = state.weights() or "the model shown"
        return None, (
            f"{where.capitalize()}: this view needs that epoch's weights, which runs do not keep\n"
            f"Shown instead: {head} · {hint}"
        ), 1, None  # fmt: skip
    stored = kept.picture(state.history_epoch, kind)
    if stored is None:
        return None, f"{where.capitalize()}: its {kind} picture is not kept for this epoch\n{hint}", 1, None
    image, scale, factor = fit_stored(stored, budgets)
    smaller = f", {factor}× smaller" if factor > 1 else ""
    return (
        image,
        f"{where.capitalize()} · {TITLES[kind]}\nAs the run kept it{smaller} · {hint}",
        scale,
        stored,
    )
