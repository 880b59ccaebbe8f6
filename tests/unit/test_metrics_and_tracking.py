"""metrics.jsonl survives torn writes; SwanLab writes a real offline log and never stops training."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.metrics import MetricsWriter, read_history, read_metrics
from vae_tui.core.run import standard_consumers
from vae_tui.core.tracking import SwanLabTracker
from vae_tui.core.train import train


def test_torn_last_line_is_skipped_and_cut_before_appending(tiny_config: TrainConfig) -> None:
    drive(train(tiny_config.with_(epochs=1, iwae_k=0)), [MetricsWriter()])
    path = Path(tiny_config.run_dir) / "metrics.jsonl"
    with open(path, "a") as f:
        f.write('{"kind": "epoch", "epoch": 2, "lo')  # a kill in the middle of a write
    assert [r["epoch"] for r in read_metrics(path)] == [1]
    from vae_tui.core.resume import load_resume

    config, data = load_resume(tiny_config.run_dir, {"epochs": 2, "iwae_k": 4})
    drive(train(config, resume=data), [MetricsWriter()])
    lines = path.read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 2]  # epoch rows, then the final row
    assert [json.loads(line)["kind"] for line in lines] == ["epoch", "epoch", "final"]


def test_read_metrics_tolerates_garbage(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"epoch": 1}\n\xff\xfe not json\n[1, 2]\n{"epoch": 2}\n{"epo')
    assert read_metrics(path) == [{"epoch": 1}, {"epoch": 2}]
    assert read_metrics(tmp_path / "missing.jsonl") == []


def swanlab_files(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "swanlab").glob("run-*/run-*.swanlab"))


def test_offline_swanlab_run_is_written_under_the_run_dir(tiny_config: TrainConfig) -> None:
    config = tiny_config.with_(swanlab="offline", epochs=1, iwae_k=0)
    consumers = standard_consumers(config)
    drive(train(config), consumers)
    run_dir = Path(config.run_dir)
    logs = swanlab_files(run_dir)
    assert len(logs) == 1 and logs[0].stat().st_size > 0
    media = list(logs[0].parent.glob("media/image/*.png"))
    assert len(media) == 2  # the reconstruction grid and the sample grid of epoch 1
    tracker = next(c for c in consumers if isinstance(c, SwanLabTracker))
    assert tracker.active_mode == "offline"


def test_swanlab_failure_is_one_warning_and_training_goes_on(
    tiny_config: TrainConfig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import swanlab

    calls = {"n": 0}

    def flaky_log(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(swanlab, "log", flaky_log)
    logging.getLogger("vae_tui").propagate = True
    config = tiny_config.with_(swanlab="offline")
    with caplog.at_level(logging.WARNING, logger="vae_tui"):
        finished = drive(train(config), standard_consumers(config))
    assert finished is not None and finished.status == "completed" and finished.epochs_completed == 2
    warnings = [r for r in caplog.records if "SwanLab" in r.getMessage()]
    assert len(warnings) == 1 and "disk on fire" in warnings[0].getMessage()
    assert calls["n"] == 1  # after the first failure, nothing more is sent to SwanLab


def test_swanlab_init_failure_is_survived(tiny_config: TrainConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    import swanlab

    def no_init(*args: object, **kwargs: object) -> None:
        raise ImportError("swanlab is broken")

    monkeypatch.setattr(swanlab, "init", no_init)
    config = tiny_config.with_(swanlab="offline", epochs=1, iwae_k=0)
    finished = drive(train(config), standard_consumers(config))
    assert finished is not None and finished.status == "completed"
    assert (Path(config.run_dir) / "metrics.jsonl").exists()


def test_cloud_without_key_falls_back_to_offline(
    tiny_config: TrainConfig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SWANLAB_API_KEY", raising=False)
    logging.getLogger("vae_tui").propagate = True
    config = tiny_config.with_(swanlab="cloud", epochs=1, iwae_k=0)
    consumers = standard_consumers(config)
    with caplog.at_level(logging.WARNING, logger="vae_tui"):
        drive(train(config), consumers)
    tracker = next(c for c in consumers if isinstance(c, SwanLabTracker))
    assert tracker.active_mode == "offline"
    assert any("SWANLAB_API_KEY" in r.getMessage() for r in caplog.records)
    assert len(swanlab_files(Path(config.run_dir))) == 1


def test_batch_losses_survive_a_stop_mid_epoch_a_kill_and_a_resume(tiny_config: TrainConfig) -> None:
    """batches.jsonl lets a resumed or browsed run draw its whole curve: no hole where it
    stopped, nothing twice, nothing past the checkpoint."""
    from vae_tui.core.control import TrainControl
    from vae_tui.core.events import BatchEnd
    from vae_tui.core.resume import load_resume

    reference = tiny_config.with_(epochs=3, iwae_k=0, run_dir=str(Path(tiny_config.run_dir).parent / "ref"))
    drive(train(reference), [MetricsWriter()])
    whole = read_history(reference.run_dir)
    assert whole.steps == list(range(1, 25))  # 3 epochs of 8 batches
    assert [r["epoch"] for r in whole.epochs] == [1, 2, 3]
    assert len(set(whole.losses)) > 20 and whole.losses[-1] < whole.losses[0]

    config = reference.with_(run_dir=tiny_config.run_dir)
    control = TrainControl()

    def stopping_at_step_11():
        for event in train(config, control):
            yield event
            if isinstance(event, BatchEnd) and event.step == 11:
                control.request_stop()

    drive(stopping_at_step_11(), [MetricsWriter()])
    assert read_history(config.run_dir).steps == list(range(1, 12))  # the stopped epoch's 3 too
    batches = Path(config.run_dir) / "batches.jsonl"
    with open(batches, "a") as f:  # a kill after logging batches the checkpoint does not hold
        f.write(json.dumps({"epoch": 2, "first_step": 12, "loss": [9.9] * 3}) + '\n{"epoch": 2, "fi')
    assert read_history(config.run_dir, upto_step=11).steps == list(range(1, 12))

    resumed_config, data = load_resume(config.run_dir, {})
    drive(train(resumed_config, resume=data), [MetricsWriter()])
    resumed = read_history(config.run_dir)
    assert resumed.steps == whole.steps
    assert resumed.losses == whole.losses  # exact resume: the same losses, batch for batch
    assert [r["epoch"] for r in resumed.epochs] == [1, 2, 3]
    assert 9.9 not in resumed.losses and batches.read_bytes().endswith(b"\n")
    assert all(9.9 not in row["loss"] for row in read_metrics(batches))  # dropped, not just hidden


def test_the_tracker_knows_its_log_folders_and_the_command_that_uploads_them(
    tiny_config: TrainConfig,
) -> None:
    """Offline, each session of a resumed run writes its own run-<time>-<id> folder (same id):
    the upload command names them all, oldest first, so `swanlab sync` replays them in order."""
    from vae_tui.core.resume import load_resume
    from vae_tui.core.tracking import saved_run_id

    config = tiny_config.with_(swanlab="offline", epochs=1, iwae_k=0)
    run_dir = Path(config.run_dir)
    first = standard_consumers(config)
    drive(train(config), first)
    tracker = next(c for c in first if isinstance(c, SwanLabTracker))
    (folder,) = [p.parent for p in swanlab_files(run_dir)]
    assert (tracker.tracking, tracker.run_id, tracker.log_dir) == (True, saved_run_id(run_dir), folder)
    assert tracker.sync_command() == f"swanlab sync {folder}"

    tick = int(time.time())  # SwanLab names its folders to the second: keep the two apart
    while int(time.time()) == tick:
        time.sleep(0.05)
    resumed_config, data = load_resume(run_dir, {"epochs": 2})
    second = standard_consumers(resumed_config)
    drive(train(resumed_config, resume=data), second)
    resumed = next(c for c in second if isinstance(c, SwanLabTracker))
    folders = [p.parent for p in swanlab_files(run_dir)]
    assert len(folders) == 2 and folders[0] == folder and resumed.log_dir == folders[1]
    assert resumed.run_id == tracker.run_id
    assert resumed.sync_command() == f"swanlab sync {folders[0]} {folders[1]}"
    assert SwanLabTracker("disabled").sync_command() is None


@pytest.mark.parametrize(("setting", "snapshot"), [("auto", False), ("on", True), ("off", False)])
def test_swanlab_system_probes_follow_the_monitor_setting(
    tiny_config: TrainConfig, setting: str, snapshot: bool
) -> None:
    """On a CPU, `auto` leaves SwanLab's probes off; `on` turns them on (their environment
    snapshot, requirements.txt, shows it in the offline log)."""
    config = tiny_config.with_(swanlab="offline", swanlab_monitor=setting, epochs=1, iwae_k=0)
    consumers = standard_consumers(config)
    drive(train(config), consumers)
    tracker = next(c for c in consumers if isinstance(c, SwanLabTracker))
    assert tracker.monitor is snapshot
    assert (tracker.log_dir / "files" / "requirements.txt").exists() is snapshot


def test_probes_are_on_for_gpu_runs_only_by_default() -> None:
    from vae_tui.core.swanlab_load import probes_on

    assert probes_on("auto", "cuda:0") and probes_on("auto", "mps")
    assert not probes_on("auto", "cpu")
    assert probes_on("on", "cpu") and not probes_on("off", "cuda")


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_tracker_thread_runs_only_on_idle_cores(tiny_config: TrainConfig) -> None:
    """It and SwanLab's threads (which inherit its policy) never take a core from torch's."""
    import threading

    from vae_tui.core.swanlab_load import run_when_idle

    seen = []

    def probe() -> None:
        run_when_idle()
        seen.append(os.sched_getscheduler(0))

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert seen == [os.SCHED_IDLE]
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the caller's own thread is untouched


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
@pytest.mark.parametrize(("free", "idle"), [(True, True), (False, False)])
def test_swanlab_yields_cores_only_when_torch_has_them_all(
    tiny_config: TrainConfig, free: bool, idle: bool
) -> None:
    """A CPU run that found every core free: SwanLab's threads run only on idle ones. Beside
    another busy process they run normally (an idle-only thread holding the GIL could stall
    training for a second), and so on a GPU run."""
    from vae_tui.core.swanlab_load import idle_only

    config = tiny_config.with_(swanlab="offline", epochs=1, iwae_k=0)
    consumers = standard_consumers(config)
    tracker = next(c for c in consumers if isinstance(c, SwanLabTracker))
    tracker.cores_were_free = free
    drive(train(config), consumers)
    assert tracker.idle_only is idle
    assert tracker.thread_policy == (os.SCHED_IDLE if idle else os.SCHED_OTHER)
    assert tracker.tracking  # and it logged all the same
    assert not idle_only("cuda:0", True) and idle_only("cpu", True)
