"""SwanLab tracking that can never hurt a run: offline by default, off the training thread.

SwanLab 0.10 defaults to online mode, which with no key blocks on an `input()` menu and with a
key but no network takes up to a minute to fail; it also prints to stdout, which the TUI owns.
So every call goes through one background thread (init and finish must share a thread), always
with an explicit mode, log dir and non-interactive settings, and silenced. Events wait in a
queue while it starts, so a slow cloud login that falls back to offline loses nothing. Any
SwanLab error turns into one warning and tracking stops; training never does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any

from .events import BatchEnd, EpochEnd, EpochImages, Event, FinalEvaluation, RunStarted

log = logging.getLogger("vae_tui")
PROJECT = "vae-tui"
CLOSE_TIMEOUT = 60.0  # seconds to wait for the tail of the log to be written at the end


def swanlab_dir(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / "swanlab"


def _quiet(swanlab: Any) -> None:
    """SwanLab prints banners to stdout and has no public switch; use the private one if there."""
    try:
        from swanlab.sdk.internal.pkg import console  # noqa: PLC0415

        console.c.quiet = True
    except Exception:  # noqa: BLE001 - a newer layout only means some banners get through
        pass


def _records(event: Event) -> tuple[dict[str, Any], int] | None:
    """The SwanLab `log` payload and step for an event, or None if it is not tracked."""
    if isinstance(event, BatchEnd):
        return {"train/loss": event.loss, "train/bce": event.bce, "train/kld": event.kld,
                "train/beta": event.beta}, event.step  # fmt: skip
    if isinstance(event, EpochEnd):
        return {
            "epoch/loss": event.loss, "epoch/bce": event.bce, "epoch/kld": event.kld,
            "epoch/beta": event.beta, "epoch/index": event.epoch,
            "test/loss": event.test_loss, "test/bce": event.test_bce, "test/kld": event.test_kld,
            "speed/images_per_second": event.images_per_second, "speed/epoch_seconds": event.seconds,
        }, event.step  # fmt: skip
    if isinstance(event, FinalEvaluation):
        r = event.results
        keys = ("neg_elbo", "bce", "kld", "iwae_nll", "active_units")
        return {f"final/{k}": r[k] for k in keys if k in r}, -1
    return None


class SwanLabTracker:
    """Consumer that mirrors the run into SwanLab (`offline`, `cloud`) on its own thread."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.run_dir = Path(".")
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._failed = threading.Event()
        self._last_step = 0
        self.active_mode: str | None = None
        """The mode SwanLab actually runs in (`offline` after a failed cloud start)."""

    # -- consumer side (training thread) -------------------------------------------------
    def handle(self, event: Event) -> None:
        if self.mode == "disabled" or self._failed.is_set():
            return
        if isinstance(event, RunStarted):
            self.run_dir = Path(event.run_dir)
            self._thread = threading.Thread(
                target=self._serve, args=(event.config,), name="swanlab", daemon=True
            )
            self._thread.start()
            return
        if isinstance(event, EpochImages):
            self._queue.put(("images", event))
            return
        record = _records(event)
        if record is not None:
            payload, step = record
            self._last_step = max(self._last_step, step)
            self._queue.put(("log", (payload, step if step >= 0 else self._last_step)))

    def close(self, state: str) -> None:
        if self._thread is None:
            return
        self._queue.put(("finish", state))
        self._thread.join(CLOSE_TIMEOUT)
        if self._thread.is_alive():
            log.warning(
                "SwanLab did not finish writing within %.0f s; its log may miss the tail", CLOSE_TIMEOUT
            )

    # -- SwanLab thread ----------------------------------------------------------------------
    def _init(self, swanlab: Any, config: dict[str, Any], mode: str) -> Any:
        settings = swanlab.Settings(interactive=False, terminal={"proxy_type": "none"})
        folder = swanlab_dir(self.run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return swanlab.init(
            project=PROJECT,
            name=self.run_dir.name,
            config=config,
            mode=mode,
            log_dir=str(folder),
            settings=settings,
            reinit=True,
        )

    def _start(self, config: dict[str, Any]) -> Any:
        import swanlab  # noqa: PLC0415 - 0.4–1 s to import, and only when tracking is on

        _quiet(swanlab)
        if self.mode == "cloud":
            if not os.environ.get("SWANLAB_API_KEY"):
                log.warning("--swanlab cloud needs SWANLAB_API_KEY; tracking offline instead")
            else:
                try:
                    self._init(swanlab, config, "online")
                    self.active_mode = "cloud"
                    return swanlab
                except Exception as e:  # noqa: BLE001
                    log.warning("SwanLab cloud failed to start (%s); tracking offline instead", e)
        self._init(swanlab, config, "offline")
        self.active_mode = "offline"
        return swanlab

    def _serve(self, config: dict[str, Any]) -> None:
        swanlab = None
        try:
            swanlab = self._start(config)
            while True:
                kind, item = self._queue.get()
                if kind == "finish":
                    swanlab.finish(state=item)
                    return
                if kind == "log":
                    payload, step = item
                    swanlab.log(payload, step=step)
                else:
                    swanlab.log(
                        {
                            "images/reconstructions": swanlab.Image(item.reconstructions),
                            "images/samples": swanlab.Image(item.samples),
                        },
                        step=item.step,
                    )
        except Exception as e:  # noqa: BLE001 - tracking must never stop training
            self._failed.set()
            log.warning("SwanLab tracking stopped: %s: %s (training goes on)", type(e).__name__, e)
            if swanlab is not None:
                with contextlib.suppress(Exception):
                    swanlab.finish(state="crashed", error=str(e))
