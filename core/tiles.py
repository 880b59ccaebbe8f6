"""What the app shows of a model: reconstructions, samples and latent traversals as uint8 tiles.

It works on a CPU copy of the weights (a `ModelSnapshot`, or a checkpoint), so the UI can decode
on its own thread while training goes on elsewhere. Every method is a few small matrix products:
well under the app's 100 ms budget for a key press.
"""

from __future__ import annotations

import numpy as np
import torch

from .grids import to_uint8
from .loss import bce_per_image, kl_divergence
from .model import VAE
from .weights import architecture

TRAVERSAL_RANGE = 3.0  # sweep each latent dimension over ±3 standard deviations of the prior


class TileDecoder:
    """A frozen model plus the test images it is browsed with."""

    def __init__(
        self, state: dict[str, torch.Tensor], test_images: torch.Tensor, labels: torch.Tensor | None = None
    ):
        dims = architecture(state)
        self.model = VAE(**dims)
        self.model.load_state_dict(state)
        self.model.eval()
        self.latent_dim = dims["latent_dim"]
        self.images = test_images
        self.labels = labels

    @property
    def count(self) -> int:
        return int(self.images.shape[0])

    @torch.inference_mode()
    def originals(self, indices: list[int]) -> np.ndarray:
        return to_uint8(self.images[indices])

    @torch.inference_mode()
    def reconstructions(self, indices: list[int]) -> np.ndarray:
        """Decodings of the posterior means (the steady picture, without sampling noise)."""
        mu, _ = self.model.encode(self.images[indices])
        return to_uint8(self.model.decode(mu))

    @torch.inference_mode()
    def image_loss(self, index: int) -> tuple[float, float]:
        """(BCE of the mean reconstruction, KLD) of one test image, in nats."""
        x = self.images[index : index + 1]
        mu, logvar = self.model.encode(x)
        return float(bce_per_image(self.model.decode_logits(mu), x)), float(kl_divergence(mu, logvar))

    @torch.inference_mode()
    def code(self, index: int | None) -> torch.Tensor:
        """μ of a test image, or the prior's mean (zeros) for None."""
        if index is None:
            return torch.zeros(self.latent_dim)
        return self.model.encode(self.images[index : index + 1])[0][0]

    @torch.inference_mode()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        return to_uint8(self.model.decode(z))

    @torch.inference_mode()
    def traversal(self, base: torch.Tensor, dims: list[int], steps: int) -> np.ndarray:
        """(len(dims), steps, 28, 28): row i sweeps dimension dims[i] from −3 to +3, others at base."""
        values = torch.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, steps)
        z = base.repeat(len(dims), steps, 1)
        for row, d in enumerate(dims):
            z[row, :, d] = values
        return self.decode(z.reshape(-1, self.latent_dim)).reshape(len(dims), steps, 28, 28)
