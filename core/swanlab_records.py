"""What each training event puts in SwanLab: its keys (and so its charts) and its step.

SwanLab 0.10 files a chart under the section named by its key's part before the first slash
(`build_auto_column`, with the default `SWANLAB_SECTION_RULE_IDX=0`; a key with one slash is cut
there whatever the rule), so the prefix is the chart group: `train/`, `test/`, and `latent/` for
the latent usage of each epoch, the active units beside one chart per dimension's KL.
"""

from __future__ import annotations

from typing import Any

from .events import BatchEnd, EpochEnd, Event, FinalEvaluation

LATENT_GROUP = "latent"


def latent_keys(kl_per_dim: tuple[float, ...] | list[float], active_units: int) -> dict[str, float]:
    """The `latent/` group: `active_units` and `kl_z01`… (1-based as the app numbers them, padded
    so that the charts sort in dimension order)."""
    width = max(2, len(str(len(kl_per_dim))))
    keys: dict[str, float] = {f"{LATENT_GROUP}/active_units": active_units}
    keys.update({f"{LATENT_GROUP}/kl_z{i + 1:0{width}d}": kl for i, kl in enumerate(kl_per_dim)})
    return keys


def records(event: Event) -> tuple[dict[str, Any], int] | None:
    """The SwanLab `log` payload and step for an event, or None if it is not tracked (the step
    is -1 for "the latest one")."""
    if isinstance(event, BatchEnd):
        return {"train/loss": event.loss, "train/bce": event.bce, "train/kld": event.kld,
                "train/beta": event.beta}, event.step  # fmt: skip
    if isinstance(event, EpochEnd):
        payload = {
            "epoch/loss": event.loss, "epoch/bce": event.bce, "epoch/kld": event.kld,
            "epoch/beta": event.beta, "epoch/index": event.epoch,
            "test/loss": event.test_loss, "test/bce": event.test_bce, "test/kld": event.test_kld,
            "speed/images_per_second": event.images_per_second, "speed/epoch_seconds": event.seconds,
        }  # fmt: skip
        if event.active_units is not None:
            payload.update(latent_keys(event.kl_per_dim, event.active_units))
        return payload, event.step
    if isinstance(event, FinalEvaluation):
        r = event.results
        keys = ("neg_elbo", "bce", "kld", "iwae_nll", "active_units")
        return {f"final/{k}": r[k] for k in keys if k in r}, -1
    return None
