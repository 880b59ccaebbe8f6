"""The one training configuration: the reference design's numbers, each overridable by a flag.

`asdict(config)` is what goes into `config.json`, the checkpoint and the SwanLab run, so every
field is a plain JSON value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

KL_ANNEAL_CHOICES = ("linear", "none")
DATASET_CHOICES = ("mnist", "fashion-mnist")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
SWANLAB_CHOICES = ("offline", "cloud", "disabled")
EVAL_IWAE_K = 1000
"""Importance samples `--eval` uses for the -log p(x) bound (the literature's K)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a run computes (and where it writes)."""

    epochs: int = 50
    """Passes over the training set."""
    batch_size: int = 128
    """Images per optimizer step."""
    lr: float = 1e-3
    """AdamW learning rate."""
    hidden_dim: int = 256
    """Width of the encoder's and decoder's one hidden layer."""
    latent_dim: int = 20
    """Dimensions of z."""
    input_dim: int = 784
    """Pixels per image (28×28 for both datasets)."""
    kl_anneal: str = "linear"
    """`linear` (the reference's): β = beta_max · epoch_index / epochs, with epoch_index counted from
    0, so 0 in the first epoch and beta_max · (epochs − 1) / epochs in the last (0.98 · beta_max of
    50): β never reaches beta_max. `none`: β = beta_max in every epoch. See `kl_weight`."""
    beta_max: float = 1.0
    """The scale of the KL weight: `linear` rises towards it and stops one step short, `none` trains
    at it throughout. (Held-out metrics always use β = 1.)"""
    seed: int = 0
    """Seeds the weights, the data order and the sampling noise."""
    device: str = "auto"
    """`auto` picks CUDA, then MPS, then CPU."""
    dataset: str = "mnist"
    """`mnist` or `fashion-mnist`."""
    data_dir: str | None = None
    """Where the IDX files are; default: the per-user cache, filled from the bundled copy."""
    train_limit: int | None = None
    """Use only the first N training images (quick runs, tests)."""
    test_limit: int | None = None
    """Use only the first N test images for held-out metrics."""
    run_dir: str | None = None
    """Where config, checkpoint, metrics, grids and SwanLab logs go; None: training claims a
    fresh runs/<timestamp> (core/runlock.py)."""
    swanlab: str = "offline"
    """`offline` (default, no network), `cloud` (needs SWANLAB_API_KEY) or `disabled`."""
    iwae_k: int = 100
    """Importance samples for the -log p(x) bound computed at the end of a run (0 skips it)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a saved dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


def kl_weight(epoch_index: int, config: TrainConfig) -> float:
    """β for the epoch `epoch_index` (counted from 0), as the reference: 0 first, 0.98 last of 50."""
    if config.kl_anneal == "none":
        return config.beta_max
    return config.beta_max * epoch_index / config.epochs
