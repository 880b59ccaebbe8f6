"""The machine a benchmark ran on, and what a run of it cost in memory.

Timings on a shared 2-core machine move with whatever else runs: each result carries the
machine's description and the 1-minute load average around it, so a reader can tell.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import threading
from typing import Any


def machine_info() -> dict[str, Any]:
    """Python, torch, cores and processor, as the results record them."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch_default_threads": torch.get_num_threads(),
        "loadavg": [round(v, 2) for v in os.getloadavg()],
    }


def loadavg_1min() -> float:
    return round(os.getloadavg()[0], 2)


class RssSampler:
    """Peak resident set size of this process while a variant runs (sampled every 50 ms)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def current(self) -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * self._page
        except OSError:
            return 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> RssSampler:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def max_rss_bytes() -> int:
    """ru_maxrss of this process so far (kilobytes on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024
