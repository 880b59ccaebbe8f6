"""The request channel in a run folder: how a watcher asks the trainer to pause, resume, save or
stop, and how the trainer answers. Plain files, no signals: a PID read from a file may name
another process by now, and a file works the same over SSH, tmux and shared folders.

`RUN_DIR/requests/` holds (every file written atomically, `core/atomic.py`):
- `<id>.request.json` — one request, written by a watcher (`send`):
  `{"id", "verb": "pause"|"resume"|"save"|"stop", "sent": unix time, "pid", "host"}`. Only the
  trainer removes it, once it has answered it. Ids sort by the time they were sent.
- `acks/<id>.json` — the trainer's answer: `{"id", "verb", "status", "message", "time"}` where
  status is `accepted` (applied; the loop has not yet confirmed), `done` (`message` says what
  happened, e.g. "paused at epoch 3, batch 120 (step 1058)", from the loop's own events),
  `expired` (sent before this trainer started: see below) or `refused` (e.g. the run is over).
- `state.json` — the trainer's own account, rewritten on every change and about once a second:
  `{"state": "running"|"paused"|"stopping"|"evaluating"|"finished", "outcome", "epoch", "epochs",
  "batch", "batches", "step", "epochs_done", "pid", "host", "started", "updated"}`.

A request sent before the trainer that reads it started (`sent` < its start) is never applied,
only acknowledged as `expired`: it was meant for a trainer that has since gone (killed, or
stopped), and a resumed run must not pause or stop on its own because of it. The trainer's
side is `core/request_server.py`; whether a trainer lives at all is `runlock.trainer`, not the
state file (a killed trainer leaves its last state behind).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic

REQUESTS_DIR = "requests"
ACKS_DIR = "acks"
STATE_FILE = "state.json"
REQUEST_SUFFIX = ".request.json"
VERBS = ("pause", "resume", "save", "stop")
FINAL = frozenset({"done", "expired", "refused"})
"""Ack statuses after which nothing more will be said about a request."""

_counter = itertools.count(1)


def requests_dir(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / REQUESTS_DIR


def read_json(path: Path) -> dict[str, Any] | None:
    """A small JSON object written atomically, or None (missing, unreadable, not an object)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def send(run_dir: str | os.PathLike[str], verb: str) -> str:
    """Ask the trainer of `run_dir` for `verb`; the request's id (for `read_ack`). OSError if the
    folder cannot be written (the caller words it); the run folder itself is never created."""
    if verb not in VERBS:
        raise ValueError(f"unknown request {verb!r}; one of {', '.join(VERBS)}")
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(2, "no such run folder", str(run))
    folder = requests_dir(run)
    folder.mkdir(exist_ok=True)
    sent = time.time()
    request_id = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter)}"
    body = {"id": request_id, "verb": verb, "sent": sent, "pid": os.getpid(), "host": socket.gethostname()}
    write_text_atomic(folder / f"{request_id}{REQUEST_SUFFIX}", json.dumps(body) + "\n", durable=False)
    return request_id


def read_ack(run_dir: str | os.PathLike[str], request_id: str) -> dict[str, Any] | None:
    """The trainer's latest answer to a request, or None while it has not picked it up."""
    return read_json(requests_dir(run_dir) / ACKS_DIR / f"{request_id}.json")


def read_state(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The trainer's last account of itself (possibly a dead trainer's: ask `runlock.trainer`)."""
    return read_json(requests_dir(run_dir) / STATE_FILE)


def pending_requests(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The request files waiting for the trainer, oldest first (temp files are never listed)."""
    try:
        return sorted(
            p for p in requests_dir(run_dir).glob(f"*{REQUEST_SUFFIX}") if not p.name.startswith(".")
        )
    except OSError:
        return []


class RemoteControl:
    """`TrainControl`'s face for a watcher: the same calls, sent to another process's trainer as
    requests. `paused` is what the trainer has acknowledged, not what was asked; `request_stop`
    ends only the watcher's own polling (the app calls it whenever it closes), while stopping
    the trainer is an explicit `send("stop")`."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self._lock = threading.Lock()
        self._sent: dict[str, str] = {}  # request id -> verb, until its final answer is read
        self._seen: dict[str, str] = {}  # request id -> the last status reported
        self._leave = threading.Event()
        self.trainer_paused = False
        """The trainer's state file says paused (set by the watch worker)."""

    def send(self, verb: str) -> str:
        request_id = send(self.run_dir, verb)
        with self._lock:
            self._sent[request_id] = verb
        return request_id

    def pause(self) -> None:
        self.send("pause")

    def resume(self) -> None:
        self.send("resume")

    def request_checkpoint(self) -> None:
        self.send("save")

    def request_stop(self) -> None:
        """The watcher is leaving: stop following (never the trainer)."""
        self._leave.set()

    def request_snapshot(self) -> None:
        """The views follow the trainer's checkpoint; there are no live weights to ask for."""

    def hold(self, seconds: float) -> None:
        """The trainer is another process: a key press here costs it nothing."""

    def wait(self, seconds: float) -> None:
        """Sleep between polls, waking at once when the watcher leaves."""
        self._leave.wait(seconds)

    @property
    def paused(self) -> bool:
        return self.trainer_paused

    @property
    def stop_requested(self) -> bool:
        return self._leave.is_set()

    def answers(self) -> list[dict[str, Any]]:
        """Acks of sent requests not reported before (each status once); finished ones are
        forgotten."""
        with self._lock:
            sent = dict(self._sent)
        news = []
        for request_id, verb in sent.items():
            ack = read_ack(self.run_dir, request_id)
            if ack is None or ack.get("status") == self._seen.get(request_id):
                continue
            self._seen[request_id] = str(ack.get("status"))
            news.append({"verb": verb, **ack})
            if ack.get("status") in FINAL:
                with self._lock:
                    self._sent.pop(request_id, None)
                self._seen.pop(request_id, None)
        return news
