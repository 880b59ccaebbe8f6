"""The VAE objective: per-image summed BCE plus β times the closed-form KL to N(0, I).

Kept apart from the model so it can be checked by hand and reused by training and evaluation.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F


class LossTerms(NamedTuple):
    """Batch means of the total loss and its two parts (per image, in nats)."""

    total: Tensor
    bce: Tensor
    kld: Tensor


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per image: −½ Σ (1 + log σ² − μ² − σ²) (Kingma & Welling, App. B)."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def bce_per_image(logits: Tensor, x: Tensor) -> Tensor:
    """Bernoulli negative log-likelihood summed over pixels, per image; x may be grey levels."""
    flat = x.reshape(x.shape[0], -1)
    return F.binary_cross_entropy_with_logits(logits, flat, reduction="none").sum(dim=1)


SOFTPLUS_BLOCK = 112
"""Values multiplied per log by `log_sum`: each lies in [½, 1], and 2**-112 stays far above
float32's smallest normal number (2**-126)."""


def log_sum(factors: Tensor) -> Tensor:
    """Σ log over the last dimension of values in [½, 1], with one log per 112 values.

    A sum of logs is the log of a product, and a product of 112 such values cannot underflow
    float32; the log is the costly part of softplus, and per-value logs cost ~10× as much. The
    rounding error is that of a float32 sum of the same values (~1e-5 nats per image)."""
    if pad := -factors.shape[-1] % SOFTPLUS_BLOCK:
        factors = F.pad(factors, (0, pad), value=1.0)
    return factors.reshape(*factors.shape[:-1], -1, SOFTPLUS_BLOCK).prod(-1).log_().sum(-1)


def vae_loss(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, beta: float) -> LossTerms:
    """mean over the batch of (BCE + β·KLD), with the parts for plotting."""
    n = x.shape[0]
    # One fused reduction over the whole batch is measurably faster than per-image sums + mean.
    bce = F.binary_cross_entropy_with_logits(logits, x.reshape(n, -1), reduction="sum") / n
    kld = kl_divergence(mu, logvar).mean()
    return LossTerms(bce + beta * kld, bce, kld)
