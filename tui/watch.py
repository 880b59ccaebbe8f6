"""`--watch RUN_DIR`: the app on a run another process trains, following its folder and
steering its trainer through the request channel (core/requests.py).

The watch job (a thread worker) polls `core.follow.Follower` a few times a second and hands its
events to the same `UiBridge` the training worker feeds, so the plots, views and status are
drawn by the code that draws the app's own training. What only watching has (the trainer's
liveness and state, the answers to requests) comes as the two messages below. The watcher never
takes the run's lock and writes only `requests/` (and `export/`, with `e`).

Keys: space pauses and resumes the trainer, s asks it to save now, x (twice within a few
seconds) stops it cleanly, as q does in its own app; q and ctrl+c leave the watcher only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual.worker import get_current_worker

from vae_tui.core.requests import RemoteControl

from .messages import Failed, UiBridge
from .run_display import RunDisplay
from .shutdown import ExitPolicy

POLL_SECONDS = 0.25
"""How often the watcher reads the run folder: as often as the training app redraws its plots."""
STOP_CONFIRM_SECONDS = 4.0
"""A second x within this stops the trainer; a lone press only says how."""
STATE_PHASE = {"running": "training", "paused": "training", "stopping": "stopping"}


@dataclass
class TrainerChanged(Message):
    """The watched run's trainer: `core.follow.TrainerSeen` (liveness and its state file)."""

    seen: Any


@dataclass
class Answered(Message):
    """The trainer's acknowledgement of one of this watcher's requests (`core/requests.py`)."""

    ack: dict[str, Any]


def watch(
    run_dir: str,
    control: RemoteControl,
    post: Any,
    interval: float = POLL_SECONDS,
    data: dict[str, Any] | None = None,
) -> None:
    """Follow `run_dir` until the watcher leaves (`control.request_stop`) or the worker is
    cancelled; a run whose data cannot be loaded is a fatal one-line error."""
    from vae_tui.core.errors import VaeTuiError  # noqa: PLC0415
    from vae_tui.core.follow import Follower, TrainerSeen  # noqa: PLC0415

    if Path(run_dir).exists() and not Path(run_dir).is_dir():
        post(Failed(f"--watch {run_dir} is a file, not a run folder", 2, fatal=True))
        return
    follower, bridge, worker = Follower(run_dir, data), UiBridge(post), get_current_worker()
    while not (control.stop_requested or worker.is_cancelled):
        try:
            events = follower.poll()
        except VaeTuiError as e:
            post(Failed(str(e), e.exit_code, fatal=True))
            return
        for event in events:
            if isinstance(event, TrainerSeen):
                bridge.close("polled")  # what came before it is drawn first
                post(TrainerChanged(event))
            else:
                bridge.handle(event)
        bridge.close("polled")  # one `Batches` a poll
        for ack in control.answers():
            post(Answered(ack))
        control.wait(interval)


