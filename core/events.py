"""What the training loop tells its consumers: small frozen records, in the order they happen.

The headless printer, the metrics and image writers, the SwanLab tracker and the TUI all read
this one stream; none of them can change the loop, and adding one never touches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the UI imports these records before torch has loaded: keep them import-free
    import numpy as np
    import torch


@dataclass(frozen=True, slots=True)
class RunStarted:
    config: dict[str, Any]
    device: str
    run_dir: str
    train_size: int
    test_size: int
    batches_per_epoch: int
    start_epoch: int
    """Epochs already complete (0 for a new run, more when resuming)."""
    start_step: int
    test_images: torch.Tensor = field(repr=False)
    """The held-out images on the CPU, (N, 1, 28, 28) in [0, 1], for viewers to browse."""
    test_labels: torch.Tensor = field(repr=False)
    start_batch: int = 0
    """Batches of epoch start_epoch + 1 already done (a run stopped mid-epoch resumes there)."""
    start_seconds: float = 0.0
    """Time already spent on those batches; it is part of that epoch's `EpochEnd.seconds`. The
    run's earlier complete epochs' time is in metrics.jsonl (`metrics.training_time`)."""


@dataclass(frozen=True, slots=True)
class BatchEnd:
    epoch: int
    """1-based epoch."""
    epochs: int
    batch: int
    """1-based batch within the epoch."""
    batches: int
    step: int
    """Optimizer steps since the run began (1-based)."""
    loss: float
    bce: float
    kld: float
    beta: float


@dataclass(frozen=True, slots=True)
class EpochEnd:
    epoch: int
    epochs: int
    step: int
    loss: float
    """Average of the training objective (BCE + β·KLD) per image over the epoch."""
    bce: float
    kld: float
    beta: float
    test_loss: float
    """Held-out negative ELBO per image (β = 1)."""
    test_bce: float
    test_kld: float
    test_loss_stderr: float
    seconds: float
    """Wall time of the epoch: training and held-out evaluation."""
    images_per_second: float
    """Training throughput."""
    kl_per_dim: tuple[float, ...] = ()
    """Held-out KL of each latent dimension (nats, mean over the images): `evaluate.usage_of_codes`."""
    active_units: int | None = None
    """Latent dimensions whose mean code varies over the held-out images (Burda et al.'s
    criterion); None from a producer that did not compute it."""
    activity_per_dim: tuple[float, ...] = ()
    """Var over the held-out images of each dimension's μ (what `active_units` counts): not in
    the metrics row, but the app's views of these weights need it and need not encode again."""

    def usage(self) -> dict[str, Any] | None:
        """`evaluate.usage_of_codes` of the held-out codes, when the producer computed it."""
        if self.active_units is None or not self.activity_per_dim:
            return None
        return {
            "kl_per_dim": list(self.kl_per_dim),
            "activity_per_dim": list(self.activity_per_dim),
            "active_units": self.active_units,
        }

    def metrics(self) -> dict[str, float | int | list[float]]:
        """The `metrics.jsonl` row; the latent usage only when it was computed."""
        usage = {"kl_per_dim": list(self.kl_per_dim), "active_units": self.active_units}
        return {
            "epoch": self.epoch,
            "step": self.step,
            "loss": self.loss,
            "bce": self.bce,
            "kld": self.kld,
            "beta": self.beta,
            "test_loss": self.test_loss,
            "test_bce": self.test_bce,
            "test_kld": self.test_kld,
            "test_loss_stderr": self.test_loss_stderr,
            "seconds": self.seconds,
            "images_per_second": self.images_per_second,
            **(usage if self.active_units is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class EpochImages:
    """Grids for the epoch as uint8 (H, W) arrays: fixed test images over their reconstructions,
    samples decoded from a fixed z ~ N(0, I), and a traversal of a fixed test image's code, so
    successive epochs are comparable."""

    epoch: int
    step: int
    reconstructions: np.ndarray = field(repr=False)
    samples: np.ndarray = field(repr=False)
    traversal: np.ndarray | None = field(default=None, repr=False)
    """The first fixed test image's μ swept along each latent dimension (`grids.traversal_grid`);
    None from a producer that did not draw it."""


@dataclass(frozen=True, slots=True)
class ModelSnapshot:
    """A CPU copy of the weights, for viewers that decode on their own thread."""

    epoch: int
    """Epochs complete in these weights."""
    state: dict[str, torch.Tensor] = field(repr=False)
    batch: int = 0
    """Batches of the next epoch in them too: a copy asked for mid-epoch (the app's `r`)."""


@dataclass(frozen=True, slots=True)
class CheckpointSaved:
    epoch: int
    """Epochs complete in the saved state."""
    batch: int
    """Batches done in the epoch after that (0 at an epoch boundary)."""
    path: str
    reason: str
    """`epoch`, `request` (asked for by the user) or `stop`."""


@dataclass(frozen=True, slots=True)
class FinalEvaluation:
    """Held-out quality at the end of a run (see `evaluate.evaluate`)."""

    epoch: int
    results: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Paused:
    """The loop is waiting (TrainControl.pause); everything before it has been reported."""

    epoch: int
    """1-based epoch it is in."""
    batch: int
    """Batches done in that epoch."""
    step: int
    beta: float
    """The KL weight of that epoch (at an epoch boundary, the next epoch's)."""


@dataclass(frozen=True, slots=True)
class RunFinished:
    epochs_completed: int
    step: int
    status: str
    """`completed` or `stopped` (asked to stop between batches)."""
    seconds: float


Event = (
    RunStarted
    | BatchEnd
    | EpochEnd
    | EpochImages
    | ModelSnapshot
    | CheckpointSaved
    | FinalEvaluation
    | Paused
    | RunFinished
)
