"""Held-out metrics against the truth: −log p(x) by brute-force integration over a 1-D latent.

A VAE with a 1-D latent and 4 pixels has p(x) = ∫ p(x|z) N(z; 0, 1) dz, which a fine grid over
z computes to many digits. The real `heldout_elbo` and `iwae_nll` must then bracket it as theory
says (negative ELBO ≥ IWAE_K ≥ −log p(x), the IWAE bound tightening as K grows), within their
own Monte-Carlo error. Each image is repeated many times so that the reported standard error is
purely Monte-Carlo noise.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch.nn import functional as F

from vae_tui.core.evaluate import (
    binarized,
    evaluate,
    heldout_elbo,
    iwae_chunks,
    iwae_nll,
    latent_usage,
    softplus_sum_,
)
from vae_tui.core.loss import bce_per_image
from vae_tui.core.model import VAE

REPEATS = {1: 2000, 10: 1000, 1000: 100}  # copies of each image per K: about equal work
LOG_2PI = math.log(2 * math.pi)


@pytest.fixture(scope="module")
def small_vae() -> VAE:
    """4 pixels, a 1-D latent; weights scaled up so the posterior is far from q (big gaps)."""
    torch.manual_seed(0)
    model = VAE(input_dim=4, hidden_dim=16, latent_dim=1)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    return model.eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(6, 4, generator=g)
    x[:3] = x[:3].round()  # binary images and grey-level ones
    return x


def exact(model: VAE, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(−log p(x), negative ELBO, KL) per image, by integration over z on a fine grid in float64."""
    m = copy.deepcopy(model).double()
    z = torch.linspace(-12.0, 12.0, 48001, dtype=torch.float64)
    dz = float(z[1] - z[0])
    x = images.double()
    with torch.no_grad():
        logits = m.decode_logits(z.unsqueeze(1))  # (grid, pixels)
        log_px_z = x @ logits.T - F.softplus(logits).sum(-1)  # (images, grid)
        log_pz = -0.5 * (z.pow(2) + LOG_2PI)
        nll = -(torch.logsumexp(log_px_z + log_pz, dim=1) + math.log(dz))
        mu, logvar = m.encode(x)
        log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI)
        expected_log_px_z = (log_q.exp() * log_px_z).sum(1) * dz
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1)
    return nll, kl - expected_log_px_z, kl


def test_the_grid_integrates_the_prior_and_posterior_to_one(small_vae: VAE, images: torch.Tensor) -> None:
    # Σ_x p(x) over the 16 binary images of 4 pixels is 1 for the Bernoulli decoder.
    grid = torch.tensor([[(i >> b) & 1 for b in range(4)] for i in range(16)], dtype=torch.float32)
    nll, neg_elbo, _ = exact(small_vae, grid)
    assert torch.exp(-nll).sum().item() == pytest.approx(1.0, abs=1e-9)
    assert bool((neg_elbo >= nll - 1e-9).all())  # the ELBO is a lower bound, exactly


def test_bounds_bracket_the_true_likelihood_and_tighten_with_k(small_vae: VAE, images: torch.Tensor) -> None:
    true_nll, true_neg_elbo, true_kl = exact(small_vae, images)
    gaps: dict[int, list[float]] = {k: [] for k in REPEATS}
    for i in range(images.shape[0]):
        x = images[i : i + 1].repeat(2000, 1)
        elbo = heldout_elbo(small_vae, x)
        # One z per image: an unbiased estimate of the negative ELBO; the KL part is exact.
        assert elbo["loss"] == pytest.approx(true_neg_elbo[i].item(), abs=4 * elbo["stderr"] + 1e-4)
        assert elbo["kld"] == pytest.approx(true_kl[i].item(), abs=1e-4)
        assert elbo["loss"] == pytest.approx(elbo["bce"] + elbo["kld"], abs=1e-5)
        for k, repeats in REPEATS.items():
            iw = iwae_nll(small_vae, images[i : i + 1].repeat(repeats, 1), k)
            tolerance = 4 * iw["stderr"] + 1e-4
            if k == 1:  # IWAE with one sample is the ELBO
                assert iw["nll"] == pytest.approx(true_neg_elbo[i].item(), abs=tolerance)
            assert iw["nll"] >= true_nll[i].item() - tolerance  # never below the truth
            gaps[k].append(iw["nll"] - true_nll[i].item())
        assert gaps[1000][-1] < 0.1  # K = 1000 is within hundredths of a nat here
    mean = {k: sum(v) / len(v) for k, v in gaps.items()}
    assert mean[1] > 0.2  # the ELBO is far from the truth for this model…
    assert mean[1] > mean[10] > mean[1000] > -0.005  # …and the IWAE bound closes in on it
    assert mean[1000] < 0.02


