"""Checkpoints that survive crashes and never run code: atomic writes, `weights_only` reads.

A save writes a temp file beside the target, fsyncs it and `os.replace`s it over the old one, so
at every instant the path holds either the previous complete checkpoint or the new one (a
`kill -9` mid-save leaves a stray temp file, removed by the next save). Loading accepts our own
checkpoints and a plain `state_dict` of the reference architecture; whatever else a file holds
(truncated, random, a pickle with code in it) is refused with one line, never executed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import warnings
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from .config import TrainConfig
from .errors import CheckpointError
from .memory import check_file

E = TypeVar("E", bound=BaseException)

FORMAT = "vae-tui-checkpoint"
VERSION = 1
MODEL_KEYS = {
    "fc1.weight", "fc1.bias", "fc_mu.weight", "fc_mu.bias", "fc_logvar.weight",
    "fc_logvar.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias",
}  # fmt: skip


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """torch.save to `path` so that a crash or a full disk leaves the old file intact."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if interrupted(e):
            # A Ctrl-C inside torch.save makes its zip writer fail on the way out with a
            # RuntimeError; the user pressed Ctrl-C, so that is what callers must see.
            raise KeyboardInterrupt from None
        # A full disk inside torch.save surfaces as its zip writer's RuntimeError ("unexpected
        # pos ..."), with the OSError that says what happened only in the chain.
        if (os_error := in_chain(e, OSError)) is not None:
            kept = "the previous checkpoint is kept" if path.is_file() else "no checkpoint was saved yet"
            reason = os_error.strerror or os_error
            raise CheckpointError(f"could not save checkpoint {path}: {reason}; {kept}") from None
        raise
    fsync_dir(path.parent)
    remove_stale_temps(path)
    return path


def in_chain(error: BaseException | None, kind: type[E]) -> E | None:
    """The first error of `kind` among `error` and the errors it was raised while handling."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__context__
    return None


def interrupted(error: BaseException | None) -> bool:
    """Whether a KeyboardInterrupt is `error` or anywhere in the chain of errors it caused."""
    return in_chain(error, KeyboardInterrupt) is not None


def remove_stale_temps(path: Path) -> None:
    """Delete temp files that killed processes left beside `path` (never a live writer's)."""
    for stray in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stray.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                stray.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but another user's
        return True
    return True


def fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw dict in a checkpoint file, read without executing anything it contains."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
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
    return data


def model_state(data: dict[str, Any], path: str | os.PathLike[str] = "checkpoint") -> dict[str, Any]:
    """The model's state_dict from our checkpoint or from a reference `state_dict`: bare, under
    a notebook's usual key (`model_state_dict`, `state_dict`, `model`), or with DataParallel's
    `module.` prefix."""
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
    return atomic_save(
        {
            "format": FORMAT,
            "version": VERSION,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "config": config.to_dict(),
            "epoch": epoch,
            "batch": batch,
            "step": step,
            "partial": partial,
            "rng": rng_states(noise),
        },
        path,
    )


def rng_states(noise: torch.Generator) -> dict[str, Any]:
    """Every random state a run touches, as plain data (`weights_only` loads it)."""
    np_state = np.random.get_state()
    return {
        "noise": noise.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python": list(random.getstate()[1]),
    }


def restore_rng(states: dict[str, Any], noise: torch.Generator) -> None:
    noise.set_state(states["noise"])
    torch.set_rng_state(states["torch"])
    kind, keys, *rest = states["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))
    random.setstate((3, tuple(states["python"]), None))
