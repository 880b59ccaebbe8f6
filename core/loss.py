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


def vae_loss(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, beta: float) -> LossTerms:
    """mean over the batch of (BCE + β·KLD), with the parts for plotting."""
    n = x.shape[0]
    # One fused reduction over the whole batch is measurably faster than per-image sums + mean.
    bce = F.binary_cross_entropy_with_logits(logits, x.reshape(n, -1), reduction="sum") / n
    kld = kl_divergence(mu, logvar).mean()
    return LossTerms(bce + beta * kld, bce, kld)
