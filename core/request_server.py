"""The trainer's side of the request channel (`core/requests.py` has the format): every
`TrainingRun` (headless or app) has a `RequestServer` among its consumers.

A daemon thread looks at `RUN_DIR/requests/` every `interval` seconds, also while the loop is
paused, and applies each request to the run's `TrainControl` (thread-safe; the loop honours it
between batches). The loop's own events are the truth the answers quote: a pause is `done` when
`Paused` says where it stopped, a save when `CheckpointSaved` names the file, a stop when the
run has saved and finished. Only this thread writes in `requests/` on the trainer's side (the
atomic writes' temp names are per process), and it alone removes request files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic
from .control import TrainControl
from .events import BatchEnd, CheckpointSaved, EpochEnd, Event, Paused, RunFinished, RunStarted
from .requests import ACKS_DIR, STATE_FILE, VERBS, pending_requests, read_json, requests_dir

log = logging.getLogger("vae_tui")

STATE_EVERY = 1.0  # seconds: the state file's progress is rewritten this often while it moves
ACKS_KEPT = 3600.0  # seconds: older acks are removed when a trainer starts


def where(epoch: int, batch: int, step: int) -> str:
    return f"epoch {epoch}, batch {batch} (step {step})"


class RequestServer:
    """Polls the request channel for one run and keeps its state file (a `Consumer`)."""

    def __init__(self, control: TrainControl, interval: float = 0.2) -> None:
        self.control = control
        self.interval = interval
        self.started = time.time()
        """Requests sent before this are expired (`core/requests.py` says why)."""
        self.folder: Path | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._end = threading.Event()
        self._thread: threading.Thread | None = None
        self._state: dict[str, Any] = {
            "state": "running", "outcome": None, "epoch": 0, "epochs": 0, "batch": 0, "batches": 0,
            "step": 0, "epochs_done": 0, "pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        }  # fmt: skip
        self._waiting: dict[str, list[tuple[str, str]]] = {v: [] for v in ("pause", "save", "stop")}
        self._answers: list[tuple[str, str, str, str]] = []  # (id, verb, status, message) to write
        self._written: tuple[Any, ...] = ()
        self._written_at = 0.0
        self._iwae = False

    # -- the loop's events (on the training thread) -------------------------------------------
    def handle(self, event: Event) -> None:
        with self._lock:
            self._update(event)
        if isinstance(event, RunStarted):
            self._start(Path(event.run_dir))
        if not isinstance(event, BatchEnd):  # news to write now; progress waits for the next poll
            self._wake.set()

    def _update(self, event: Event) -> None:
        s = self._state
        if isinstance(event, RunStarted):
            s.update(epochs=event.config["epochs"], batches=event.batches_per_epoch, step=event.start_step)
            s.update(epoch=min(event.start_epoch + 1, s["epochs"]), batch=event.start_batch)
            s["epochs_done"] = event.start_epoch
            self._iwae = bool(event.config.get("iwae_k"))
        elif isinstance(event, BatchEnd):
            s.update(epoch=event.epoch, epochs=event.epochs, batch=event.batch, batches=event.batches)
            s.update(step=event.step, state="stopping" if self.control.stop_requested else "running")
        elif isinstance(event, EpochEnd):
            s.update(epochs_done=event.epoch, step=event.step)
        elif isinstance(event, Paused):
            s.update(state="paused", epoch=event.epoch, batch=event.batch, step=event.step)
            self._answer_all("pause", "done", f"paused at {where(event.epoch, event.batch, event.step)}")
        elif isinstance(event, CheckpointSaved):
            self._saved(event)
        elif isinstance(event, RunFinished):
            s.update(
                state="finished", outcome=event.status, step=event.step, epochs_done=event.epochs_completed
            )
            self._answer_all("stop", "done", f"stopped and saved after step {event.step}")
            self._answer_all("pause", "refused", f"the run {event.status} first")
            self._answer_all("save", "refused", f"the run {event.status} first")

    def _saved(self, e: CheckpointSaved) -> None:
        at = f"epoch {e.epoch + 1}, batch {e.batch}" if e.batch else f"the end of epoch {e.epoch}"
        if e.reason in ("request", "stop"):
            self._answer_all("save", "done", f"saved at {at}: {e.path}")
        if e.reason == "stop":
            self._answer_all("stop", "done", f"saved at {at} and stopped: {e.path}")
            self._state["state"] = "finished"
            self._state["outcome"] = "stopped"
        elif e.reason == "epoch" and e.epoch == self._state["epochs"] and self._iwae:
            self._state["state"] = "evaluating"

    def _answer_all(self, verb: str, status: str, message: str) -> None:
        for request_id, _ in self._waiting[verb]:
            self._answers.append((request_id, verb, status, message))
        self._waiting[verb].clear()

    def close(self, state: str) -> None:
        with self._lock:
            if self._state["state"] != "finished":
                self._state.update(state="finished", outcome=self._state["outcome"] or state)
            for verb in self._waiting:
                self._answer_all(verb, "refused", "the trainer has ended")
        self._end.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the poller thread -------------------------------------------------------------------
    def _start(self, run_dir: Path) -> None:
        if self._thread is not None:
            return
        self.folder = requests_dir(run_dir)
        with contextlib.suppress(OSError):
            (self.folder / ACKS_DIR).mkdir(parents=True, exist_ok=True)
            for old in (self.folder / ACKS_DIR).glob("*.json"):
                if old.stat().st_mtime < self.started - ACKS_KEPT:
                    old.unlink()
        self._thread = threading.Thread(target=self._run, name="vae-tui-requests", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            ending = self._end.is_set()
            try:
                self.poll()
            except Exception as e:  # noqa: BLE001 - a watcher's file must never stop the training
                log.debug("request channel: %s", e)
            if ending:
                return
            self._wake.wait(self.interval)
            self._wake.clear()

    def poll(self) -> None:
        """Serve new requests, then write the answers and the state that changed."""
        assert self.folder is not None
        for path in pending_requests(self.folder.parent):
            self._serve(path)
        with self._lock:
            answers, self._answers = self._answers, []
            state = dict(self._state)
        for request_id, verb, status, message in answers:
            self._ack(request_id, verb, status, message)
        self._write_state(state)

    def _serve(self, path: Path) -> None:
        request = read_json(path) or {}
        request_id = str(request.get("id") or path.name.split(".")[0])
        verb, sent = request.get("verb"), request.get("sent")
        if verb not in VERBS:
            self._ack(request_id, str(verb), "refused", f"unknown request {verb!r}")
        elif not isinstance(sent, int | float) or sent < self.started:
            self._ack(request_id, verb, "expired", "sent before this trainer started; not applied")
        else:
            with self._lock:
                status, message = self._apply(request_id, verb)
            self._ack(request_id, verb, status, message)
        with contextlib.suppress(OSError):
            path.unlink()

    def _apply(self, request_id: str, verb: str) -> tuple[str, str]:
        """Hand `verb` to the control; (status, message) to acknowledge at once."""
        s, c = self._state, self.control
        here = where(s["epoch"], s["batch"], s["step"])
        if s["state"] in ("finished", "evaluating", "stopping"):
            return "refused", f"the run is {s['state']}"
        if verb == "resume":
            c.resume()
            self._answer_all("pause", "refused", "resumed before the pause was reached")
            s["state"] = "running"
            return "done", f"resumed at {here}"
        if verb == "pause" and s["state"] == "paused" and c.paused:
            return "done", f"already paused at {here}"
        {"pause": c.pause, "save": c.request_checkpoint, "stop": c.request_stop}[verb]()
        if verb == "stop":
            s["state"] = "stopping"
        self._waiting[verb].append((request_id, verb))
        return "accepted", f"asked at {here}"

    def _ack(self, request_id: str, verb: str, status: str, message: str) -> None:
        assert self.folder is not None
        body = {"id": request_id, "verb": verb, "status": status, "message": message, "time": time.time()}
        with contextlib.suppress(OSError):
            (self.folder / ACKS_DIR).mkdir(parents=True, exist_ok=True)
            write_text_atomic(
                self.folder / ACKS_DIR / f"{request_id}.json", json.dumps(body) + "\n", durable=False
            )

    def _write_state(self, state: dict[str, Any]) -> None:
        """On a change of state at once; otherwise about once a second (`updated` says when)."""
        assert self.folder is not None
        key = (state["state"], state["outcome"], state["epochs"], state["batches"])
        now = time.monotonic()
        if key == self._written and now - self._written_at < STATE_EVERY:
            return
        with contextlib.suppress(OSError):
            write_text_atomic(
                self.folder / STATE_FILE, json.dumps({**state, "updated": time.time()}) + "\n", durable=False
            )
            self._written, self._written_at = key, now
