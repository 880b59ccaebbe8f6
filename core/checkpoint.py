"""The checkpoint format, in one place: what a save writes, what a load accepts, what a resume
checks it can restore, and how a model is opened for browsing or evaluation.

A checkpoint is `torch.save` of a dict: `format`, `version`, `model`, `optimizer`, `config`, the
position (`epoch`, `batch`, `step`), the `partial` sums of a cut epoch and the `rng` states. A
save is atomic and fsynced (core/atomic.py). A load accepts our checkpoints (of a version this
vae-tui reads) and a reference `state_dict`; anything else (truncated, random, a pickle with code)
is refused with one line, never executed. Importing this module loads no torch (functions import
it), so core/runinfo.py can read a run's position with these names before torch has loaded.
"""

from __future__ import annotations

import math
import os
import pickle
import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import atomic
from .config import TrainConfig
from .errors import CheckpointError, InvalidConfigValue

if TYPE_CHECKING:
    import torch

    from .model import VAE

FILE_NAME = "checkpoint.pt"  # in a run folder
FORMAT = "vae-tui-checkpoint"
VERSION = 1
"""The format version this vae-tui writes, and the newest it reads."""
MODEL_KEYS = {
    "fc1.weight", "fc1.bias", "fc_mu.weight", "fc_mu.bias", "fc_logvar.weight",
    "fc_logvar.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias",
}  # fmt: skip
PARTIAL_KEYS = ("loss", "bce", "kld", "images", "seconds")


def save_checkpoint(
    path: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    position: tuple[int, int, int],
    partial: dict[str, float],
    noise: torch.Generator,
) -> Path:
    """Write the run's state at (epochs done, batches into the next, steps), atomically: what a
    resume needs to compute the same weights as an uninterrupted run."""
    epoch, batch, step = position
    data = {
        "format": FORMAT, "version": VERSION, "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "config": config.to_dict(),
        "epoch": epoch, "batch": batch, "step": step, "partial": partial, "rng": rng_states(noise),
    }  # fmt: skip
    return atomic_save(data, path)


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """torch.save to `path` so that a crash or a full disk leaves the old file intact."""
    import torch  # noqa: PLC0415 - see the module's doc

    path = Path(path)
    try:
        atomic.write_atomic(path, lambda f: torch.save(obj, f), durable=True)
    except OSError as e:
        kept = "the previous checkpoint is kept" if path.is_file() else "no checkpoint was saved yet"
        raise CheckpointError(f"could not save checkpoint {path}: {e.strerror or e}; {kept}") from None
    return path


def rng_states(noise: torch.Generator) -> dict[str, Any]:
    """Every random state a run touches, as plain data (`weights_only` loads it)."""
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    np_state = np.random.get_state()
    return {
        "noise": noise.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python": list(random.getstate()[1]),
    }


def restore_rng(states: dict[str, Any], noise: torch.Generator, *, scratch: bool = False) -> None:
    """Put back the states `rng_states` took; with `scratch`, into throwaway generators instead of
    the process's (a resume's check that they fit, before anything is trained)."""
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    noise.set_state(states["noise"])
    if scratch:
        torch.Generator().set_state(states["torch"])
    else:
        torch.set_rng_state(states["torch"])
    kind, keys, *rest = states["numpy"]
    numpy_state = (kind, np.array(keys, dtype=np.uint32), *rest)
    (np.random.RandomState() if scratch else np.random).set_state(numpy_state)
    (random.Random() if scratch else random).setstate((3, tuple(states["python"]), None))


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw dict in a checkpoint file (or run folder), read without executing anything it
    contains; ours only if this vae-tui reads its format version."""
    import torch  # noqa: PLC0415

    from .memory import check_file  # noqa: PLC0415 - torch

    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if (size := path.stat().st_size) == 0:
        raise CheckpointError(f"checkpoint {path} is empty")
    check_file(path, size)  # torch.load reads it all into memory
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols before refusing
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" in str(e):  # torch's weights-only unpickler met a class or function reference
            raise CheckpointError(
                f"refused to load {path}: it holds Python objects or code, not just weights"
            ) from None
        raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch weights file") from None
    except Exception as e:  # noqa: BLE001 - any failure to parse untrusted bytes means "corrupt"
        if isinstance(e, OSError) and e.strerror:  # unreadable (permissions, I/O), not corrupt
            raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror}") from None
        first = str(e).strip().splitlines()[0].split(". ")[0][:160] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({first})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(data).__name__}, not a dict")
    check_version(data, path)
    return data


def check_version(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Refuse our checkpoint if a newer vae-tui wrote it (its fields may mean something else), or
    if its version is missing or not a version at all; anything not ours passes (a state_dict)."""
    if data.get("format") != FORMAT:
        return
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"checkpoint {path} is damaged: its format version is {version!r}")
    if version > VERSION:
        raise CheckpointError(
            f"checkpoint {path} was written by a newer vae-tui (format version {version}; this one "
            f"reads version {VERSION}): upgrade vae-tui to open it"
        )


