"""The KL weight β of each epoch: the schedules `--kl-anneal` names, each a pure function of the
epoch's index and the configuration, so a resumed run continues its schedule exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig


def warmup_epochs(config: TrainConfig) -> int:
    """`--kl-warmup-epochs`, or a fifth of the run (at least one epoch)."""
    return config.kl_warmup_epochs or max(1, round(config.epochs / 5))


def kl_weight(epoch_index: int, config: TrainConfig) -> float:
    """β for the epoch `epoch_index` (counted from 0).

    linear: the reference's β_max·e/E (0 first, 0.98 last of 50); none: β_max throughout;
    warmup: β_max·e/W for the first W epochs, then β_max; cyclical (Fu et al. 2019): the run in
    `kl_cycles` equal cycles, β rising from 0 to β_max over the first half of each, then held.
    """
    e, top = epoch_index, config.beta_max
    if config.kl_anneal == "none":
        return top
    if config.kl_anneal == "warmup":
        return top * min(1.0, e / warmup_epochs(config))
    if config.kl_anneal == "cyclical":
        phase = (e * config.kl_cycles / config.epochs) % 1.0  # where in its cycle, [0, 1)
        return top * min(1.0, 2 * phase)
    return top * e / config.epochs
