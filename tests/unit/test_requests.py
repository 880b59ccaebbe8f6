"""The request channel (core/requests.py, core/request_server.py): a watcher's pause, resume,
save and stop reach a real training loop through files, each acknowledged with what happened;
the trainer's state file follows it; requests left from a dead trainer's time are never applied."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vae_tui.core import requests as rq
from vae_tui.core.config import TrainConfig
from vae_tui.core.control import TrainControl
from vae_tui.core.events import CheckpointSaved, Event, Paused, RunFinished
from vae_tui.core.request_server import RequestServer
from vae_tui.core.run import RunPlan, TrainingRun


def wait_until(condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `condition` until it is truthy (its value), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout} s: {condition}")


def final_ack(run_dir: str | Path, request_id: str) -> dict[str, Any] | None:
    ack = rq.read_ack(run_dir, request_id)
    return ack if ack is not None and ack["status"] in rq.FINAL else None


class Recorder:
    """A consumer that keeps the events it sees (the loop's own account, to compare acks with)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def close(self, state: str) -> None:
        pass


def start_run(config: TrainConfig) -> tuple[TrainingRun, Recorder, threading.Thread]:
    run = TrainingRun(RunPlan(config), threads=1)
    seen = Recorder()
    thread = threading.Thread(target=run.drive, kwargs={"after": [seen]}, daemon=True)
    thread.start()
    return run, seen, thread


def test_send_writes_one_request_file_and_refuses_unknown_verbs(tmp_path: Path) -> None:
    request_id = rq.send(tmp_path, "pause")
    (path,) = rq.pending_requests(tmp_path)
    body = json.loads(path.read_text())
    assert body["id"] == request_id and body["verb"] == "pause" and body["sent"] <= time.time()
    assert rq.read_ack(tmp_path, request_id) is None  # nobody has answered
    with pytest.raises(ValueError, match="unknown request"):
        rq.send(tmp_path, "explode")
    with pytest.raises(FileNotFoundError):
        rq.send(tmp_path / "nowhere", "pause")  # a watcher never creates a run folder
    assert not (tmp_path / "nowhere").exists()


def test_pause_save_resume_stop_reach_a_real_run_and_are_acknowledged(tiny_config: TrainConfig) -> None:
    config = tiny_config.with_(epochs=200, iwae_k=0)  # long enough to steer; stopped below
    run, seen, thread = start_run(config)
    run_dir = config.run_dir
    wait_until(lambda: (rq.read_state(run_dir) or {}).get("step", 0) > 0)

    paused = rq.send(run_dir, "pause")
    ack = wait_until(lambda: final_ack(run_dir, paused))
    event = next(e for e in seen.events if isinstance(e, Paused))
    assert ack["status"] == "done"
    assert ack["message"].startswith(
        f"paused at epoch {event.epoch}, batch {event.batch} (step {event.step})"
    )
    state = wait_until(lambda: (s := rq.read_state(run_dir)) and s["state"] == "paused" and s)
    assert (state["epoch"], state["batch"], state["step"]) == (event.epoch, event.batch, event.step)
    assert run.control.paused

    saved = rq.send(run_dir, "save")  # served while paused
    ack = wait_until(lambda: final_ack(run_dir, saved))
    save = next(e for e in seen.events if isinstance(e, CheckpointSaved) and e.reason == "request")
    assert ack["status"] == "done" and save.path in ack["message"] and Path(save.path).is_file()
    assert run.control.paused  # a save does not resume

    resumed = rq.send(run_dir, "resume")
    assert wait_until(lambda: final_ack(run_dir, resumed))["status"] == "done"
    wait_until(lambda: (rq.read_state(run_dir) or {}).get("step", 0) > event.step)

    stopped = rq.send(run_dir, "stop")
    ack = wait_until(lambda: final_ack(run_dir, stopped))
    thread.join(60)
    finished = next(e for e in seen.events if isinstance(e, RunFinished))
    assert finished.status == "stopped" and ack["status"] == "done" and "stopped" in ack["message"]
    assert any(isinstance(e, CheckpointSaved) and e.reason == "stop" for e in seen.events)
    state = rq.read_state(run_dir)
    assert state is not None and state["state"] == "finished" and state["outcome"] == "stopped"
    assert state["step"] == finished.step
    assert not rq.pending_requests(run_dir)  # the trainer removed every request it answered


def test_requests_sent_before_the_trainer_started_expire(tiny_config: TrainConfig) -> None:
    """A stop left from a killed trainer's time must not stop the run resumed after it."""
    config = tiny_config.with_(epochs=2, iwae_k=0)
    Path(config.run_dir).mkdir(parents=True)
    old_stop = rq.send(config.run_dir, "stop")
    old_pause = rq.send(config.run_dir, "pause")
    _, seen, thread = start_run(config)
    thread.join(120)
    finished = next(e for e in seen.events if isinstance(e, RunFinished))
    assert finished.status == "completed"  # not stopped by the old request
    assert not any(isinstance(e, Paused) for e in seen.events)
    for request_id in (old_stop, old_pause):
        ack = rq.read_ack(config.run_dir, request_id)
        assert ack is not None and ack["status"] == "expired"
    assert not rq.pending_requests(config.run_dir)


def test_a_pause_reaches_a_trainer_that_ends_first_is_refused_not_lost(tmp_path: Path) -> None:
    """Requests the run can no longer serve are answered (refused) when it ends."""
    control = TrainControl()
    server = RequestServer(control, interval=0.05)
    from vae_tui.core.events import RunStarted

    started = RunStarted({"epochs": 1, "iwae_k": 0}, "cpu", str(tmp_path), 8, 8, 1, 0, 0, None, None)
    server.handle(started)
    request_id = rq.send(tmp_path, "save")
    wait_until(lambda: rq.read_ack(tmp_path, request_id))  # accepted: the loop has not served it
    assert rq.read_ack(tmp_path, request_id)["status"] == "accepted"
    server.handle(RunFinished(1, 1, "completed", 0.1))
    server.close("success")
    ack = rq.read_ack(tmp_path, request_id)
    assert ack is not None and ack["status"] == "refused"
    late = rq.send(tmp_path, "pause")  # nobody polls any more: it waits, unanswered
    assert rq.read_ack(tmp_path, late) is None
    state = rq.read_state(tmp_path)
    assert state is not None and state["state"] == "finished" and state["outcome"] == "completed"


def test_unreadable_or_unknown_requests_are_refused_and_removed(tmp_path: Path) -> None:
    server = RequestServer(TrainControl(), interval=0.05)
    folder = rq.requests_dir(tmp_path)
    folder.mkdir()
    (folder / f"00000000000000000001-1-1{rq.REQUEST_SUFFIX}").write_text("{not json")
    body = {"id": "00000000000000000002-1-1", "verb": "explode", "sent": time.time() + 5}
    (folder / f"{body['id']}{rq.REQUEST_SUFFIX}").write_text(json.dumps(body))
    server.folder = folder
    server.poll()
    assert rq.read_ack(tmp_path, "00000000000000000002-1-1")["status"] == "refused"
    assert rq.read_ack(tmp_path, "00000000000000000001-1-1")["status"] == "refused"
    assert not rq.pending_requests(tmp_path)
    assert not server.control.paused and not server.control.stop_requested
