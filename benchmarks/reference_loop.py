"""The textbook loop the benchmark holds ours against, written as the reference notebook writes it.

torchvision `MNIST(transform=ToTensor())` through a `DataLoader(batch_size=128, shuffle=True)`,
sigmoid + `F.binary_cross_entropy(sum)/N`, AdamW (non-fused), `loss.item()` every batch. Its
held-out -ELBO is measured with our protocol (`evaluate.heldout_elbo`), so accuracy compares too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def reference_model() -> Any:
    """The reference VAE (784-256-20), with our layer names so its weights load into ours."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class ReferenceVAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(784, 256)
            self.fc_mu = nn.Linear(256, 20)
            self.fc_logvar = nn.Linear(256, 20)
            self.fc2 = nn.Linear(20, 256)
            self.fc3 = nn.Linear(256, 784)

        def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = F.relu(self.fc1(x))
            return self.fc_mu(h), self.fc_logvar(h)

        def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
            std = torch.exp(0.5 * logvar)
            return mu + torch.randn_like(std) * std

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.fc3(F.relu(self.fc2(z))))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            mu, logvar = self.encode(x.view(-1, 784))
            return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    return ReferenceVAE()


def train_epoch(model: Any, optimizer: Any, loader: Any, beta: float) -> tuple[float, int, float]:
    """One epoch of the textbook loop: (seconds, images, mean training loss)."""
    from torch.nn import functional as F

    model.train()
    start = time.perf_counter()
    images = 0
    total = 0.0
    for x, _labels in loader:
        recon, mu, logvar = model(x)
        n = x.shape[0]
        bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum") / n
        kld = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        loss = bce + beta * kld
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * n
        images += n
    return time.perf_counter() - start, images, total / max(1, images)


def run_reference(
    data_root: Path, train_limit: int | None, test_limit: int | None, seed: int, beta: float
) -> dict[str, Any]:
    """One epoch of the textbook loop at torch's thread count as it is, then its held-out -ELBO."""
    import torch
    import torchvision
    from torchvision import transforms

    from vae_tui.core.data import load_split, resolve_dataset_dir
    from vae_tui.core.evaluate import heldout_elbo
    from vae_tui.core.model import VAE

    wall = time.perf_counter()
    dataset = torchvision.datasets.MNIST(
        root=str(data_root), train=True, download=False, transform=transforms.ToTensor()
    )
    if train_limit is not None:
        dataset = torch.utils.data.Subset(dataset, range(min(train_limit, len(dataset))))
    torch.manual_seed(seed)
    model = reference_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True)
    seconds, images, train_loss = train_epoch(model, optimizer, loader, beta)
    wall = time.perf_counter() - wall
    ours = VAE()  # held-out quality with our protocol
    ours.load_state_dict(model.state_dict())
    ours.eval()
    test = load_split(resolve_dataset_dir("mnist", data_root), "test", test_limit)
    held = heldout_elbo(ours, test.images)
    return {
        "train_seconds": seconds,
        "epoch_seconds": None,
        "images_per_second": images / seconds,
        "wall_seconds": wall,
        "test_loss": held["loss"],
        "test_loss_stderr": held["stderr"],
        "extra": {"train_loss": train_loss, "threads": torch.get_num_threads()},
    }
