"""The fake event stream the app tests use must stay the stream `train()` yields: same events,
same order, same positions. (Were the loop to change, app tests on a stale fake would pass on
events the app never gets.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vae_tui.core.config import TrainConfig
from vae_tui.core.control import TrainControl
from vae_tui.core.events import BatchEnd, CheckpointSaved, Event, RunFinished
from vae_tui.core.run import RunPlan
from vae_tui.core.train import train

from .fake_stream import FakeRun


def shape(event: Event) -> tuple[Any, ...]:
    """What the app relies on: the kind of event and where in the run it is."""
    keys = ("epoch", "batch", "step", "reason", "status", "start_epoch", "start_step", "batches_per_epoch")
    return (type(event).__name__, *(getattr(event, k, None) for k in keys))


class StopAt:
    """Asks the loop to stop after `step`, as a key press between batches would."""

    def __init__(self, control: TrainControl, step: int | None) -> None:
        self.control, self.step = control, step

    def handle(self, event: Event) -> None:
        if isinstance(event, BatchEnd) and event.step == self.step:
            self.control.request_stop()

    def close(self, state: str) -> None:
        pass


@pytest.mark.parametrize("stop_at", [None, 5])
def test_the_fake_stream_yields_what_train_yields(
    tmp_path: Path, mnist_dir: Path, stop_at: int | None
) -> None:
    config = TrainConfig(
        epochs=2, batch_size=64, hidden_dim=32, latent_dim=4, train_limit=256, test_limit=64,
        iwae_k=4, swanlab="disabled", device="cpu", run_dir=str(tmp_path / "real"),
    )  # fmt: skip
    control = TrainControl()
    stopper = StopAt(control, stop_at)
    real: list[Event] = []
    for event in train(config, control):
        real.append(event)
        stopper.handle(event)

    fake = FakeRun(
        RunPlan(config.with_(run_dir=str(tmp_path / "fake"))),
        TrainControl(),
        run_dir=tmp_path,
        stop_at_step=stop_at,
    )
    fake.drive()
    assert [shape(e) for e in fake.events] == [shape(e) for e in real]
    assert isinstance(real[-1], RunFinished)
    if stop_at is not None:
        assert [e.reason for e in real if isinstance(e, CheckpointSaved)][-1] == "stop"
