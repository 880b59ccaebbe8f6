"""What the training loop carries: the run's state (`LoopState`) and one epoch's tally (`EpochTally`).

`LoopState` is set up once by `train.start` and holds the model, its optimizer and noise, the
data on the device and the position (epoch, batch, step); it saves checkpoints and snapshots.
`EpochTally` holds one epoch's sums, its batches not yet reported and its clock. The loop trains
a few batches ahead of what it has reported (on an accelerator, reading a loss back is a device
sync); `EpochTally.report` reads them back in one go, checks them and turns them into
`BatchEnd` events. The sums are per-image weighted, so an epoch cut by a stop and resumed
averages exactly as one that ran through (they are saved with the checkpoint).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import checkpoint as ckpt
from .checkpoint import fresh_sums
from .config import TrainConfig
from .data import Split
from .errors import TrainingDiverged
from .events import BatchEnd, CheckpointSaved, ModelSnapshot, RunStarted
from .grids import PREVIEW_IMAGES
from .model import VAE
from .optimizer import FusedAdamW


def read_rows(pending: list[Any]) -> list[tuple[float, float, float]]:
    """The pending (loss, BCE, KLD) rows as floats: tensors (on an accelerator) in one sync."""
    if pending and isinstance(pending[0], torch.Tensor):
        return torch.stack(pending).tolist()
    return pending


@dataclass
class EpochTally:
    """Epoch `epoch_index` (from 0) of `epochs`, `batches` batches long, trained at KL weight `beta`."""

    epoch_index: int
    epochs: int
    batches: int
    beta: float
    sums: dict[str, float]
    """loss, bce and kld summed per image, images, and (once saved) seconds: see `fresh_sums`."""
    start: float
    """`time.perf_counter()` when the epoch started, less the seconds an earlier session spent on it."""
    paused: float = 0.0
    """Seconds spent paused, left out of the epoch's time."""
    pending: list[Any] = field(default_factory=list)
    """(loss, BCE, KLD) rows trained but not yet reported: floats on the CPU, tensors elsewhere."""
    sizes: list[int] = field(default_factory=list)
    """The batch size of each pending row (the last batch may be short)."""

    def seconds(self) -> float:
        """Time spent training this epoch so far, pauses left out."""
        return time.perf_counter() - self.start - self.paused

    def report(self, batch: int, step: int) -> Iterator[BatchEnd]:
        """Read the pending rows back in one device sync, add them to the sums and report each
        batch; `batch` and `step` are the counts after the last pending one."""
        rows = read_rows(self.pending)
        sums = self.sums
        for i, ((loss, bce, kld), size) in enumerate(zip(rows, self.sizes, strict=True)):
            at_batch, at_step = batch - len(rows) + i + 1, step - len(rows) + i + 1
            if not all(map(math.isfinite, (loss, bce, kld))):
                raise TrainingDiverged(
                    f"loss became {loss} at epoch {self.epoch_index + 1}, batch {at_batch}; stopped, the last good "
                    "checkpoint is kept (try a lower --lr, or check the data)"
                )
            sums["loss"] += loss * size
            sums["bce"] += bce * size
            sums["kld"] += kld * size
            sums["images"] += size
            yield BatchEnd(
                self.epoch_index + 1, self.epochs, at_batch, self.batches, at_step, loss, bce, kld, self.beta
            )
        self.pending.clear()
        self.sizes.clear()


@dataclass
class LoopState:
    """What the loop works on, set up by `start`, and its position (epoch, batch, step)."""

    config: TrainConfig
    """With `run_dir` filled in (a new run's default folder is claimed by `start`)."""
    device: torch.device
    run_dir: Path
    model: VAE
    optimizer: torch.optim.AdamW | FusedAdamW
    """`optimizer.make_optimizer`'s: torch's update either way, and its `state_dict` format."""
    noise: torch.Generator
    """The reparameterization noise's own generator: its state is checkpointed for exact resume."""
    x_train: torch.Tensor
    """Flattened, on the device."""
    x_test: torch.Tensor
    test_split: Split
    """On the CPU, for `RunStarted`."""
    fixed_z: torch.Tensor
    """The sample grid's latents, the same every epoch."""
    epoch: int = 0
    batch: int = 0
    step: int = 0
    partial: dict[str, float] = field(default_factory=fresh_sums)
    """The sums of the epoch at `epoch`, as far as an earlier session got into it."""
    started: float = 0.0
    """`time.perf_counter()` when the first event was yielded."""

    def __post_init__(self) -> None:
        self.batches = math.ceil(self.x_train.shape[0] / self.config.batch_size)
        self.preview = self.x_test[:PREVIEW_IMAGES]
        # Accelerators run ahead of Python; reading losses back every batch would stall them. On the
        # CPU nothing runs ahead, and three `.item()` reads cost less than stacking a row per batch.
        self.on_cpu = self.device.type == "cpu"
        self.sync_every = 1 if self.on_cpu else 25

    def restore(self, saved: ckpt.RunCheckpoint) -> None:
        """Continue from `saved` (checked by `resume.load_resume`): weights, optimizer, RNG states,
        position, partial epoch."""
        assert saved.rng is not None  # `resume.check_restorable` refuses a checkpoint without
        self.model.load_state_dict(saved.model)
        self.optimizer.load_state_dict(saved.optimizer)
        ckpt.restore_rng(saved.rng, self.noise)
        self.epoch, self.batch, self.step = saved.epoch, saved.batch, saved.step
        self.partial = dict(saved.partial)

    def run_started(self) -> RunStarted:
        return RunStarted(
            config=self.config.to_dict(),
            device=str(self.device),
            run_dir=str(self.run_dir),
            train_size=self.x_train.shape[0],
            test_size=self.x_test.shape[0],
            batches_per_epoch=self.batches,
            start_epoch=self.epoch,
            start_step=self.step,
            start_batch=self.batch,
            start_seconds=self.partial["seconds"],
            test_images=self.test_split.images,
            test_labels=self.test_split.labels,
        )

    def save(self, reason: str, sums: dict[str, float]) -> CheckpointSaved:
        """Checkpoint the current position, with `sums` as the partial epoch's."""
        path = ckpt.save_checkpoint(
            self.run_dir / ckpt.FILE_NAME,
            model=self.model,
            optimizer=self.optimizer,
            config=self.config,
            position=(self.epoch, self.batch, self.step),
            partial=sums,
            noise=self.noise,
        )
        return CheckpointSaved(self.epoch, self.batch, str(path), reason)

    def snapshot(self, batch_done: int = 0) -> ModelSnapshot:
        """A copy of the weights on the CPU, for views that draw them while training goes on."""
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        return ModelSnapshot(self.epoch, state, batch_done)
