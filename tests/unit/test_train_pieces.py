"""The training loop's pieces on their own: the control polling between batches, the epoch tally."""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from typing import Any

import pytest
import torch

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.config import TrainConfig
from vae_tui.core.control import TrainControl
from vae_tui.core.events import BatchEnd, CheckpointSaved, ModelSnapshot, Paused, RunFinished
from vae_tui.core.loop_state import EpochTally, LoopState, TrainingDiverged, fresh_sums
from vae_tui.core.runlock import RunLock
from vae_tui.core.train import epoch_permutation, serve_control, start, train_batch


def drain(gen: Generator[Any, None, Any]) -> tuple[list[Any], Any]:
    """Every event of `gen`, and what it returned."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as done:
            return events, done.value


@pytest.fixture
def three_batches_in(tiny_config: TrainConfig) -> Iterator[tuple[LoopState, EpochTally]]:
    """A run set up as `train` does, 3 batches into its first epoch, none of them reported yet."""
    with RunLock() as lock:
        loop = start(tiny_config, None, None, lock)
        order = epoch_permutation(tiny_config.seed, 0, loop.x_train.shape[0])
        tally = EpochTally(0, tiny_config.epochs, loop.batches, 0.0, fresh_sums(), start=0.0)
        loop.sync_every = 10  # held back, as on an accelerator, so the polling must report them
        for _ in range(3):
            train_batch(loop, order, tally)
        yield loop, tally


def test_a_stop_reports_the_pending_batches_then_saves_then_finishes(
    three_batches_in: tuple[LoopState, EpochTally],
) -> None:
    loop, tally = three_batches_in
    rows = list(tally.pending)
    control = TrainControl()
    control.request_stop()
    events, next_step = drain(serve_control(loop, control, tally))
    assert [type(e) for e in events] == [BatchEnd, BatchEnd, BatchEnd, CheckpointSaved, RunFinished]
    assert [(e.epoch, e.batch, e.step) for e in events[:3]] == [(1, 1, 1), (1, 2, 2), (1, 3, 3)]
    saved, finished = events[3], events[4]
    assert (saved.reason, saved.epoch, saved.batch) == ("stop", 0, 3)
    assert (finished.status, finished.epochs_completed, finished.step) == ("stopped", 0, 3)
    assert next_step == "stopped"
    data = ckpt.read_checkpoint(saved.path)
    assert (data["epoch"], data["batch"], data["step"]) == (0, 3, 3)
    # The partial epoch saved holds the three batches, weighted by their size, for the resume.
    assert data["partial"]["images"] == 3 * 64
    assert data["partial"]["loss"] == sum(loss * 64 for loss, _, _ in rows)


def test_a_save_request_reports_first_and_training_goes_on(
    three_batches_in: tuple[LoopState, EpochTally],
) -> None:
    loop, tally = three_batches_in
    control = TrainControl()
    control.request_checkpoint()
    control.request_snapshot()
    events, next_step = drain(serve_control(loop, control, tally))
    assert [type(e) for e in events] == [BatchEnd, BatchEnd, BatchEnd, CheckpointSaved, ModelSnapshot]
    assert (events[3].reason, events[3].batch) == ("request", 3)
    assert (events[4].epoch, events[4].batch) == (0, 3)
    assert next_step == "train"
    assert not control.take_save_request() and not control.take_snapshot_request()  # served once


def test_a_pause_woken_by_a_snapshot_request_serves_it_and_stays_paused(
    three_batches_in: tuple[LoopState, EpochTally],
) -> None:
    loop, tally = three_batches_in
    control = TrainControl()
    control.pause()
    control.request_snapshot()  # wakes the wait at once: nothing here resumes it
    events, next_step = drain(serve_control(loop, control, tally))
    assert [type(e) for e in events] == [BatchEnd, BatchEnd, BatchEnd, Paused, ModelSnapshot]
    assert (events[3].epoch, events[3].batch, events[3].step, events[3].beta) == (1, 3, 3, 0.0)
    assert next_step == "paused"
    control.resume()
    assert drain(serve_control(loop, control, tally)) == ([], "train")  # all was reported already


@pytest.mark.parametrize("as_tensors", [False, True], ids=["cpu-floats", "accelerator-tensors"])
def test_the_tally_reports_positions_and_weights_the_sums_by_batch_size(as_tensors: bool) -> None:
    rows = [(3.0, 2.0, 2.0), (1.0, 0.5, 1.0)]
    tally = EpochTally(1, 3, 10, 0.5, fresh_sums(), start=0.0)
    tally.pending += [torch.tensor(r, dtype=torch.float64) for r in rows] if as_tensors else rows
    tally.sizes += [64, 32]
    events = list(tally.report(batch=5, step=15))
    assert [(e.epoch, e.epochs, e.batch, e.batches, e.step) for e in events] == [
        (2, 3, 4, 10, 14),
        (2, 3, 5, 10, 15),
    ]
    assert [(e.loss, e.bce, e.kld, e.beta) for e in events] == [(*r, 0.5) for r in rows]
    assert (tally.sums["loss"], tally.sums["bce"], tally.sums["kld"]) == (
        3.0 * 64 + 32,
        2.0 * 64 + 16,
        2.0 * 64 + 32,
    )
    assert tally.sums["images"] == 96
    assert not tally.pending and not tally.sizes


def test_the_tally_stops_on_a_non_finite_loss_naming_where() -> None:
    tally = EpochTally(1, 3, 10, 0.5, fresh_sums(), start=0.0)
    tally.pending += [(1.0, 1.0, 0.0), (math.nan, math.nan, 0.0)]
    tally.sizes += [64, 64]
    reported = []
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 2, batch 5"):
        reported.extend(tally.report(batch=5, step=15))
    assert [e.batch for e in reported] == [4]


def test_a_hold_delays_the_next_batch_and_a_stop_ends_it(tiny_config: TrainConfig) -> None:
    """`TrainControl.hold`: the loop starts no batch until it is over (a lower bound, so no
    timing flake), and a stop is served at once whatever hold was asked for."""
    import time

    from vae_tui.core.events import RunStarted
    from vae_tui.core.train import train

    control = TrainControl()
    seen: dict[str, float] = {}
    for event in train(tiny_config.with_(epochs=1, iwae_k=0), control):
        if isinstance(event, RunStarted):
            control.hold(0.5)
            seen["held"] = time.monotonic()
        elif isinstance(event, BatchEnd):
            seen["batch"] = time.monotonic()
            break
    assert seen["batch"] - seen["held"] >= 0.5

    control = TrainControl()
    control.hold(3600)
    assert control.holding
    control.request_stop()
    assert control.wait_out_hold() < 60
