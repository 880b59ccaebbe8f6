"""`FusedAdamW` is torch's AdamW, bit for bit, and their saved states load into each other."""

from __future__ import annotations

import io

import pytest
import torch

from vae_tui.core.model import VAE
from vae_tui.core.optimizer import FusedAdamW, make_optimizer


def twins(seed: int = 0) -> tuple[VAE, VAE]:
    torch.manual_seed(seed)
    a, b = VAE(30, 16, 3), VAE(30, 16, 3)
    b.load_state_dict(a.state_dict())
    return a, b


def set_grads(models: tuple[VAE, VAE], seed: int, skip: str | None = None) -> None:
    """The same random gradient in both (none for the parameter named `skip`)."""
    g = torch.Generator().manual_seed(seed)
    for (name, pa), pb in zip(models[0].named_parameters(), models[1].parameters(), strict=True):
        grad = torch.randn(pa.shape, generator=g)
        pa.grad, pb.grad = (None, None) if name == skip else (grad.clone(), grad.clone())


def assert_same(a: VAE, sa: dict, b: VAE, sb: dict) -> None:
    """Equal weights, and equal state dicts: the same layout, keys and tensors."""
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for index, state in sa["state"].items():
        assert state.keys() == sb["state"][index].keys()
        for key, value in state.items():
            other = sb["state"][index][key]
            assert value.dtype == other.dtype and value.device == other.device
            assert torch.equal(value, other), (index, key)


def test_make_optimizer_gives_fused_adamw_on_a_cpu() -> None:
    optimizer = make_optimizer(VAE(30, 16, 3), 1e-3)
    assert isinstance(optimizer, FusedAdamW)
    assert optimizer.param_groups[0]["lr"] == 1e-3


def test_fused_adamw_is_torch_adamw_bit_for_bit() -> None:
    """Every step, a first one that leaves a parameter out included, and the state dict."""
    a, b = twins()
    theirs = torch.optim.AdamW(a.parameters(), lr=1e-2, fused=True)
    ours = make_optimizer(b, 1e-2)
    for seed in range(6):
        set_grads((a, b), seed, skip="fc1.bias" if seed == 0 else None)
        theirs.step()
        ours.step()
        assert_same(a, theirs.state_dict(), b, ours.state_dict())


@pytest.mark.parametrize("fused", [True, False], ids=["torch-fused", "torch-foreach"])
def test_state_dicts_load_both_ways(fused: bool) -> None:
    """A checkpoint's optimizer state from torch's AdamW (as vae-tui saved it before, fused or
    not) goes on in ours, and ours in torch's; a state for another model is refused."""
    a, b = twins(1)
    theirs = torch.optim.AdamW(a.parameters(), lr=1e-2, fused=fused)
    ours = make_optimizer(b, 1e-2)
    for seed in range(3):
        set_grads((a, b), seed)
        theirs.step()
        ours.step()

    def saved(optimizer: torch.optim.Optimizer | FusedAdamW) -> dict:
        buffer = io.BytesIO()
        torch.save(optimizer.state_dict(), buffer)
        return torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)

    # Ours from torch's saved state; torch's (fused) from ours: both go on as one optimizer would.
    ours_again = make_optimizer(b, 1e-3)
    ours_again.load_state_dict(saved(theirs))
    assert ours_again.param_groups[0]["lr"] == 1e-2  # the saved settings, as torch's load does
    b.load_state_dict(a.state_dict())
    theirs_again = torch.optim.AdamW(a.parameters(), lr=1e-3, fused=True)
    theirs_again.load_state_dict(saved(ours_again))
    for seed in range(3, 6):
        set_grads((a, b), seed)
        theirs_again.step()
        ours_again.step()
    assert_same(a, theirs_again.state_dict(), b, ours_again.state_dict())

    with pytest.raises(ValueError, match="shape"):
        make_optimizer(VAE(30, 8, 3), 1e-2).load_state_dict(saved(theirs))
