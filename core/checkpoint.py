"""The checkpoint format, in one place: what a save writes, what a load accepts, what a run
checkpoint holds once checked, and how a model is opened for browsing or evaluation.

A checkpoint is `torch.save` of a dict: `format`, `version`, `model`, `optimizer`, `config`, the
position (`epoch`, `batch`, `step`), the `partial` sums of a cut epoch and the `rng` states. A
save is atomic and fsynced (core/atomic.py). A load accepts our checkpoints (of a version this
vae-tui reads) and a reference `state_dict`; anything else (truncated, random, a pickle with code)
is refused with one line, never executed (core/torch_file.py opens the file). A run's checkpoint
is read into a `RunCheckpoint` (to resume: `read_run_checkpoint`) or, without torch, a
`SavedPosition` (where it stands: `saved_position`). Importing this module loads no torch
(functions import it), so a run's position is known before torch's seconds of imports.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import atomic
from .config import TrainConfig
from .errors import CheckpointError, InvalidConfigValue
from .torch_file import load_weights_only, plain_fields
from .weights import architecture, checked_weights, unwrap_state

if TYPE_CHECKING:
    import torch

    from .model import VAE

FILE_NAME = "checkpoint.pt"  # in a run folder
FORMAT = "vae-tui-checkpoint"
VERSION = 1
"""The format version this vae-tui writes, and the newest it reads."""


def fresh_sums() -> dict[str, float]:
    """The running sums of an epoch not yet started (a checkpoint's `partial`): loss, BCE and KLD
    summed per image, images, and the seconds spent on it."""
    return {"loss": 0.0, "bce": 0.0, "kld": 0.0, "images": 0, "seconds": 0.0}


PARTIAL_KEYS = tuple(fresh_sums())


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
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    data = load_weights_only(path)
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
    `module.` prefix (core/weights.py)."""
    return checked_weights(data.get("model") if data.get("format") == FORMAT else unwrap_state(data), path)


@dataclass(frozen=True)
class SavedPosition:
    """Where a run's checkpoint stands, and the config it was saved with."""

    epoch: int
    """Epochs done."""
    batch: int
    """Batches done of the epoch after those: a run stopped mid-epoch saves there."""
    step: int
    """Optimizer steps taken."""
    config: TrainConfig


@dataclass(frozen=True)
class RunCheckpoint(SavedPosition):
    """A run's checkpoint, checked by `read_run_checkpoint`: what a resume restores."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    """The optimizer's state_dict as saved (`resume.check_restorable` tries it on the model)."""
    partial: dict[str, float]
    """The sums of the epoch after `epoch`, as far as the run got into it (see `fresh_sums`)."""
    rng: dict[str, Any] | None
    """The `rng_states` saved; None when the file holds none (`check_restorable` refuses that)."""


def is_run(data: dict[str, Any]) -> bool:
    """Whether `data` is our checkpoint of a run, not a bare model (no optimizer to go on with)."""
    return data.get("format") == FORMAT and "optimizer" in data


def check_position(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
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


def saved_config(data: dict[str, Any], path: str | os.PathLike[str]) -> TrainConfig:
    """The run's config from the checkpoint, refusing values no run could have saved (the checks
    of `TrainConfig` itself, worded for a resume)."""
    raw = data.get("config")
    if not isinstance(raw, dict):
        raise CheckpointError(f"cannot resume from {path}: it holds no run config")
    try:
        return TrainConfig.from_dict(raw)
    except InvalidConfigValue as e:
        raise CheckpointError(f"cannot resume from {path}: its config has {e.name}={e.value!r}") from None
    except TypeError as e:
        raise CheckpointError(f"cannot resume from {path}: its config is damaged ({e})") from None


def read_run_checkpoint(path: Path) -> RunCheckpoint:
    """The run saved in checkpoint `path`, checked as far as the file alone can tell: ours, of a
    version this vae-tui reads, with the reference VAE's weights, a config and a position. (A
    resume then checks it against the config it goes on with: `resume.check_restorable`.)"""
    data = read_checkpoint(path)
    if not is_run(data):
        raise CheckpointError(f"{path} is a bare model, not a vae-tui run; nothing to resume")
    model = model_state(data, path)
    config = saved_config(data, path)
    check_position(data, path)
    rng = data.get("rng")
    return RunCheckpoint(
        data["epoch"], data["batch"], data["step"], config, model, data["optimizer"],
        dict(data.get("partial") or fresh_sums()), rng if isinstance(rng, dict) else None,
    )  # fmt: skip


def saved_position(path: str | os.PathLike[str]) -> SavedPosition | None:
    """Where the run checkpoint at `path` stands, read without torch (core/torch_file.py); None
    for anything else (a bare state_dict, another format or version, a damaged file: the full
    load, `read_run_checkpoint`, says what is wrong)."""
    data = plain_fields(path)
    if not isinstance(data, dict) or not is_run(data):
        return None
    try:
        check_version(data, path)
        check_position(data, path)
        config = saved_config(data, path)
    except Exception:  # noqa: BLE001 - a CheckpointError, or a config value this reader cannot check
        return None
    return SavedPosition(data["epoch"], data["batch"], data["step"], config)


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
