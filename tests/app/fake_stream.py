"""A training run without training: the real event records, in the loop's order, for app tests
that are about what the app does with the stream rather than about the loop itself.

`FakeRuns` is a `start_run` for `make_app`: the app plans the run from its request as usual and
gets back a `FakeRun`, which it drives like `core/run.py`'s `TrainingRun` — through the real
`core.consumers.drive`, honouring the real `TrainControl` between batches as `core/train.py`
does (pause, stop, save and snapshot requests). The events are those `train()` yields, in its
order, and agree with each other: the losses are a smooth curve with β from `kl_weight`, the
epoch averages are the batches' weighted means, the held-out numbers and grids are computed from
the weights in the snapshots (a real small model, `tests/data/tiny-vae-state_dict.pt`, blended
from its initial weights at epoch 0 to its trained ones at the last epoch) on real MNIST test
images. Nothing is written: `CheckpointSaved` names a checkpoint no one saved.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import Consumer, drive
from vae_tui.core.control import TrainControl
from vae_tui.core.data import load_split, resolve_dataset_dir
from vae_tui.core.evaluate import evaluate, heldout_elbo
from vae_tui.core.events import (
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    EpochImages,
    Event,
    FinalEvaluation,
    ModelSnapshot,
    Paused,
    RunFinished,
    RunStarted,
)
from vae_tui.core.grids import PREVIEW_IMAGES, preview_grids, preview_latents, traversal_grid
from vae_tui.core.model import VAE
from vae_tui.core.run import RunPlan
from vae_tui.core.schedules import kl_weight

from ..helpers import TINY_MODEL

TEST_IMAGES = 64
SECONDS_PER_BATCH = 0.01
"""The training time each batch is reported to take (the fake takes microseconds)."""


@functools.cache
def trained_state() -> dict[str, torch.Tensor]:
    return torch.load(TINY_MODEL, weights_only=True)


@functools.cache
def test_split(limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    split = load_split(resolve_dataset_dir("mnist"), "test", limit)
    return split.images, split.labels


def batch_terms(step: int, beta: float) -> tuple[float, float, float]:
    """(loss, BCE, KLD) of a batch: BCE falling, KLD rising as the code is used, a little jitter."""
    progress = 1 - math.exp(-step / 40)
    bce = 200 - 110 * progress + 3 * math.sin(step * 1.7)
    kld = 4 + 16 * progress + 0.5 * math.cos(step * 2.3)
    return bce + beta * kld, bce, kld


class FakeRun:
    """Drives the stream once, like `TrainingRun`: `tracker`, `started`, `run_dir`, `drive`.

    `pause_at_step` / `stop_at_step`: after that many steps the run asks its own control to pause
    or stop, as a key press would, so a test knows exactly where the loop honours it.
    `batch_sleep`: real seconds each batch takes (0: as fast as the consumers go)."""

    def __init__(
        self,
        plan: RunPlan,
        control: TrainControl,
        *,
        run_dir: Path,
        pause_at_step: int | None = None,
        stop_at_step: int | None = None,
        batch_sleep: float = 0.0,
    ) -> None:
        state = trained_state()
        hidden, inputs = state["fc1.weight"].shape
        latent = state["fc_mu.weight"].shape[0]
        config = plan.config
        self.config: TrainConfig = config.with_(
            run_dir=config.run_dir or str(run_dir),
            hidden_dim=hidden,
            latent_dim=latent,
            input_dim=inputs,
            test_limit=config.test_limit or TEST_IMAGES,
            device="cpu",
        )
        self.control = control
        self.pause_at_step = pause_at_step
        self.stop_at_step = stop_at_step
        self.batch_sleep = batch_sleep
        self.tracker = None
        self.started = False
        self.run_dir: str | None = config.run_dir
        self.events: list[Event] = []
        """Everything the stream yielded, in order: what the app should have been told."""

        with torch.random.fork_rng(devices=[]):  # the initial weights, without moving torch's RNG
            torch.manual_seed(self.config.seed)
            initial = VAE(inputs, hidden, latent).state_dict()
        self.initial = {k: v.detach().clone() for k, v in initial.items()}

    # -- the model at a point of the run -------------------------------------------------------
    def state_at(self, epoch: int, batch: int = 0) -> dict[str, torch.Tensor]:
        """The weights after `epoch` epochs and `batch` batches: initial → trained, linearly."""
        t = min(1.0, (epoch + batch / self.batches) / self.config.epochs)
        trained = trained_state()
        return {k: self.initial[k] + t * (trained[k] - self.initial[k]) for k in trained}

    def model_at(self, epoch: int) -> VAE:
        c = self.config
        model = VAE(c.input_dim, c.hidden_dim, c.latent_dim)
        model.load_state_dict(self.state_at(epoch))
        return model.eval()

    @property
    def train_size(self) -> int:
        return self.config.train_limit or 60_000

    @property
    def batches(self) -> int:
        return math.ceil(self.train_size / self.config.batch_size)

    def batch_size(self, batch: int) -> int:
        """Images in the 0-based `batch`: the last one of an epoch may be short."""
        return min(self.config.batch_size, self.train_size - batch * self.config.batch_size)

    # -- the stream ------------------------------------------------------------------------------
    def stream(self) -> Iterator[Event]:
        c, control = self.config, self.control
        images, labels = test_split(c.test_limit)
        checkpoint = str(Path(c.run_dir) / "checkpoint.pt")
        elapsed = 0.0
        yield RunStarted(
            config=c.to_dict(),
            device="cpu",
            run_dir=c.run_dir,
            train_size=self.train_size,
            test_size=len(images),
            batches_per_epoch=self.batches,
            start_epoch=0,
            start_step=0,
            test_images=images,
            test_labels=labels,
        )
        yield ModelSnapshot(0, self.state_at(0))
        epoch, step = 0, 0
        while epoch < c.epochs:
            beta = kl_weight(epoch, c)
            sums = {"loss": 0.0, "bce": 0.0, "kld": 0.0, "images": 0}
            batch = 0
            while batch < self.batches:
                if step == self.pause_at_step:
                    self.pause_at_step = None
                    control.pause()
                if step == self.stop_at_step:
                    control.request_stop()
                # Between batches, as core/train.py: report a pause, wait, then serve requests.
                if control.paused:
                    yield Paused(epoch + 1, batch, step, beta)
                control.wait_while_paused()
                if control.stop_requested:
                    yield CheckpointSaved(epoch, batch, checkpoint, "stop")
                    yield RunFinished(epoch, step, "stopped", elapsed)
                    return
                if control.take_save_request():
                    yield CheckpointSaved(epoch, batch, checkpoint, "request")
                if control.take_snapshot_request():
                    yield ModelSnapshot(epoch, self.state_at(epoch, batch), batch)
                if control.paused:
                    continue
                if self.batch_sleep:
                    time.sleep(self.batch_sleep)
                size = self.batch_size(batch)
                step += 1
                batch += 1
                loss, bce, kld = batch_terms(step, beta)
                for key, value in (("loss", loss), ("bce", bce), ("kld", kld), ("images", 1)):
                    sums[key] += value * size
                yield BatchEnd(epoch + 1, c.epochs, batch, self.batches, step, loss, bce, kld, beta)
            epoch += 1
            model = self.model_at(epoch)
            held_out = heldout_elbo(model, images)
            seconds = self.batches * SECONDS_PER_BATCH
            elapsed += seconds
            count = sums["images"]
            yield EpochEnd(
                epoch=epoch,
                epochs=c.epochs,
                step=step,
                loss=sums["loss"] / count,
                bce=sums["bce"] / count,
                kld=sums["kld"] / count,
                beta=beta,
                test_loss=held_out["loss"],
                test_bce=held_out["bce"],
                test_kld=held_out["kld"],
                test_loss_stderr=held_out["stderr"],
                seconds=seconds,
                images_per_second=count / seconds,
                kl_per_dim=tuple(held_out["kl_per_dim"]),
                active_units=held_out["active_units"],
                activity_per_dim=tuple(held_out["activity_per_dim"]),
            )
            z = preview_latents(c.latent_dim, c.seed)
            grids = preview_grids(model, images[:PREVIEW_IMAGES], z)
            yield EpochImages(epoch, step, *grids, traversal_grid(model, images[:PREVIEW_IMAGES]))
            yield ModelSnapshot(epoch, self.state_at(epoch))
            yield CheckpointSaved(epoch, 0, checkpoint, "epoch")
        if c.iwae_k > 0 and not control.stop_requested:
            yield FinalEvaluation(epoch, evaluate(self.model_at(epoch), images, k=c.iwae_k))
        yield RunFinished(epoch, step, "completed", elapsed)

    def _recorded(self) -> Iterator[Event]:
        for event in self.stream():
            self.started = True
            if isinstance(event, RunStarted):
                self.run_dir = event.run_dir
            self.events.append(event)
            yield event

    def drive(self, before: Sequence[Consumer] = (), after: Sequence[Consumer] = ()) -> RunFinished | None:
        """Feed the stream to `before` then `after` (no run-folder writers), through the real
        `drive`, which closes them all however the stream ends."""
        return drive(self._recorded(), [*before, *after])


class FakeRuns:
    """A `start_run` for `make_app`: each run it starts is a `FakeRun` with these options, kept
    in `runs` so a test can compare what the app showed with what the stream said.

    `run_dir` is where a run without `--run-dir` says it writes (nothing is written there)."""

    def __init__(self, run_dir: Path, **options: Any) -> None:
        self.run_dir = run_dir
        self.options = options
        self.runs: list[FakeRun] = []

    def __call__(self, plan: RunPlan, control: TrainControl) -> FakeRun:
        run = FakeRun(plan, control, run_dir=self.run_dir, **self.options)
        self.runs.append(run)
        return run
