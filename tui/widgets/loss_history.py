"""What the loss panels draw: every batch's loss and the per-epoch rows, kept as growing arrays.

Batches arrive hundreds of times a second; the history only appends, and `thin` cuts what a
redraw plots to about two points per column, so a redraw's cost does not grow with the run.
"""

from __future__ import annotations

import numpy as np

SMOOTHING_FRACTION = 0.02  # the smoothed curve averages the last 2% of the batches so far


class LossHistory:
    """Everything the loss panels draw, appended to by the app as events arrive."""

    def __init__(self) -> None:
        self._steps: list[int] = []
        self._losses: list[float] = []
        self.epochs: list[dict[str, float]] = []
        self.batch_version = 0
        """Bumped when batches arrive, so the batch plot redraws only when there is news."""
        self.epoch_version = 0
        self.cursor: int | None = None
        """The past epoch the views show (`[`/`]`), which the plots mark; None: the head."""

    def set_cursor(self, epoch: int | None) -> None:
        """Mark `epoch` on the plots (None: no mark): both redraw."""
        if epoch != self.cursor:
            self.cursor = epoch
            self.batch_version += 1
            self.epoch_version += 1

    def clear(self) -> None:
        """Forget everything (a resumed run's preview history, replaced by the exact one)."""
        self._steps, self._losses, self.epochs = [], [], []
        self.batch_version += 1
        self.epoch_version += 1

    def add_batches(self, steps: list[int], losses: list[float]) -> None:
        self._steps.extend(steps)
        self._losses.extend(losses)
        self.batch_version += 1

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    @property
    def losses(self) -> np.ndarray:
        return np.asarray(self._losses, dtype=np.float64)

    def smoothed(self) -> np.ndarray:
        """Trailing mean over a window that grows with the run (2% of it), so the curve is
        smooth early on and does not lag behind late in a long run."""
        losses = self.losses
        window = max(1, int(len(losses) * SMOOTHING_FRACTION))
        sums = np.cumsum(np.concatenate([[0.0], losses]))
        ends = np.arange(1, len(losses) + 1)
        counts = np.minimum(ends, window)
        return (sums[1:] - sums[ends - counts]) / counts

    def add_epoch(self, row: dict[str, float]) -> None:
        self.epochs.append(row)
        self.epoch_version += 1


def thin(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about `points` points, evenly strided (keeps the last point)."""
    if len(x) <= points or points <= 0:
        return x, y
    stride = int(np.ceil(len(x) / points))
    idx = np.arange(len(x) - 1, -1, -stride)[::-1]
    return x[idx], y[idx]