class WatchMode(RunDisplay):
    """What `--watch` changes in the app (`app.WatchApp` puts it before `VaeApp`)."""

    BINDINGS = [  # noqa: RUF012
        Binding("q", "quit_clean", "Leave"),  # the watcher only: the trainer goes on
        Binding("x", "stop_trainer", "Stop trainer"),
    ]

    control: RemoteControl  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert self.request.watch is not None
        self.control = RemoteControl(self.request.watch)
        # q never waits for a trainer: it is another process's, and goes on.
        self.exits = ExitPolicy(self, self.control, lambda: False)  # type: ignore[arg-type]
        self.stop_armed = 0.0
        self.answers: list[dict[str, Any]] = []
        """The trainer's answers to this watcher's requests, as they came."""

    def start_work(self) -> None:
        run_dir = str(self.request.watch)
        self.status.run_dir, self.status.phase = run_dir, "waiting"
        self.status.watching = f"waiting for a run in {run_dir}"
        self.sub_title = f"watching {run_dir}"
        self.refresh_status()
        data = self.request.overrides  # (only --dataset, --data-dir, --test-limit reach here: cli.py)
        self.start_job(lambda: watch(run_dir, self.control, self.post_message, data=data), "watch")  # type: ignore[attr-defined]

    # -- the trainer, as seen -------------------------------------------------------------------
    def on_trainer_changed(self, message: TrainerChanged) -> None:
        seen, s = message.seen, self.status
        state = seen.state or {}
        name = state.get("state") if seen.liveness == "live" else None
        if seen.liveness == "live" and seen.trainer and state.get("pid") != seen.trainer.pid:
            name = "running"  # a new session (a resume) that has not written its state yet
        if name in STATE_PHASE and s.phase in ("finished", "stopped", "gone", "waiting"):
            s.final, s.ended_at, s.eval_skipped = None, None, False  # picked up again
            self.state.training = True
        paused = name == "paused"
        self.control.trainer_paused = paused
        if paused and not s.paused:
            s.pause()
        elif not paused and s.paused:
            s.resume()
        if paused:
            s.epoch, s.batch, s.step = (
                state.get("epoch", s.epoch),
                state.get("batch", s.batch),
                state.get("step", s.step),
            )
        self.training_active = name in ("running", "paused")
        if name in STATE_PHASE:
            s.phase = STATE_PHASE[name]
        elif name == "evaluating":
            s.evaluating(int(self.config.get("iwae_k") or 0))
        elif seen.liveness == "dead":
            s.phase = "gone"
            s.stop_clock()
        s.watching = trainer_words(seen)
        self.refresh_status()

    def on_answered(self, message: Answered) -> None:
        ack = message.ack
        self.answers.append(ack)
        if ack.get("status") == "accepted" and ack.get("verb") != "stop":
            return  # the `done` follows within a batch
        severity = "warning" if ack.get("status") in ("expired", "refused") else "information"
        self.notify(
            f"{ack.get('verb')}: {ack.get('status')} · {ack.get('message')}",
            title="Trainer",
            severity=severity,
        )

    # -- the keys ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_trainer":
            return self.training_keys_act
        if action == "refresh_model":
            return False  # the views follow the trainer's checkpoint; s saves a new one
        return super().check_action(action, parameters)

    def ask(self, verb: str, note: str) -> None:
        if not self.training_keys_act:
            self.notify("No trainer is running this run: nothing to ask.", timeout=4)
            return
        try:
            self.control.send(verb)
        except OSError as e:
            self.notify(f"cannot write the request: {e.strerror or e}", title="Trainer", severity="error")
            return
        self.notify(note, title="Trainer", timeout=3)

    def action_pause(self) -> None:
        if not self.control.paused:
            self.ask("pause", "Asked the trainer to pause…")

    def action_resume(self) -> None:
        if self.control.paused:
            self.ask("resume", "Asked the trainer to resume…")

    def action_save(self) -> None:
        self.ask("save", "Asked the trainer to save a checkpoint…")

    def action_stop_trainer(self) -> None:
        now = time.monotonic()
        if now - self.stop_armed > STOP_CONFIRM_SECONDS:
            self.stop_armed = now
            self.notify(
                f"Press x again within {STOP_CONFIRM_SECONDS:.0f} s to stop the trainer (it saves and "
                "finishes). q leaves the watcher and lets it train on.",
                title="Stop the trainer?",
                severity="warning",
                timeout=STOP_CONFIRM_SECONDS,
            )
            return
        self.stop_armed = 0.0
        self.ask("stop", "Asked the trainer to stop: it saves and finishes…")

    def action_quit_clean(self, code: int = 0) -> None:
        """Leave the watcher; the trainer goes on."""
        self.exit(return_code=code)


def trainer_words(seen: Any) -> str:
    """The status line's account of the trainer: who, and what it last said it was doing."""
    state = seen.state or {}
    if seen.liveness == "waiting":
        return "waiting for the run folder to appear"
    if seen.liveness == "dead":
        return "trainer gone (killed?): the last checkpoint is kept; --resume picks it up"
    at = f"epoch {state.get('epoch')}/{state.get('epochs')}, batch {state.get('batch')}"
    if seen.liveness == "live":
        who = seen.trainer.describe() if seen.trainer else "a trainer"
        return f"trainer {who} · {state.get('state', 'starting')} at {at}" if state else f"trainer {who}"
    if state.get("state") == "finished":
        return f"no trainer: the run {state.get('outcome') or 'finished'} at {at}"
    return "no trainer is running (the run is shown as its files left it)"
