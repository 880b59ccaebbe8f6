"""The training loop as an event stream: order, stop between batches, exact resume, divergence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vae_tui.core import checkpoint as ckpt
from vae_tui.core import train as train_module
from vae_tui.core.config import TrainConfig
from vae_tui.core.errors import ConfigError
from vae_tui.core.events import (
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    EpochImages,
    FinalEvaluation,
    ModelSnapshot,
    Paused,
    RunFinished,
    RunStarted,
)
from vae_tui.core.resume import load_resume
from vae_tui.core.train import TrainControl, TrainingDiverged, train


def kinds(events: list) -> list[str]:
    out: list[str] = []
    for e in events:
        name = type(e).__name__
        if not (out and out[-1] == name == "BatchEnd"):
            out.append(name)
    return out


def test_event_stream_order_and_contents(tiny_config: TrainConfig) -> None:
    events = list(train(tiny_config))
    per_epoch = ["BatchEnd", "EpochEnd", "EpochImages", "ModelSnapshot", "CheckpointSaved"]
    assert kinds(events) == [
        "RunStarted",
        "ModelSnapshot",
        *per_epoch,
        *per_epoch,
        "FinalEvaluation",
        "RunFinished",
    ]
    started = events[0]
    assert isinstance(started, RunStarted)
    assert (started.train_size, started.test_size, started.batches_per_epoch) == (512, 128, 8)
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert [b.step for b in batches] == list(range(1, 17))
    assert [b.batch for b in batches[:8]] == list(range(1, 9))
    assert {b.beta for b in batches[:8]} == {0.0} and {b.beta for b in batches[8:]} == {0.5}
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    # The epoch average is the per-image mean of the batch losses (all batches are 64 here).
    assert epochs[0].loss == pytest.approx(sum(b.loss for b in batches[:8]) / 8, rel=1e-9)
    assert epochs[1].loss == pytest.approx(epochs[1].bce + 0.5 * epochs[1].kld, rel=1e-6)
    assert epochs[1].test_loss == pytest.approx(epochs[1].test_bce + epochs[1].test_kld, rel=1e-6)
    images = [e for e in events if isinstance(e, EpochImages)]
    assert images[0].reconstructions.dtype.name == "uint8" and images[0].samples.shape == (242, 242)
    assert isinstance(events[-2], FinalEvaluation) and events[-2].results["iwae_k"] == 4
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    saved = ckpt.read_checkpoint(Path(tiny_config.run_dir) / "checkpoint.pt")
    assert (saved["epoch"], saved["batch"], saved["step"]) == (2, 0, 16)
    assert TrainConfig.from_dict(saved["config"]) == tiny_config
    assert json.loads((Path(tiny_config.run_dir) / "config.json").read_text())["latent_dim"] == 4


def test_training_changes_the_weights_and_evaluation_does_not(tiny_config: TrainConfig) -> None:
    snapshots = [e for e in train(tiny_config.with_(epochs=1)) if isinstance(e, ModelSnapshot)]
    before, after = snapshots[0].state, snapshots[1].state
    assert all(not torch.equal(before[k], after[k]) for k in before)
    from vae_tui.core.evaluate import heldout_elbo
    from vae_tui.core.model import VAE

    model = VAE(784, 32, 4)
    model.load_state_dict(after)
    heldout_elbo(model, torch.rand(10, 1, 28, 28))
    assert all(torch.equal(v, after[k]) for k, v in model.state_dict().items())


def run_until(config: TrainConfig, stop_after_step: int, resume: ckpt.RunCheckpoint | None = None) -> list:
    control = TrainControl()
    events = []
    for e in train(config, control, resume=resume):
        events.append(e)
        if isinstance(e, BatchEnd) and e.step == stop_after_step:
            control.request_stop()
    return events


def test_stop_is_honoured_between_batches_and_saves_the_exact_position(tiny_config: TrainConfig) -> None:
    events = run_until(tiny_config, stop_after_step=11)
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert (saved[-1].reason, saved[-1].epoch, saved[-1].batch) == ("stop", 1, 3)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "stopped"
    assert max(e.step for e in events if isinstance(e, BatchEnd)) == 11
    data = ckpt.read_checkpoint(saved[-1].path)
    assert (data["epoch"], data["batch"], data["step"]) == (1, 3, 11)


@pytest.mark.parametrize("stop_after_step", [3, 8, 11])
def test_resume_reproduces_an_uninterrupted_run_exactly(
    tiny_config: TrainConfig, tmp_path: Path, stop_after_step: int
) -> None:
    whole = [
        e for e in train(tiny_config.with_(run_dir=str(tmp_path / "whole"))) if isinstance(e, ModelSnapshot)
    ]
    run_until(tiny_config, stop_after_step)
    config, data = load_resume(tiny_config.run_dir, {})
    resumed_events = list(train(config, resume=data))
    resumed = [e for e in resumed_events if isinstance(e, ModelSnapshot)]
    assert resumed[-1].epoch == 2
    for k, v in whole[-1].state.items():
        assert torch.equal(v, resumed[-1].state[k]), k
    first_epoch_whole = [
        e for e in train(tiny_config.with_(run_dir=str(tmp_path / "again"))) if isinstance(e, EpochEnd)
    ]
    resumed_epochs = [e for e in resumed_events if isinstance(e, EpochEnd)]
    # The epoch that was cut in two still reports the average over all its batches.
    assert resumed_epochs[-1].loss == pytest.approx(first_epoch_whole[-1].loss, rel=1e-9)


def test_a_new_run_never_overwrites_an_existing_one(tiny_config: TrainConfig) -> None:
    list(train(tiny_config.with_(epochs=1, iwae_k=0)))
    with pytest.raises(ConfigError, match="--resume"):
        list(train(tiny_config))


def test_resume_refuses_contradicting_flags_and_accepts_more_epochs(tiny_config: TrainConfig) -> None:
    list(train(tiny_config.with_(epochs=1, iwae_k=0)))
    with pytest.raises(ConfigError, match="--latent-dim 8 \\(saved: 4\\)"):
        load_resume(tiny_config.run_dir, {"latent_dim": 8})
    with pytest.raises(ConfigError, match="--dataset"):
        load_resume(tiny_config.run_dir, {"dataset": "fashion-mnist"})
    config, data = load_resume(tiny_config.run_dir, {"epochs": 3})
    assert config.epochs == 3 and data.epoch == 1
    events = list(train(config, resume=data))
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [2, 3]
    saved = json.loads((Path(tiny_config.run_dir) / "config.json").read_text())
    assert saved["epochs"] == 3  # the accepted change is recorded


def test_nan_loss_stops_with_the_epoch_and_batch_and_keeps_the_checkpoint(
    tiny_config: TrainConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    list(train(tiny_config.with_(epochs=1, iwae_k=0)))
    good = (Path(tiny_config.run_dir) / "checkpoint.pt").read_bytes()
    real_load = train_module.load_split

    def poisoned(folder: Path, split: str, limit: int | None = None):
        data = real_load(folder, split, limit)
        if split == "train":  # one corrupt image, met as the 201st of epoch 2: batch 4
            data.images[train_module.epoch_permutation(0, 1, 512)[200]] = float("nan")
        return data

    monkeypatch.setattr(train_module, "load_split", poisoned)
    config, data = load_resume(tiny_config.run_dir, {"epochs": 2})
    events = []
    with pytest.raises(TrainingDiverged, match="nan at epoch 2, batch 4"):
        for e in train(config, resume=data):
            events.append(e)
    assert not any(isinstance(e, CheckpointSaved) for e in events)
    assert (Path(tiny_config.run_dir) / "checkpoint.pt").read_bytes() == good


def test_a_stop_during_the_final_evaluation_skips_it(tiny_config: TrainConfig) -> None:
    """The IWAE bound can take minutes; quitting must not wait for it."""
    control = TrainControl()
    events = []
    for e in train(tiny_config.with_(epochs=1, iwae_k=500), control):
        events.append(e)
        if isinstance(e, CheckpointSaved):
            control.request_stop()  # lands while the final evaluation runs
    assert not any(isinstance(e, FinalEvaluation) for e in events)
    assert isinstance(events[-1], RunFinished) and events[-1].epochs_completed == 1


def test_stop_is_polled_by_the_iwae_bound() -> None:
    from vae_tui.core.evaluate import EvaluationStopped, iwae_nll
    from vae_tui.core.model import VAE

    calls = []
    with pytest.raises(EvaluationStopped):
        iwae_nll(
            VAE(784, 8, 2),
            torch.rand(20, 784),
            50,
            budget=784 * 100,
            should_stop=lambda: bool(calls.append(1)) or len(calls) > 2,
        )
    assert len(calls) == 3


def test_pause_reports_everything_done_then_waits(tiny_config: TrainConfig) -> None:
    import threading

    control = TrainControl()
    events: list = []
    stream = train(tiny_config.with_(epochs=1, iwae_k=0), control)
    for e in stream:
        events.append(e)
        if isinstance(e, BatchEnd) and e.step == 3:
            control.pause()
            break
    paused = next(stream)
    assert isinstance(paused, Paused) and (paused.epoch, paused.batch, paused.step) == (1, 3, 3)
    threading.Timer(0.2, control.resume).start()
    after = next(stream)  # blocks until resumed, then trains on
    assert isinstance(after, BatchEnd) and after.step == 4
    stream.close()


def test_a_pause_at_an_epoch_boundary_reports_the_next_epochs_beta(tiny_config: TrainConfig) -> None:
    """Paused before epoch 2's first batch, the status showed epoch 1's β (0.00, not 0.50)."""
    import threading

    control = TrainControl()
    stream = train(tiny_config.with_(epochs=2, iwae_k=0), control)
    for e in stream:
        if isinstance(e, CheckpointSaved) and e.epoch == 1:
            control.pause()
            break
    paused = next(e for e in stream if isinstance(e, Paused))
    assert (paused.epoch, paused.batch, paused.step, paused.beta) == (2, 0, 8, 0.5)
    threading.Timer(0.1, control.resume).start()
    assert isinstance(next(stream), BatchEnd)
    stream.close()


def test_cores_busy_elsewhere_are_left_alone() -> None:
    """Torch threads beyond the free cores wait at every op for the one that lost its core
    (4–10× slower measured here), so a busy core elsewhere costs the run a thread."""
    import subprocess
    import sys
    import time

    from vae_tui.core.threads import BusyCores, busy_cores, torch_default_threads, training_threads

    if not Path("/proc/stat").is_file():
        pytest.skip("no /proc/stat: busy cores are not measured here")
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert busy_cores() >= 1
        assert training_threads() <= max(1, torch_default_threads() - 1)
        early = BusyCores()  # as a run starts it: on a side thread, while torch would import
        assert training_threads(busy=early) <= max(1, torch_default_threads() - 1)
    finally:
        spin.kill()
        spin.wait()
