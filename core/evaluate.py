"""Held-out quality with its protocol spelled out: negative ELBO, IWAE bound, active units.

All numbers are nats per image. By default pixels are grey levels in [0, 1] scored with a
Bernoulli likelihood, exactly as the reference trains (not a normalised density, so not
comparable to published numbers); `binarize=True` samples binary pixels with a fixed seed
(dynamic binarization), the protocol of the IWAE paper and most of the literature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from .config import EVAL_IWAE_K
from .loss import bce_per_image, kl_divergence, log_sum
from .model import VAE


class EvaluationStopped(Exception):
    """The caller asked an evaluation in progress to stop (e.g. the user quit)."""


EVAL_SEED = 12345  # the held-out estimate uses the same noise every epoch, so epochs compare
LOG_2PI = math.log(2 * math.pi)
ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2016: Cov_x(E_q[z_i]) above this counts as active
CHUNK_IMAGES = 2000  # images encoded at once by the held-out pass and the latent usage
IWAE_BUDGET = 2_000_000  # pixel logits the IWAE bound holds at once, whatever K
USAGE_BUDGET = 500_000  # code values `usage_of_codes` takes at once: its float64 temporaries stay ≤ 16 MB
USAGE_KEYS = ("kl_per_dim", "activity_per_dim", "active_units")  # what `usage_of_codes` returns


def binarized(images: Tensor, seed: int = EVAL_SEED) -> Tensor:
    """Each pixel set to 1 with probability equal to its grey level, reproducibly."""
    g = torch.Generator(device=images.device).manual_seed(seed)
    return torch.bernoulli(images, generator=g)


@torch.inference_mode()
def usage_of_codes(mu: Tensor, logvar: Tensor, *, budget: int = USAGE_BUDGET) -> dict[str, Any]:
    """How much each latent dimension is used by codes q(z|x) = N(μ, σ²) of a set of images.

    `kl_per_dim`: KL(q(z_i|x) ‖ N(0, 1)) in nats, averaged over the images (the parts of the
    KLD term); `activity_per_dim`: Var_x(μ_i), the spread of a dimension's mean code over the
    images; `active_units`: the dimensions whose activity exceeds `ACTIVE_UNIT_THRESHOLD`
    (Burda et al. 2016). A dimension the posterior has collapsed onto the prior has KL ≈ 0 and
    the same μ for every image. Sums run in float64 over `budget` code values at a time, so
    the held-out pass that keeps every image's code needs no float64 copy of them all."""
    n, dims = mu.shape
    chunk = max(1, budget // max(dims, 1))
    kl, total = (torch.zeros(dims, dtype=torch.float64, device=mu.device) for _ in range(2))
    for start in range(0, n, chunk):
        m, lv = mu[start : start + chunk].double(), logvar[start : start + chunk].double()
        kl += lv.exp().add_(m.square()).sub_(lv).sub_(1).sum(0)  # 2·KL: σ² + μ² − log σ² − 1
        total += m.sum(0)
    squares = torch.zeros_like(total)
    for start in range(0, n, chunk):  # two passes: the variance without cancellation
        squares += (mu[start : start + chunk].double() - total / n).square().sum(0)
    activity = squares / (n - 1) if n > 1 else squares
    return {
        "kl_per_dim": [round(v, 6) for v in (kl / (2 * max(n, 1))).tolist()],
        "activity_per_dim": [round(v, 6) for v in activity.tolist()],
        "active_units": int((activity > ACTIVE_UNIT_THRESHOLD).sum()),
    }


@torch.inference_mode()
def heldout_elbo(
    model: VAE, images: Tensor, *, batch_size: int = CHUNK_IMAGES, seed: int = EVAL_SEED
) -> dict[str, Any]:
    """Negative ELBO per image (β = 1) from one z per image: mean, its standard error, parts;
    and the latent usage (`usage_of_codes`) of the codes it encoded for it, which costs no
    second pass over the images."""
    g = torch.Generator(device=images.device).manual_seed(seed)
    totals, bces, klds = [], [], []
    codes = torch.empty(0)  # (2, N, latent): μ and log σ² of every image, filled chunk by chunk
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size]
        mu, logvar = model.encode(x)
        z = model.reparameterize(mu, logvar, g)
        bce = bce_per_image(model.decode_logits(z), x)
        kld = kl_divergence(mu, logvar)
        totals.append(bce + kld)
        bces.append(bce)
        klds.append(kld)
        if start == 0:
            codes = mu.new_empty(2, images.shape[0], mu.shape[1])
        codes[0, start : start + x.shape[0]], codes[1, start : start + x.shape[0]] = mu, logvar
    total = torch.cat(totals).double()
    n = total.numel()
    stderr = float(total.std() / math.sqrt(n)) if n > 1 else 0.0
    return {
        "loss": float(total.mean()),
        "bce": float(torch.cat(bces).double().mean()),
        "kld": float(torch.cat(klds).double().mean()),
        "stderr": stderr,
        **usage_of_codes(codes[0], codes[1]),
    }


