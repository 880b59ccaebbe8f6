"""The consumers every run has, whatever the front end: metrics, image grids, SwanLab."""

from __future__ import annotations

from .config import TrainConfig
from .consumers import Consumer
from .grids import GridWriter
from .metrics import MetricsWriter
from .tracking import SwanLabTracker


def standard_consumers(config: TrainConfig) -> list[Consumer]:
    """Writers for the run folder, in the order they should see each event."""
    return [MetricsWriter(), GridWriter(), SwanLabTracker(config.swanlab)]