def test_iwae_is_the_same_when_the_samples_are_chunked(small_vae: VAE, images: torch.Tensor) -> None:
    # A tiny budget decodes 250 samples at a time, one image at a time: other noise, same target.
    true_nll, _, _ = exact(small_vae, images)
    x = images.repeat(3, 1)
    chunked = iwae_nll(small_vae, x, 1000, budget=1000)
    assert chunked["nll"] == pytest.approx(true_nll.mean().item(), abs=0.05)
    assert chunked == iwae_nll(small_vae, x, 1000, budget=1000)  # fixed seed: reproducible


def reference_iwae(model: VAE, images: torch.Tensor, k: int, seed: int, budget: int) -> float:
    """The previous implementation (x repeated per sample, BCE), to pin results across versions."""
    g = torch.Generator().manual_seed(seed)
    n, pixels = images.shape[0], images[0].numel()
    per_chunk = max(1, budget // pixels)
    images_per_chunk = max(1, min(n, per_chunk // k))
    samples_per_chunk = max(1, min(k, per_chunk // images_per_chunk))
    nll = torch.empty(n, dtype=torch.float64)
    with torch.inference_mode():
        for start in range(0, n, images_per_chunk):
            x = images[start : start + images_per_chunk].reshape(-1, pixels)
            b = x.shape[0]
            mu, logvar = model.encode(x)
            std = torch.exp(0.5 * logvar)
            log_w = torch.empty(b, k, dtype=torch.float64)
            for s in range(0, k, samples_per_chunk):
                m = min(samples_per_chunk, k - s)
                eps = torch.randn((b, m, mu.shape[1]), generator=g, dtype=mu.dtype)
                z = mu.unsqueeze(1) + std.unsqueeze(1) * eps
                logits = model.decode_logits(z.reshape(b * m, -1))
                log_px_z = -bce_per_image(logits, x.repeat_interleave(m, dim=0)).reshape(b, m)
                log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
                log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar.unsqueeze(1)).sum(-1)
                log_w[:, s : s + m] = (log_px_z + log_pz - log_qz).double()
            nll[start : start + b] = -(torch.logsumexp(log_w, dim=1) - math.log(k))
    return float(nll.mean())


@pytest.mark.parametrize(("k", "budget"), [(50, 2_000_000), (300, 784 * 128)])
def test_iwae_matches_the_previous_implementation_to_float_rounding(k: int, budget: int) -> None:
    torch.manual_seed(3)
    model = VAE(784, 32, 4).eval()
    x = torch.rand(5, 1, 28, 28)
    ours = iwae_nll(model, x, k, seed=7, budget=budget)["nll"]
    assert ours == pytest.approx(reference_iwae(model, x, k, seed=7, budget=budget), rel=1e-6)


def float64_iwae(model: VAE, images: torch.Tensor, k: int, seed: int, budget: int) -> dict[str, float]:
    """The bound computed the plain way in float64 (every sample at once, `F.softplus`), from
    the same float32 noise drawn in the same chunks as `iwae_nll` draws it."""
    m64 = copy.deepcopy(model).double()
    g = torch.Generator().manual_seed(seed)
    n, pixels = images.shape[0], images[0].numel()
    images_per_chunk, samples_per_chunk = iwae_chunks(n, pixels, k, budget)
    nlls = []
    with torch.no_grad():
        for start in range(0, n, images_per_chunk):
            x = images[start : start + images_per_chunk].reshape(-1, pixels).double()
            mu, logvar = m64.encode(x)
            eps = torch.cat(
                [
                    torch.randn((x.shape[0], min(samples_per_chunk, k - s), mu.shape[1]), generator=g)
                    for s in range(0, k, samples_per_chunk)
                ],
                dim=1,
            ).double()
            z = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps
            logits = m64.decode_logits(z)
            log_px_z = (x.unsqueeze(1) * logits - F.softplus(logits)).sum(-1)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar.unsqueeze(1)).sum(-1)
            nlls.append(-(torch.logsumexp(log_px_z + log_pz - log_qz, dim=1) - math.log(k)))
    nll = torch.cat(nlls)
    return {"nll": float(nll.mean()), "stderr": float(nll.std() / math.sqrt(n))}


@pytest.mark.parametrize(
    ("pixels", "k", "budget"),
    [
        (784, 300, 784 * 128),
        (784, 40, 2_000_000),
        (50, 70, 50 * 64),
    ],  # chunks with remainders; a padded block
)
def test_iwae_matches_a_float64_computation_to_float_rounding(pixels: int, k: int, budget: int) -> None:
    torch.manual_seed(8)
    model = VAE(pixels, 32, 4).eval()
    with torch.no_grad():
        model.fc3.weight.mul_(80.0)  # logits up to |ℓ| ≈ 32: σ(|ℓ|) rounds to 1 on 7–17% of pixels
    x = torch.rand(7, pixels)
    x[:3] = x[:3].round()  # binary images and grey-level ones
    ours = iwae_nll(model, x, k, seed=9, budget=budget)
    exact64 = float64_iwae(model, x, k, seed=9, budget=budget)
    assert ours["nll"] == pytest.approx(exact64["nll"], rel=2e-7)  # ~3,000 nats, within ~1e-4 (measured)
    assert ours["stderr"] == pytest.approx(exact64["stderr"], rel=1e-4)


@pytest.mark.parametrize("shape", [(3, 5, 784), (7, 50), (2, 112), (1, 1)])
@pytest.mark.parametrize("with_scratch", [False, True])
def test_softplus_sum_matches_float64_softplus(shape: tuple[int, ...], with_scratch: bool) -> None:
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(shape, generator=g) * 8
    logits.view(-1)[:2] = torch.tensor([200.0, -200.0])[: logits.numel()]
    expected = F.softplus(logits.double()).sum(-1)
    got = softplus_sum_(logits.clone(), torch.empty(shape) if with_scratch else None)
    assert got.shape == expected.shape and got.dtype == torch.float32
    assert torch.allclose(got.double(), expected, rtol=2e-6, atol=1e-4)


def test_active_units_count_dimensions_whose_mean_code_varies() -> None:
    torch.manual_seed(5)
    model = VAE(input_dim=6, hidden_dim=8, latent_dim=3).eval()
    with torch.no_grad():
        model.fc1.weight.abs_()  # ReLU stays open for positive inputs
        model.fc1.bias.fill_(0.1)
        model.fc_mu.weight[0].mul_(10.0)  # varies a lot across images: active
        model.fc_mu.weight[1].zero_()  # constant μ: inactive
        model.fc_mu.bias[1] = 0.7
        model.fc_mu.weight[2].mul_(1e-3)  # varies, but far below the 0.01 threshold
    x = torch.rand(500, 6, generator=torch.Generator().manual_seed(6))
    usage = latent_usage(model, x, batch_size=128)  # several batches
    mu, logvar = model.encode(x)
    activity = mu.double().var(dim=0)
    assert usage["active_units"] == 1
    assert usage["activity_per_dim"] == pytest.approx([round(v, 6) for v in activity.tolist()], abs=1e-6)
    assert usage["activity_per_dim"][1] == 0.0 and usage["activity_per_dim"][0] > 0.01
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).double().mean(0)
    assert usage["kl_per_dim"] == pytest.approx(kl.tolist(), abs=1e-5)


def test_binarized_is_reproducible_and_samples_the_grey_levels() -> None:
    images = torch.full((400, 1, 28, 28), 0.3)
    images[:, :, 0, 0] = 0.0
    images[:, :, 0, 1] = 1.0
    before = images.clone()
    a, b = binarized(images), binarized(images)
    assert torch.equal(a, b)  # the same seed, the same pixels
    assert not torch.equal(a, binarized(images, seed=1))
    assert torch.equal(images, before)  # the input is left alone
    assert a.shape == images.shape and a.dtype == images.dtype
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert bool((a[:, :, 0, 0] == 0).all()) and bool((a[:, :, 0, 1] == 1).all())
    assert a[:, :, 1:].mean().item() == pytest.approx(0.3, abs=0.005)


def test_evaluate_reports_each_number_with_its_protocol(small_vae: VAE, images: torch.Tensor) -> None:
    grey = evaluate(small_vae, images, k=10)
    binary = evaluate(small_vae, images, k=10, binarize=True)
    assert "grey-level" in grey["protocol"] and "binarized" in binary["protocol"]
    assert grey["iwae_k"] == 10 and grey["iwae_nll"] <= grey["neg_elbo"] + 4 * grey["neg_elbo_stderr"]
    assert binary == evaluate(small_vae, images, k=10, binarize=True)
    assert "iwae_nll" not in evaluate(small_vae, images, k=0)
    assert grey["images"] == 6 and len(grey["kl_per_dim"]) == 1