def softplus_sum_(logits: Tensor, scratch: Tensor | None = None) -> Tensor:
    """Σ softplus(ℓ) over the last dimension, one log per 112 values (`loss.log_sum`); overwrites
    `logits` (and `scratch`, a buffer of its shape, if given) so a chunk allocates nothing the
    size of it. softplus(ℓ) = max(ℓ, 0) − log σ(|ℓ|), with σ(|ℓ|) in [½, 1): one σ pass where
    e^−|ℓ| + 1 took three.
    """
    positive = torch.clamp_min(logits, 0, out=scratch) if scratch is not None else logits.clamp_min(0)
    total = positive.sum(-1)
    return total - log_sum(logits.abs_().sigmoid_())


def decode_logits_into(model: VAE, z: Tensor, out: Tensor) -> Tensor:
    """`model.decode_logits(z)`, its (N, pixels) result written into `out`."""
    hidden = F.relu(model.fc2(z))
    return torch.addmm(model.fc3.bias, hidden, model.fc3.weight.t(), out=out)


def iwae_chunks(images: int, pixels: int, k: int, budget: int = IWAE_BUDGET) -> tuple[int, int]:
    """(images, samples per image) that `iwae_nll` decodes at once: at most `budget` pixel logits
    (at least one pair), so its memory does not grow with K, except its (images, K) log-weights."""
    per_chunk = max(1, budget // pixels)  # (image, sample) pairs decoded at once
    images_per_chunk = max(1, min(images, per_chunk // k))
    samples_per_chunk = max(1, min(k, per_chunk // images_per_chunk))
    return images_per_chunk, samples_per_chunk


@torch.inference_mode()
def iwae_nll(
    model: VAE,
    images: Tensor,
    k: int,
    *,
    seed: int = EVAL_SEED,
    budget: int = IWAE_BUDGET,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """The importance-weighted bound on −log p(x) with `k` samples (Burda et al. 2016).

    −log p(x) ≈ −log (1/k) Σ_j p(x|z_j) p(z_j) / q(z_j|x). Work is chunked so that at most
    `budget` pixel logits exist at once, whatever `k`; the log-sum-exp runs in float64.

    log p(x|z) = Σ_pixels x·ℓ − softplus(ℓ) (the Bernoulli log-likelihood from logits ℓ, the
    same value as −BCE) is computed with x broadcast against the samples' logits rather than
    repeated for each, and `softplus_sum_`, in two buffers reused by every chunk; the decoder's
    matrix products are most of what remains (benchmarks/iwae_speed.py measures how much). The
    noise is drawn chunk by chunk as before, so results match earlier versions to float rounding.
    """
    g = torch.Generator(device=images.device).manual_seed(seed)
    n, pixels = images.shape[0], images[0].numel()
    images_per_chunk, samples_per_chunk = iwae_chunks(n, pixels, k, budget)
    # The chunk's logits and one scratch of their size, allocated once: fresh multi-MB tensors
    # per chunk meant fresh pages from the kernel each time (13 of `--eval`'s 100 CPU seconds).
    pairs = images_per_chunk * samples_per_chunk
    logits_buffer = images.new_empty(pairs, pixels)
    scratch_buffer = images.new_empty(pairs, pixels)
    nll = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, images_per_chunk):
        if should_stop is not None and should_stop():
            raise EvaluationStopped
        x = images[start : start + images_per_chunk].reshape(-1, pixels)
        b = x.shape[0]
        mu, logvar = model.encode(x)
        std = torch.exp(0.5 * logvar)
        # log q(z|x) = −½ Σ (ε² + log 2π + log σ²): the part without ε is one number per image.
        log_q_const = -0.5 * (logvar + LOG_2PI).sum(-1, keepdim=True)
        x_row = x.unsqueeze(1)  # (b, 1, pixels): broadcast against (b, m, pixels) logits
        log_w = torch.empty(b, k, dtype=torch.float64, device=x.device)
        for s in range(0, k, samples_per_chunk):
            m = min(samples_per_chunk, k - s)
            eps = torch.randn((b, m, mu.shape[1]), generator=g, device=x.device, dtype=mu.dtype)
            z = mu.unsqueeze(1) + std.unsqueeze(1) * eps
            logits = decode_logits_into(model, z.reshape(b * m, -1), logits_buffer[: b * m])
            scratch = scratch_buffer[: b * m]
            x_dot_logits = torch.mul(logits.view(b, m, pixels), x_row, out=scratch.view(b, m, pixels)).sum(-1)
            log_px_z = x_dot_logits - softplus_sum_(logits, scratch).view(b, m)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_qz = log_q_const - 0.5 * eps.pow(2).sum(-1)
            log_w[:, s : s + m] = (log_px_z + log_pz - log_qz).double()
        nll[start : start + b] = -(torch.logsumexp(log_w, dim=1) - math.log(k)).cpu()
    return {"nll": float(nll.mean()), "stderr": float(nll.std() / math.sqrt(n)) if n > 1 else 0.0}


@torch.inference_mode()
def latent_usage(model: VAE, images: Tensor, *, batch_size: int = CHUNK_IMAGES) -> dict[str, Any]:
    """`usage_of_codes` of `images`, encoded `batch_size` at a time."""
    codes = [
        model.encode(images[start : start + batch_size]) for start in range(0, images.shape[0], batch_size)
    ]
    return usage_of_codes(torch.cat([mu for mu, _ in codes]), torch.cat([lv for _, lv in codes]))


def evaluate(
    model: VAE,
    images: Tensor,
    *,
    k: int = EVAL_IWAE_K,
    binarize: bool = False,
    seed: int = EVAL_SEED,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Everything `vae-tui --eval` reports, with the protocol that produced it.

    `should_stop` is polled between chunks of the IWAE bound (it can take minutes); when it
    returns True, `EvaluationStopped` is raised."""
    model.eval()
    x = binarized(images, seed) if binarize else images
    elbo = heldout_elbo(model, x, seed=seed)
    result: dict[str, Any] = {
        "protocol": (
            "dynamically binarized pixels (Bernoulli, fixed seed)"
            if binarize
            else "grey-level pixels in [0,1] scored with Bernoulli BCE, as the reference trains"
        ),
        "images": int(images.shape[0]),
        "neg_elbo": elbo["loss"],
        "neg_elbo_stderr": elbo["stderr"],
        "bce": elbo["bce"],
        "kld": elbo["kld"],
    }
    if k > 0:
        iw = iwae_nll(model, x, k, seed=seed, should_stop=should_stop)
        result.update({"iwae_k": k, "iwae_nll": iw["nll"], "iwae_nll_stderr": iw["stderr"]})
    result.update({key: elbo[key] for key in USAGE_KEYS})  # the held-out pass's codes: no second pass
    return result
