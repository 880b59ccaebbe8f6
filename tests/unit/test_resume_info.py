"""What a resume tells the user: β changed by another --epochs (headless line, app notification),
and a run's saved position read without torch (how `--resume` of a finished run is answered)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from textual.pilot import Pilot

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.checkpoint import saved_position
from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.metrics import MetricsWriter
from vae_tui.core.resume import beta_change
from vae_tui.core.runinfo import completion_note
from vae_tui.core.schedules import kl_weight
from vae_tui.core.train import train
from vae_tui.tui.app import make_app
from vae_tui.tui.cli import parse_request


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await pilot.pause(0.05)


def test_another_epochs_names_the_beta_of_the_epochs_left_before_and_after() -> None:
    """The issue's case: a 10-epoch run resumed after epoch 2 with --epochs 12."""
    note = beta_change(TrainConfig(epochs=10), TrainConfig(epochs=12), epoch=2)
    assert note == (
        "--epochs 12 (was 10) changes β for the epochs left (linear annealing divides by the number "
        "of epochs): epoch 3 0.2 → 0.167, epoch 4 0.3 → 0.25, epoch 5 0.4 → 0.333, …, "
        "epoch 12 (added) 0.917; epoch 2 was trained at 0.1"
    )
    # The values are the loop's own (kl_weight), under each schedule.
    assert f"{kl_weight(2, TrainConfig(epochs=12)):.3g}" == "0.167"
    # Stopped inside epoch 3: its first batches had the old β.
    mid = beta_change(TrainConfig(epochs=10), TrainConfig(epochs=12), epoch=2, batch=40)
    assert mid is not None and mid.endswith("; epoch 3's first 40 batches were trained at 0.2")
    # A finished run extended: β of the added epochs drops below the last trained one's.
    assert beta_change(TrainConfig(epochs=10), TrainConfig(epochs=12), epoch=10) == (
        "--epochs 12 (was 10) changes β for the epochs left (linear annealing divides by the number "
        "of epochs): epoch 11 (added) 0.833, epoch 12 (added) 0.917; epoch 10 was trained at 0.9"
    )


@pytest.mark.parametrize(
    ("saved", "config"),
    [
        (TrainConfig(epochs=10), TrainConfig(epochs=10)),  # same schedule
        (TrainConfig(epochs=10, kl_anneal="none"), TrainConfig(epochs=12, kl_anneal="none")),
        (TrainConfig(epochs=10, beta_max=0.0), TrainConfig(epochs=12, beta_max=0.0)),  # β is 0 throughout
    ],
)
def test_nothing_is_said_when_beta_does_not_change(saved: TrainConfig, config: TrainConfig) -> None:
    assert beta_change(saved, config, epoch=2) is None


def one_epoch_run(config: TrainConfig) -> Path:
    drive(train(config.with_(epochs=1, iwae_k=0)), [MetricsWriter()])  # as `--train-only --epochs 1`
    return Path(config.run_dir)


async def test_the_app_says_once_that_another_epochs_changes_beta(tiny_config: TrainConfig) -> None:
    run_dir = one_epoch_run(tiny_config)
    app = make_app(parse_request(["--resume", str(run_dir), "--epochs", "3"]))  # as the CLI builds it
    logger = logging.getLogger("vae_tui")
    handlers = list(logger.handlers)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.status.phase == "finished")
        notes = [n.message for n in app._notifications if "changes β" in n.message]
        assert notes == [
            "--epochs 3 (was 1) changes β for the epochs left (linear annealing divides by the "
            "number of epochs): epoch 2 (added) 0.333, epoch 3 (added) 0.667; epoch 1 was trained at 0"
        ]
        await pilot.press("q")
    assert logger.handlers == handlers  # the app's handler went with it


def test_a_run_killed_during_its_final_bound_is_not_complete(tiny_config: TrainConfig) -> None:
    """Killed after its last checkpoint but before the IWAE bound's row: a resume must compute the
    bound (the kill -9 fault test resumes such runs to the uninterrupted run's final row)."""
    run_dir = Path(tiny_config.run_dir)
    drive(train(tiny_config.with_(epochs=1)), [MetricsWriter()])  # iwae_k 4: a final row
    position = saved_position(run_dir / "checkpoint.pt")
    assert position is not None and completion_note(run_dir, position) is not None
    metrics = run_dir / "metrics.jsonl"
    rows = metrics.read_text().splitlines()
    metrics.write_text("".join(f"{r}\n" for r in rows if '"final"' not in r))
    assert completion_note(run_dir, position) is None
    note = completion_note(run_dir, position, iwae_k=0)  # `--iwae-k 0`: nothing left to do
    assert note is not None and "its IWAE bound was not computed" in note


def test_saved_position_reads_a_run_checkpoint_without_torch(
    tiny_config: TrainConfig, tmp_path: Path
) -> None:
    run_dir = one_epoch_run(tiny_config)
    full = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    position = saved_position(run_dir / "checkpoint.pt")
    config = TrainConfig.from_dict(full["config"])
    assert position == ckpt.SavedPosition(full["epoch"], full["batch"], full["step"], config)
    assert position.epoch == 1 and position.config.epochs == 1
    # Complete: said, with how to go on, and that the bound was never computed (iwae_k 0).
    note = completion_note(run_dir, position)
    assert note is not None and note.startswith(f"{run_dir} is already complete (1 of 1 epochs trained)")
    assert "--epochs N (N > 1)" in note and "its IWAE bound was not computed" in note
    assert completion_note(run_dir, position, epochs=2) is None  # more epochs asked for: work to do
    checkpoint = ckpt.read_run_checkpoint(run_dir / "checkpoint.pt")
    assert completion_note(run_dir, checkpoint) == note  # the same answer from the full load

    # Anything else is left to the full load (which says what is wrong with it).
    bare = tmp_path / "bare.pt"
    torch.save(full["model"], bare)
    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self) -> tuple:
            return (os.system, (f"touch {marker}",))

    fields = {"optimizer": Boom(), "config": {"epochs": 1}, "epoch": 1, "batch": 0, "step": 4}
    evil, foreign = tmp_path / "evil.pt", tmp_path / "foreign.pt"
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, **fields}, evil)
    torch.save(fields, foreign)  # the same keys, not ours: another program's checkpoint
    random_bytes = tmp_path / "random.pt"
    random_bytes.write_bytes(os.urandom(4096))
    assert saved_position(bare) is None and saved_position(random_bytes) is None
    assert saved_position(tmp_path / "missing.pt") is None
    assert saved_position(foreign) is None  # not taken for a run for having a run's keys
    assert saved_position(evil) == ckpt.SavedPosition(1, 0, 4, TrainConfig(epochs=1))  # plain fields ...
    assert not marker.exists()  # ... read; its code never ran


def test_a_saved_config_without_iwae_k_resumes_with_the_default(tiny_config: TrainConfig) -> None:
    """A config saved before a field existed takes `TrainConfig`'s default for it, on the fast path
    as in the resume: with K = 100 and no final row, a finished run still has its bound to compute
    (the fast path once read a missing K as 0, and called the run complete)."""
    run_dir = one_epoch_run(tiny_config)
    path = run_dir / "checkpoint.pt"
    data = torch.load(path, weights_only=True)
    del data["config"]["iwae_k"]
    torch.save(data, path)
    position = saved_position(path)
    assert position is not None and position.config.iwae_k == TrainConfig().iwae_k
    assert completion_note(run_dir, position) is None
    assert completion_note(run_dir, ckpt.read_run_checkpoint(path)) is None
