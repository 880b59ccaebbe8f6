"""Following a run folder (core/follow.py): torn lines are never parsed early, a checkpoint cut
or replaced mid-read is read again, a folder appearing late is waited for, an old run shows its
whole history and says it is finished, and a trainer is told live from dead."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from vae_tui.core import requests as rq
from vae_tui.core.atomic import write_json_atomic
from vae_tui.core.config import TrainConfig
from vae_tui.core.control import TrainControl
from vae_tui.core.events import BatchEnd, EpochEnd, FinalEvaluation, ModelSnapshot, RunFinished, RunStarted
from vae_tui.core.follow import Follower, TrainerSeen
from vae_tui.core.metrics import read_history
from vae_tui.core.run import RunPlan, TrainingRun

from .test_requests import wait_until


def of(kind: type, events: list[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def new_folder(tmp_path: Path, config: TrainConfig) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    write_json_atomic(run / "config.json", config.with_(run_dir=str(run)).to_dict())
    return run


def append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def epoch_row(epoch: int, step: int) -> str:
    row = {"kind": "epoch", "epoch": epoch, "step": step, "loss": 500.0, "bce": 490.0, "kld": 10.0,
           "beta": 0.5, "test_loss": 501.0 - epoch, "test_bce": 491.0, "test_kld": 10.0}  # fmt: skip
    return json.dumps(row) + "\n"


def test_old_run_shows_its_whole_history_and_says_it_is_finished(old_run: Path) -> None:
    follower = Follower(old_run)
    events = follower.poll()
    (started,) = of(RunStarted, events)
    assert (started.start_epoch, started.start_step, started.batches_per_epoch) == (3, 12, 4)
    assert len(started.test_images) == 256  # the run's own test set, as its config says
    (snapshot,) = of(ModelSnapshot, events)
    assert snapshot.epoch == 3 and "fc1.weight" in snapshot.state
    (final,) = of(FinalEvaluation, events)
    assert final.results["neg_elbo"] == read_history(old_run).epochs[-1]["test_loss"]
    (finished,) = of(RunFinished, events)
    assert finished.status == "completed" and finished.epochs_completed == 3
    assert of(TrainerSeen, events)[-1].liveness == "none"
    assert follower.poll() == []  # nothing changed: nothing said again
    assert not (old_run / rq.REQUESTS_DIR).exists()  # watching writes nothing


def test_the_watchers_own_data_flags_pick_its_test_images(old_run: Path) -> None:
    """`--watch RUN --test-limit 40` browses 40 test images, whatever the run trained with."""
    (started,) = of(RunStarted, Follower(old_run, {"test_limit": 40}).poll())
    assert len(started.test_images) == 40


def test_torn_lines_appended_in_pieces_are_read_only_when_whole(
    tmp_path: Path, tiny_config: TrainConfig
) -> None:
    run = new_folder(tmp_path, tiny_config)
    follower = Follower(run)
    (started,) = of(RunStarted, follower.poll())
    assert started.start_step == 0
    row = json.dumps({"epoch": 1, "first_step": 1, "loss": [550.5, 549.25, 548.0]}) + "\n"
    append(run / "batches.jsonl", row[:17])  # torn mid-number
    assert of(BatchEnd, follower.poll()) == []
    append(run / "batches.jsonl", row[17:-1])  # whole but for its newline
    assert of(BatchEnd, follower.poll()) == []
    append(run / "batches.jsonl", "\n" + json.dumps({"epoch": 1, "first_step": 4, "loss": [547.0]})[:5])
    batches = of(BatchEnd, follower.poll())
    assert [(b.step, b.batch, b.loss) for b in batches] == [(1, 1, 550.5), (2, 2, 549.25), (3, 3, 548.0)]
    append(run / "batches.jsonl", json.dumps({"epoch": 1, "first_step": 4, "loss": [547.0]})[5:] + "\n")
    row = epoch_row(1, 8)
    append(run / "metrics.jsonl", row[:40])
    events = follower.poll()
    assert [b.step for b in of(BatchEnd, events)] == [4] and of(EpochEnd, events) == []
    append(run / "metrics.jsonl", row[40:])
    (epoch,) = of(EpochEnd, follower.poll())
    assert (epoch.epoch, epoch.step, epoch.test_loss) == (1, 8, 500.0)


def test_a_rewritten_file_is_read_again_without_repeating_steps(
    tmp_path: Path, tiny_config: TrainConfig
) -> None:
    """A resume trims rows past its checkpoint and rewrites the file (a new inode)."""
    run = new_folder(tmp_path, tiny_config)
    follower = Follower(run)
    follower.poll()
    append(run / "batches.jsonl", json.dumps({"epoch": 1, "first_step": 1, "loss": [5.0, 4.0, 3.0]}) + "\n")
    assert len(of(BatchEnd, follower.poll())) == 3
    rewritten = json.dumps({"epoch": 1, "first_step": 1, "loss": [5.0, 4.0]}) + "\n"
    tmp = run / ".batches.tmp"
    tmp.write_text(rewritten + json.dumps({"epoch": 1, "first_step": 3, "loss": [3.0, 2.0]}) + "\n")
    tmp.replace(run / "batches.jsonl")
    assert [b.step for b in of(BatchEnd, follower.poll())] == [4]


def test_a_checkpoint_cut_or_replaced_mid_read_is_read_again(
    tmp_path: Path, tiny_config: TrainConfig, old_run: Path
) -> None:
    run = new_folder(tmp_path, tiny_config)
    follower = Follower(run)
    follower.poll()
    whole = (old_run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(whole[: len(whole) // 2])  # a writer not done yet
    assert of(ModelSnapshot, follower.poll()) == []  # no crash, nothing half-read
    assert of(ModelSnapshot, follower.poll()) == []
    shutil.copy(old_run / "checkpoint.pt", run / ".checkpoint.pt.tmp")
    (run / ".checkpoint.pt.tmp").replace(run / "checkpoint.pt")
    (snapshot,) = of(ModelSnapshot, follower.poll())
    assert snapshot.epoch == 3
    assert of(ModelSnapshot, follower.poll()) == []  # the same file is not read twice


def test_a_folder_that_appears_after_the_watcher_started(tmp_path: Path, tiny_config: TrainConfig) -> None:
    follower = Follower(tmp_path / "run")
    events = follower.poll()
    assert events == [TrainerSeen("waiting")]
    assert follower.poll() == []
    (tmp_path / "run").mkdir()
    assert follower.poll() == []  # a folder without config.json is not a run yet
    new_folder_in = tmp_path / "run"
    write_json_atomic(new_folder_in / "config.json", tiny_config.with_(run_dir=str(new_folder_in)).to_dict())
    events = follower.poll()
    assert len(of(RunStarted, events)) == 1 and of(TrainerSeen, events)[0].liveness == "none"


def test_liveness_of_a_real_trainer_then_of_a_dead_one(tiny_config: TrainConfig) -> None:
    config = tiny_config.with_(epochs=100, iwae_k=0)
    control = TrainControl()
    run = TrainingRun(RunPlan(config), control, threads=1)
    thread = threading.Thread(target=run.drive, daemon=True)
    thread.start()
    follower = Follower(config.run_dir)
    seen: list[Any] = []

    def live_and_moving() -> bool:
        seen.extend(follower.poll())
        looks = of(TrainerSeen, seen)
        return bool(looks) and looks[-1].liveness == "live" and len(of(BatchEnd, seen)) > 0

    wait_until(live_and_moving)
    assert of(TrainerSeen, seen)[-1].trainer.pid is not None
    steps = [b.step for b in of(BatchEnd, seen)]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    control.request_stop()
    thread.join(60)
    seen.clear()
    wait_until(lambda: of(RunFinished, seen.extend(follower.poll()) or seen))
    assert of(RunFinished, seen)[0].status == "stopped"
    assert of(TrainerSeen, seen)[-1].liveness == "none"
    # A trainer killed mid-run leaves a state file that says it works, and no lock: dead.
    state = rq.read_state(config.run_dir)
    assert state is not None
    (rq.requests_dir(config.run_dir) / rq.STATE_FILE).write_text(json.dumps({**state, "state": "running"}))
    dead = Follower(config.run_dir)
    looks = [of(TrainerSeen, dead.poll()) for _ in range(3)]
    assert looks[-1] == [] or looks[-1][-1].liveness == "dead"
    assert [s.liveness for ls in looks for s in ls][-1] == "dead"
    assert of(RunFinished, [e for _ in range(2) for e in dead.poll()]) == []  # gone, not finished


def test_batch_losses_are_written_during_the_epoch_not_only_at_its_end(tmp_path: Path) -> None:
    """A watcher's batch curve moves within an epoch: rows every `every` seconds (0 here: each
    batch), never one spanning two epochs; the readers merge them by step as before."""
    from vae_tui.core.metrics import MetricsWriter, read_metrics

    writer = MetricsWriter(every=0.0)
    writer.handle(RunStarted({}, "cpu", str(tmp_path), 8, 8, 2, 0, 0, None, None))
    for step in (1, 2, 3):
        writer.handle(BatchEnd(1, 2, step, 2 if step < 3 else 1, step, 500.0 - step, 0.0, 0.0, 0.0))
    rows = read_metrics(tmp_path / "batches.jsonl")
    assert [(r["epoch"], r["first_step"], r["loss"]) for r in rows] == [
        (1, 1, [499.0]),
        (1, 2, [498.0]),
        (1, 3, [497.0]),
    ]
    assert read_history(tmp_path).steps == [1, 2, 3]
    slow = MetricsWriter(every=3600.0)
    slow.handle(RunStarted({}, "cpu", str(tmp_path / "b"), 8, 8, 2, 0, 0, None, None))
    (tmp_path / "b").mkdir()
    slow.handle(BatchEnd(1, 2, 1, 2, 1, 1.0, 0.0, 0.0, 0.0))
    slow.handle(BatchEnd(2, 2, 1, 2, 2, 2.0, 0.0, 0.0, 0.0))  # a new epoch closes the row before
    slow.close("aborted")
    rows = read_metrics(tmp_path / "b" / "batches.jsonl")
    assert [(r["epoch"], r["first_step"], r["loss"]) for r in rows] == [(1, 1, [1.0]), (2, 2, [2.0])]
