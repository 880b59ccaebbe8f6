"""Continuing a run: its saved config, with only the changes that keep the result meaningful.

Everything the loop will restore (weights, optimizer, RNG states, position) is checked here,
before any training starts, so a damaged or foreign checkpoint is refused with one line instead
of failing deep inside torch.
"""

from __future__ import annotations

import logging
import math
import os
import random
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .config import DATASET_CHOICES, KL_ANNEAL_CHOICES, TrainConfig, kl_weight
from .errors import CheckpointError, ConfigError

log = logging.getLogger("vae_tui")

# Changing any of these would make the saved weights, optimizer state or data order meaningless,
# or (test_limit) the held-out numbers already in metrics.jsonl incomparable with the next ones.
FIXED_ON_RESUME = ("hidden_dim", "latent_dim", "input_dim", "dataset", "seed", "batch_size",
                   "train_limit", "test_limit", "lr", "kl_anneal", "beta_max")  # fmt: skip
PARTIAL_KEYS = ("loss", "bce", "kld", "images", "seconds")


def load_resume(
    run_dir: str | os.PathLike[str], overrides: dict[str, Any]
) -> tuple[TrainConfig, dict[str, Any]]:
    """(config to continue with, checkpoint dict) for `--resume RUN_DIR` plus the flags given."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "is a file, not a run folder" if run_dir.exists() else "does not exist"
        raise ConfigError(f"--resume {run_dir} {what}")
    path = run_dir / "checkpoint.pt"
    if not path.exists():
        if not (run_dir / "config.json").is_file():
            raise CheckpointError(f"nothing to resume in {run_dir}: it is not a vae-tui run folder")
        raise CheckpointError(
            f"nothing to resume in {run_dir}: it has no checkpoint.pt (the run ended before its "
            "first checkpoint); start it again without --resume"
        )
    data = ckpt.read_checkpoint(path)
    if data.get("format") != ckpt.FORMAT or "optimizer" not in data:
        raise CheckpointError(f"{path} is a bare model, not a vae-tui run; nothing to resume")
    state = ckpt.model_state(data, path)
    saved = saved_config(data, path)
    given_dir = overrides.get("run_dir")
    if given_dir is not None and Path(given_dir).resolve() != run_dir.resolve():
        raise ConfigError(
            f"--resume continues {run_dir} in place; --run-dir {given_dir} names another folder"
        )
    conflicts = [
        f"--{k.replace('_', '-')} {overrides[k]} (saved: {getattr(saved, k)})"
        for k in FIXED_ON_RESUME
        if k in overrides and overrides[k] != getattr(saved, k)
    ]
    if conflicts:
        raise ConfigError(f"cannot resume {run_dir} with {', '.join(conflicts)}: start a new run for that")
    kept = {k: v for k, v in overrides.items() if k not in FIXED_ON_RESUME and k != "run_dir"}
    config = saved.with_(**kept, run_dir=str(run_dir))
    check_position(data, path)
    if config.epochs < data["epoch"]:
        raise ConfigError(
            f"--epochs {config.epochs} is fewer than the {data['epoch']} already trained in {run_dir}"
        )
    check_restorable(data, state, config, path)
    if note := beta_change(saved, config, data["epoch"], data["batch"]):
        log.warning(note)  # both front ends show these: a line on stderr, a notification in the app
    return config, data


SHOWN_EPOCHS = 3
"""The β change is spelled out for this many epochs left (and the last one)."""


def beta_change(saved: TrainConfig, config: TrainConfig, epoch: int, batch: int = 0) -> str | None:
    """What continuing `saved` as `config` does to β, from `epoch` epochs and `batch` batches done;
    None when nothing changes. Linear annealing divides by the number of epochs, so another
    --epochs changes β for every epoch left: say so, with the next epochs' β before and after."""
    if config.kl_anneal != "linear" or config.beta_max == 0 or config.epochs == saved.epochs:
        return None
    left = list(range(epoch, config.epochs))  # 0-based indices of the epochs still to train
    if not left:
        return None
    shown = left if len(left) <= SHOWN_EPOCHS + 1 else [*left[:SHOWN_EPOCHS], None, left[-1]]

    def change(index: int | None) -> str:
        if index is None:
            return "…"
        new = f"{kl_weight(index, config):.3g}"
        if index >= saved.epochs:
            return f"epoch {index + 1} (added) {new}"
        return f"epoch {index + 1} {kl_weight(index, saved):.3g} → {new}"

    parts = [
        f"--epochs {config.epochs} (was {saved.epochs}) changes β for the epochs left (linear "
        f"annealing divides by the number of epochs): {', '.join(map(change, shown))}"
    ]
    if batch:
        parts.append(
            f"epoch {epoch + 1}'s first {batch} batches were trained at {kl_weight(epoch, saved):.3g}"
        )
    elif epoch:
        parts.append(f"epoch {epoch} was trained at {kl_weight(epoch - 1, saved):.3g}")
    return "; ".join(parts)


