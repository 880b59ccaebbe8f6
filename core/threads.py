"""How many threads torch trains with: every core that nothing else in or beside the process keeps busy.

Torch-free at import: a run starts `BusyCores` (a 0.25 s look at /proc/stat, on a side thread)
before it imports torch, so the look overlaps torch's seconds of imports instead of delaying
the first batch; `training_threads` then reads its answer.
"""

from __future__ import annotations

import functools
import os
import threading
import time


@functools.cache
def torch_default_threads() -> int:
    """Torch's own choice (one per core), read once: before any run sets its own count."""
    import torch  # noqa: PLC0415 - this module stays torch-free until a count is needed

    return torch.get_num_threads()


def training_threads(busy: BusyCores | None = None) -> int:
    """Torch threads for a run: torch's default (one per core) minus the cores `busy` found
    busy elsewhere (measured now if None), at least 1.

    Torch's OpenMP threads meet at a barrier after every op, so when one of them loses its core
    to another thread, every op waits for it: on 2 cores with one busy loop beside it, headless
    training ran at 4,700–6,800 img/s with 2 threads and 13,400–20,900 with 1 (idle: 28–31k with
    2, ~19k with 1), so cores busy right now are taken off. The process's own other threads are
    kept off torch's cores instead: SwanLab's run only on idle cores (core/swanlab_load.py), and
    the app's UI thread works in short bursts on one torch thread (`serial_on_this_thread`).
    """
    elsewhere = busy.result() if busy is not None else busy_cores()
    return max(1, torch_default_threads() - elsewhere)


class BusyCores:
    """`busy_cores()`, measured on a side thread from construction on; `result()` waits for it.

    Started before torch is imported, the measurement (mostly a sleep) is over long before the
    run needs its answer. This process's own threads busy meanwhile (torch's import, the app's
    first frames) are not counted: `busy_cores` takes off the CPU time the process itself used."""

    def __init__(self) -> None:
        self._value = 0
        self._thread = threading.Thread(target=self._measure, name="busy-cores", daemon=True)
        self._thread.start()

    def _measure(self) -> None:
        self._value = busy_cores()

    def result(self) -> int:
        self._thread.join()
        return self._value


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


def serial_on_this_thread() -> None:
    """Run torch's ops on the calling thread without threads of their own.

    Torch keeps the count per thread, but `set_num_threads` also sets the default that a thread
    takes at its first parallel op: the training thread fixes its own count as it starts
    (`train.start`), before the app's UI thread ever calls this.

    For a thread that uses torch beside a training thread, like the app's UI decoding previews.
    OpenMP (GNU's, in torch's Linux builds) gives every thread that starts parallel work a team
    of its own; once all teams' threads outnumber the cores, each waits for work by sleeping
    instead of spinning, so each of a training step's ~40 ops pays a wake-up: the app trained at
    2 threads took ~50,000 context switches in 5 s this way and ran slower than at 1 thread."""
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)
