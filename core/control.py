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
        self._running = threading.Event()
        self._running.set()

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to stop

    def request_checkpoint(self) -> None:
        self._save.set()

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
        """Block while paused; the seconds spent waiting (kept out of throughput numbers)."""
        if self._running.is_set():
            return 0.0
        start = time.perf_counter()
        self._running.wait()
        return time.perf_counter() - start

    def take_save_request(self) -> bool:
        if self._save.is_set():
            self._save.clear()
            return True
        return False
