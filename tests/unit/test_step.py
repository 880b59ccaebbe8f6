"""The fused training step computes autograd's loss and gradients, and trains the same model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vae_tui.core.config import TrainConfig
from vae_tui.core.data import load_split
from vae_tui.core.events import EpochEnd
from vae_tui.core.model import VAE
from vae_tui.core.step import STEPS, autograd_step, fused_step
from vae_tui.core.train import train


def grads(model: VAE) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize(
    ("dims", "n", "beta"),
    [((784, 256, 20), 128, 1.0), ((784, 256, 20), 7, 0.0), ((784, 32, 4), 64, 0.37), ((50, 16, 3), 1, 2.5)],
)
def test_fused_step_matches_autograd(
    dims: tuple[int, int, int], n: int, beta: float, mnist_dir: Path
) -> None:
    """Same loss terms and gradients, to float32 rounding, on real images (grey levels)."""
    torch.manual_seed(3)
    model = VAE(*dims)
    images = load_split(mnist_dir, "test", n).images.reshape(n, -1)
    x = images[:, : dims[0]].contiguous()
    eps = torch.randn(n, dims[2])

    want = autograd_step(model, x, eps, beta)
    want_grads = grads(model)
    got = fused_step(model, x, eps, beta)
    got_grads = grads(model)

    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)
    for name, g in want_grads.items():
        scale = g.abs().max().clamp(min=1e-6)
        assert float((got_grads[name] - g).abs().max() / scale) < 1e-4, name
        assert got_grads[name].shape == g.shape
    assert all(not p.grad.requires_grad for p in model.parameters())


def test_every_step_kind_has_a_step() -> None:
    from typing import get_args

    from vae_tui.core.config import StepKind

    assert set(STEPS) == set(get_args(StepKind))


def test_fused_and_autograd_runs_train_the_same_model(tiny_config: TrainConfig, tmp_path: Path) -> None:
    """Whole runs of the real loop: the same held-out loss and weights up to float rounding
    (the data order and noise are the same; only the order of float operations differs)."""
    runs = {}
    for kind in ("fused", "autograd"):
        config = tiny_config.with_(step=kind, run_dir=str(tmp_path / kind), iwae_k=0, kl_anneal="none")
        events = list(train(config))
        runs[kind] = (
            [e for e in events if isinstance(e, EpochEnd)][-1],
            torch.load(tmp_path / kind / "checkpoint.pt", weights_only=False)["model"],
        )
    (fused_end, fused_weights), (auto_end, auto_weights) = runs["fused"], runs["autograd"]
    assert fused_end.test_loss == pytest.approx(auto_end.test_loss, rel=1e-4)
    assert fused_end.loss == pytest.approx(auto_end.loss, rel=1e-4)
    for name, w in auto_weights.items():
        torch.testing.assert_close(fused_weights[name], w, rtol=1e-3, atol=1e-4)
