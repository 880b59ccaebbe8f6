"""How many threads torch trains with: every core that nothing else in or beside the process keeps busy."""

from __future__ import annotations

import os
import time

import torch

TORCH_DEFAULT_THREADS = torch.get_num_threads()  # torch's own choice (one per core), read at import


def training_threads(busy_threads: int) -> int:
    """Torch threads for a run that shares the process with `busy_threads` other busy threads
    (SwanLab's writer; the app's UI): torch's default (one per core) minus those, at least 1.

    Torch's OpenMP threads meet at a barrier after every op, so when one of them loses its core
    to another thread, every op waits for it. Measured on 2 cores (benchmarks/train_speed.py,
    full epochs, side by side, median of 3): headless without SwanLab, 2 threads ran 1.21× faster
    than 1; with SwanLab offline, 1 thread was faster (2 threads: 0.93×); in the app, 1 thread
    trained 1.56× faster than 2 (16,015 vs 10,295 img/s).

    Cores other processes keep busy count too: on 2 cores with one busy loop beside it, headless
    without SwanLab ran at 4,700–6,800 img/s with 2 threads and 13,400–20,900 with 1 (idle: 28–31k
    with 2, ~19k with 1), so cores busy right now are taken off as well.
    """
    return max(1, TORCH_DEFAULT_THREADS - busy_threads - busy_cores())


def busy_cores(interval: float = 0.25) -> int:
    """Cores other processes keep busy right now, rounded (Linux; 0 elsewhere). Measured over a
    short window rather than read off the load average, which still counts a run that just ended;
    this process's own threads (the app's UI, SwanLab's writer) are already `busy_threads`."""

    def snapshot() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    try:
        (idle0, total0), own0, wall0 = snapshot(), time.process_time(), time.monotonic()
        time.sleep(interval)
        (idle1, total1), own1, wall1 = snapshot(), time.process_time(), time.monotonic()
    except (OSError, ValueError, IndexError):
        return 0
    if total1 <= total0:
        return 0
    busy = (1 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1)
    own = (own1 - own0) / max(wall1 - wall0, 1e-9)
    return max(0, int(busy - own + 0.5))
