"""The reference architecture, its loss and the KL schedule, checked against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from vae_tui.core.config import TrainConfig
from vae_tui.core.loss import bce_per_image, kl_divergence, vae_loss
from vae_tui.core.model import VAE
from vae_tui.core.schedules import kl_weight


def test_shapes_and_reference_layer_names() -> None:
    model = VAE()
    x = torch.rand(5, 1, 28, 28)
    recon, mu, logvar = model(x)
    assert recon.shape == (5, 1, 28, 28)
    assert mu.shape == logvar.shape == (5, 20)
    assert recon.min() >= 0 and recon.max() <= 1
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {
        "fc1.weight": (256, 784), "fc1.bias": (256,),
        "fc_mu.weight": (20, 256), "fc_mu.bias": (20,),
        "fc_logvar.weight": (20, 256), "fc_logvar.bias": (20,),
        "fc2.weight": (256, 20), "fc2.bias": (256,),
        "fc3.weight": (784, 256), "fc3.bias": (784,),
    }  # fmt: skip
    assert model.encode(x.reshape(5, 784))[0].shape == (5, 20)  # flat input works too
    assert model.decode(torch.zeros(3, 20)).shape == (3, 1, 28, 28)


def test_reparameterize_has_the_right_moments() -> None:
    g = torch.Generator().manual_seed(0)
    mu = torch.full((200_000, 1), 1.5)
    logvar = torch.full((200_000, 1), math.log(0.25))
    z = VAE.reparameterize(mu, logvar, g)
    assert z.mean().item() == pytest.approx(1.5, abs=0.01)
    assert z.std().item() == pytest.approx(0.5, abs=0.01)


def test_loss_matches_a_hand_computation() -> None:
    # Two images of two pixels, written out so the formula is visible.
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    x = torch.tensor([[1.0, 0.0], [0.25, 1.0]])
    mu = torch.tensor([[0.5], [-1.0]])
    logvar = torch.tensor([[0.0], [math.log(2.0)]])
    p = torch.sigmoid(logits)

    def bce(px: float, xx: float) -> float:
        return -(xx * math.log(px) + (1 - xx) * math.log(1 - px))

    bce_hand = [sum(bce(p[i, j].item(), x[i, j].item()) for j in range(2)) for i in range(2)]
    kld_hand = [
        -0.5 * (1 + 0.0 - 0.25 - 1.0),
        -0.5 * (1 + math.log(2.0) - 1.0 - 2.0),
    ]
    beta = 0.3
    terms = vae_loss(logits, x.reshape(2, 1, 1, 2), mu, logvar, beta)
    assert terms.bce.item() == pytest.approx(sum(bce_hand) / 2, rel=1e-6)
    assert terms.kld.item() == pytest.approx(sum(kld_hand) / 2, rel=1e-6)
    assert terms.total.item() == pytest.approx((sum(bce_hand) + beta * sum(kld_hand)) / 2, rel=1e-6)
    assert bce_per_image(logits, x).tolist() == pytest.approx(bce_hand, rel=1e-6)


def test_loss_from_logits_equals_bce_after_sigmoid() -> None:
    """The reference applies BCE to the sigmoid output; our logits form must agree."""
    torch.manual_seed(0)
    logits = torch.randn(8, 784) * 3
    x = torch.rand(8, 784)
    ref = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum") / 8
    ours = vae_loss(logits, x, torch.zeros(8, 2), torch.zeros(8, 2), 1.0).bce
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)


def test_closed_form_kld_matches_monte_carlo() -> None:
    torch.manual_seed(1)
    mu = torch.randn(3, 4)
    logvar = torch.randn(3, 4) * 0.5
    closed = kl_divergence(mu, logvar)
    n = 400_000
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(n, 3, 4)
    log_q = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    mc = (log_q - log_p).mean(0)
    assert mc.tolist() == pytest.approx(closed.tolist(), abs=0.02)


def test_kl_schedule_is_the_references() -> None:
    config = TrainConfig(epochs=50)
    assert kl_weight(0, config) == 0.0
    assert kl_weight(25, config) == 0.5
    assert kl_weight(49, config) == pytest.approx(0.98)
    capped = TrainConfig(epochs=10, beta_max=0.5)
    assert kl_weight(9, capped) == pytest.approx(0.45)
    assert kl_weight(0, TrainConfig(kl_anneal="none", beta_max=0.7)) == 0.7
    assert kl_weight(49, TrainConfig(kl_anneal="none")) == 1.0
