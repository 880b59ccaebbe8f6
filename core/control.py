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
        self._hold_until = 0.0  # time.monotonic() before which no batch starts (`hold`)

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

    def hold(self, seconds: float) -> None:
        """Start no batch for the next `seconds` (a longer hold already asked for stands).

        The app asks for this on each key press: its UI then has the cores to itself for the
        few tens of milliseconds a redraw takes, instead of fighting torch's threads (and the
        training thread's hold on the GIL) for them; training loses as little per press."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    @property
    def holding(self) -> bool:
        return self._hold_until > time.monotonic()

    def wait_out_hold(self) -> float:
        """Block until a hold is over (or a stop is asked for); the seconds it waited."""
        start = time.monotonic()
        while (left := self._hold_until - time.monotonic()) > 0 and not self._stop.is_set():
            time.sleep(min(left, 0.01))
        return time.monotonic() - start

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
