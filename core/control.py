"""Requests to a running training loop from other threads (the UI, signal handlers).

Kept free of torch so the app can create it, and accept a pause or quit, before torch has loaded.
"""

from __future__ import annotations

import threading
import time


class TrainControl:
    """Requests from other threads, honoured by the loop between batches."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._save = threading.Event()
        self._snapshot = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to stop

    def request_checkpoint(self) -> None:
        self._save.set()

    def request_snapshot(self) -> None:
        """Ask for the current weights (a `ModelSnapshot`), e.g. to redraw the views mid-epoch."""
        self._snapshot.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self) -> float:
        """Block while paused, but return early when a save or snapshot is asked for, so those
        are served at once; the seconds spent waiting (kept out of throughput numbers)."""
        if self._running.is_set():
            return 0.0
        start = time.perf_counter()
        while not self._running.wait(0.05):
            if self._save.is_set() or self._snapshot.is_set():
                break
        return time.perf_counter() - start

    def take_save_request(self) -> bool:
        return _take(self._save)

    def take_snapshot_request(self) -> bool:
        return _take(self._snapshot)


def _take(flag: threading.Event) -> bool:
    """Clear `flag`, saying whether it was set (one request, served once)."""
    if flag.is_set():
        flag.clear()
        return True
    return False
