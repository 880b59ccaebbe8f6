"""The numbers a setting takes: one `Bound` per kind, checked by the flags and `TrainConfig` alike."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_SEED = 2**32 - 1  # numpy's range; also keeps the per-epoch data-order seeds inside int64


@dataclass(frozen=True)
class Bound:
    """The numbers a field takes: integers (or finite floats) above or from `minimum`, up to
    `maximum` if set."""

    kind: type[int] | type[float]
    inclusive: bool
    minimum: int = 0
    maximum: int | None = None

    def out_of_range(self, value: float) -> str | None:
        """What is wrong with a number of the right kind ("must be > 0"), or None."""
        if value < self.minimum or (value == self.minimum and not self.inclusive):
            return f"must be {'≥' if self.inclusive else '>'} {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"must be ≤ {self.maximum}"
        return None

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` as this field's number (its type too), or None."""
        allowed = int if self.kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            return "must be an integer" if self.kind is int else "must be a number"
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        return self.out_of_range(value)


POSITIVE_INT = Bound(int, inclusive=False)
NON_NEGATIVE_INT = Bound(int, inclusive=True)
SEED = Bound(int, inclusive=True, maximum=MAX_SEED)
POSITIVE = Bound(float, inclusive=False)
NON_NEGATIVE = Bound(float, inclusive=True)