def model_state(data: dict[str, Any], path: str | os.PathLike[str] = "checkpoint") -> dict[str, Any]:
    """The model's state_dict from our checkpoint or from a reference `state_dict`: bare, under
    a notebook's usual key (`model_state_dict`, `state_dict`, `model`), or with DataParallel's
    `module.` prefix."""
    import torch  # noqa: PLC0415

    state = data.get("model") if data.get("format") == FORMAT else unwrap_state(data)
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


def check_position(data: dict[str, Any], path: Path) -> None:
    """epoch, batch and step are counts; `partial` holds the running sums of a cut epoch."""
    for key in ("epoch", "batch", "step"):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CheckpointError(f"cannot resume from {path}: its {key} is {value!r}")
    partial = data.get("partial")
    if partial is None:
        return
    if not isinstance(partial, dict) or not all(
        isinstance(partial.get(k), (int, float)) and math.isfinite(partial[k]) for k in PARTIAL_KEYS
    ):
        raise CheckpointError(f"cannot resume from {path}: its partial-epoch sums are damaged")


def check_restorable(data: dict[str, Any], state: dict[str, Any], config: TrainConfig, path: Path) -> None:
    """Restore weights, optimizer and RNG states into throwaway objects, as `train` will."""
    import torch  # noqa: PLC0415

    from .device import resolve_device  # noqa: PLC0415
    from .model import VAE  # noqa: PLC0415

    dims = architecture(state, path)
    expected = {k: getattr(config, k) for k in dims}
    if dims != expected:
        raise CheckpointError(
            f"cannot resume from {path}: its weights are a {dims['hidden_dim']}-{dims['latent_dim']} "
            f"model but its config says {expected['hidden_dim']}-{expected['latent_dim']}"
        )
    device = resolve_device(config.device)  # a ConfigError (no CUDA here) is reported as such
    unfit = (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError)
    try:
        model = VAE(**dims)
        model.load_state_dict(state)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
        optimizer.load_state_dict(data["optimizer"])
        for param in model.parameters():
            for key, value in optimizer.state.get(param, {}).items():
                if key != "step" and isinstance(value, torch.Tensor) and value.shape != param.shape:
                    raise ValueError(f"optimizer {key} has shape {tuple(value.shape)}")
    except unfit as e:
        first = " ".join(str(e).split())[:200]
        raise CheckpointError(
            f"cannot resume from {path}: its optimizer state does not fit ({first})"
        ) from None
    try:
        if not isinstance(rng := data.get("rng"), dict):
            raise TypeError("missing")
        restore_rng(rng, torch.Generator(device=device), scratch=True)
    except unfit as e:
        first = " ".join(str(e).split())[:200]
        raise CheckpointError(
            f"cannot resume from {path}: its random-number states are damaged or from another kind of "
            f"device (resume with the --device it was trained on) ({first})"
        ) from None


@dataclass(frozen=True)
class LoadedModel:
    model: VAE
    config: TrainConfig
    """The saved config, or the defaults with the architecture read off a bare state_dict."""
    epoch: int | None  # epochs trained, when the file says
    step: int | None
    """Optimizer steps taken, when the file says (how far the run's logs are to be read)."""
    batch: int | None
    """Batches of epoch `epoch + 1` already trained: a run stopped mid-epoch saves there."""
    source: str  # `checkpoint` (ours) or `state_dict` (e.g. the reference notebook's)


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> LoadedModel:
    """The model in `path` (ours or a reference state_dict), in eval mode on `device`, for
    browsing and `--eval`; refusing anything but weights."""
    from .model import VAE  # noqa: PLC0415

    data = read_checkpoint(path)
    state = model_state(data, path)
    dims = architecture(state, path)
    ours = data.get("format") == FORMAT
    saved = data.get("config") if ours else None
    try:
        config = TrainConfig.from_dict(saved) if isinstance(saved, dict) else TrainConfig()
    except InvalidConfigValue:  # damaged by hand: the weights are still worth browsing and scoring
        config = TrainConfig()
    config = config.with_(**dims)
    model = VAE(**dims)
    model.load_state_dict(state)
    model.to(device).eval()
    if not ours:
        return LoadedModel(model, config, None, None, None, "state_dict")
    return LoadedModel(model, config, data.get("epoch"), data.get("step"), data.get("batch", 0), "checkpoint")