def saved_config(data: dict[str, Any], path: Path) -> TrainConfig:
    """The run's config from the checkpoint, refusing values no run could have saved."""
    raw = data.get("config")
    if not isinstance(raw, dict):
        raise CheckpointError(f"cannot resume from {path}: it holds no run config")
    try:
        config = TrainConfig.from_dict(raw)
    except TypeError as e:
        raise CheckpointError(f"cannot resume from {path}: its config is damaged ({e})") from None

    def count(name: str, minimum: int = 1, optional: bool = False) -> None:
        value = getattr(config, name)
        if optional and value is None:
            return
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise CheckpointError(f"cannot resume from {path}: its config has {name}={value!r}")

    for name in ("epochs", "batch_size", "hidden_dim", "latent_dim", "input_dim"):
        count(name)
    count("seed", minimum=0)
    count("train_limit", optional=True)
    count("test_limit", optional=True)
    count("iwae_k", minimum=0)
    for name, positive in (("lr", True), ("beta_max", False)):
        value = getattr(config, name)
        if (
            not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
            or (positive and value == 0)
        ):
            raise CheckpointError(f"cannot resume from {path}: its config has {name}={value!r}")
    for name, choices in (("dataset", DATASET_CHOICES), ("kl_anneal", KL_ANNEAL_CHOICES)):
        if getattr(config, name) not in choices:
            raise CheckpointError(
                f"cannot resume from {path}: its config has {name}={getattr(config, name)!r}"
            )
    return config


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
    import numpy as np  # noqa: PLC0415 - torch and numpy are loaded by the checkpoint module anyway
    import torch  # noqa: PLC0415

    from .device import resolve_device  # noqa: PLC0415
    from .model import VAE  # noqa: PLC0415

    dims = ckpt.architecture(state, path)
    expected = {k: getattr(config, k) for k in dims}
    if dims != expected:
        raise CheckpointError(
            f"cannot resume from {path}: its weights are a {dims['hidden_dim']}-{dims['latent_dim']} "
            f"model but its config says {expected['hidden_dim']}-{expected['latent_dim']}"
        )
    device = resolve_device(config.device)  # a ConfigError (no CUDA here) is reported as such
    try:
        model = VAE(**dims)
        model.load_state_dict(state)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
        optimizer.load_state_dict(data["optimizer"])
        for param in model.parameters():
            for key, value in optimizer.state.get(param, {}).items():
                if key != "step" and isinstance(value, torch.Tensor) and value.shape != param.shape:
                    raise ValueError(f"optimizer {key} has shape {tuple(value.shape)}")
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        first = " ".join(str(e).split())[:200]
        raise CheckpointError(
            f"cannot resume from {path}: its optimizer state does not fit ({first})"
        ) from None
    rng = data.get("rng")
    try:
        if not isinstance(rng, dict):
            raise TypeError("missing")
        torch.Generator(device=device).set_state(rng["noise"])
        torch.Generator().set_state(rng["torch"])
        kind, keys, *rest = rng["numpy"]
        np.random.RandomState().set_state((kind, np.array(keys, dtype=np.uint32), *rest))
        random.Random().setstate((3, tuple(rng["python"]), None))
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        first = " ".join(str(e).split())[:200]
        raise CheckpointError(
            f"cannot resume from {path}: its random-number states are damaged or from another kind of "
            f"device (resume with the --device it was trained on) ({first})"
        ) from None
