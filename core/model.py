"""The reference VAE: fully connected, 784 → 256 → (μ, log σ²) of 20 → 256 → 784.

Layer names match the reference notebook (`fc1`, `fc_mu`, `fc_logvar`, `fc2`, `fc3`) so a
`state_dict` it saved loads as is. The decoder is split into `decode_logits` (what the loss uses:
BCE from logits is faster and numerically safer than BCE after a sigmoid) and `decode`
(the image in [0, 1]).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

IMAGE_SHAPE = (1, 28, 28)


class VAE(nn.Module):
    """Kingma & Welling's VAE with one hidden layer each side and a Bernoulli decoder."""

    def __init__(self, input_dim: int = 784, hidden_dim: int = 256, latent_dim: int = 20) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.latent_dim = latent_dim
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.fc_mu = nn.Linear(hidden_dim, latent_dim)
        self.fc_logvar = nn.Linear(hidden_dim, latent_dim)
        self.fc2 = nn.Linear(latent_dim, hidden_dim)
        self.fc3 = nn.Linear(hidden_dim, input_dim)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) as (μ, log σ²); accepts (N, 1, 28, 28) or (N, 784)."""
        h = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc_mu(h), self.fc_logvar(h)

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """z = μ + ε·σ with ε ~ N(0, I), so gradients flow through μ and σ."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * torch.exp(0.5 * logvar)

    def decode_logits(self, z: Tensor) -> Tensor:
        """Bernoulli logits of the 784 pixels, flat (N, 784)."""
        return self.fc3(F.relu(self.fc2(z)))

    def decode(self, z: Tensor) -> Tensor:
        """Pixel means in [0, 1] as images (N, 1, 28, 28)."""
        return torch.sigmoid(self.decode_logits(z)).reshape(z.shape[0], *IMAGE_SHAPE)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(reconstruction in [0, 1] as images, μ, log σ²), as the textbook VAE returns."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode(z), mu, logvar
