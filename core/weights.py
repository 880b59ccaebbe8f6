"""The reference VAE's weights as a `state_dict`, whoever saved them: its keys, the sizes its
shapes spell, and the ways notebooks wrap it. Where a file keeps them is core/checkpoint.py's
business; this module knows the VAE's layers (core/model.py) and nothing of our format.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .errors import CheckpointError

if TYPE_CHECKING:
    import torch

MODEL_KEYS = {
    "fc1.weight", "fc1.bias", "fc_mu.weight", "fc_mu.bias", "fc_logvar.weight",
    "fc_logvar.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias",
}  # fmt: skip


def checked_weights(state: Any, path: str | os.PathLike[str] = "checkpoint") -> dict[str, torch.Tensor]:
    """`state`, if it is the reference VAE's state_dict: its keys, all tensors, all finite."""
    import torch  # noqa: PLC0415 - importing this module loads no torch (core/checkpoint.py says why)

    if not isinstance(state, dict) or set(state) != MODEL_KEYS:
        keys = sorted(state)[:6] if isinstance(state, dict) else []
        raise CheckpointError(
            f"{path} is not a vae-tui checkpoint nor a state_dict of the reference VAE "
            f"(expected keys fc1, fc_mu, fc_logvar, fc2, fc3; found {', '.join(map(str, keys)) or 'none'})"
        )
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: the model state holds non-tensor values")
    if not all(bool(torch.isfinite(v).all()) for v in state.values()):
        raise CheckpointError(f"{path}: the model's weights hold NaN or infinite values")
    return state


def unwrap_state(data: dict[str, Any]) -> Any:
    """The weights inside a notebook's checkpoint dict, if that is what `data` is."""
    for key in ("model_state_dict", "state_dict", "model"):
        if set(data) != MODEL_KEYS and isinstance(data.get(key), dict):
            data = data[key]
    if data and all(isinstance(k, str) and k.startswith("module.") for k in data):
        data = {k.removeprefix("module."): v for k, v in data.items()}
    return data


def architecture(
    state: dict[str, torch.Tensor], path: str | os.PathLike[str] = "checkpoint"
) -> dict[str, int]:
    """input/hidden/latent sizes read off the weight shapes, checked for consistency."""
    hidden, inputs = state["fc1.weight"].shape
    latent = state["fc_mu.weight"].shape[0]
    expected = {
        "fc1.weight": (hidden, inputs), "fc1.bias": (hidden,),
        "fc_mu.weight": (latent, hidden), "fc_mu.bias": (latent,),
        "fc_logvar.weight": (latent, hidden), "fc_logvar.bias": (latent,),
        "fc2.weight": (hidden, latent), "fc2.bias": (hidden,),
        "fc3.weight": (inputs, hidden), "fc3.bias": (inputs,),
    }  # fmt: skip
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointError(f"{path}: {key} has shape {tuple(state[key].shape)}, expected {shape}")
    if inputs != 784:
        raise CheckpointError(f"{path}: the model takes {inputs} inputs, not 784 (28×28 images)")
    return {"input_dim": int(inputs), "hidden_dim": int(hidden), "latent_dim": int(latent)}
