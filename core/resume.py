"""Continuing a run: its saved config, with only the changes that keep the result meaningful.

Everything the loop will restore (weights, optimizer, RNG states, position) is checked here, with
the checkpoint format's own checks (core/checkpoint.py), before any training starts, so a damaged
or foreign checkpoint is refused with one line instead of failing deep inside torch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .config import SETTINGS, TrainConfig, kl_weight
from .errors import CheckpointError, ConfigError, InvalidConfigValue
from .runinfo import CONFIG_FILE

log = logging.getLogger("vae_tui")

# Changing any of these would make the saved weights, optimizer state or data order meaningless,
# or (test_limit) the held-out numbers already in metrics.jsonl incomparable with the next ones.
# Each field says so in its metadata (core/config.py), with its place in the refusal's list.
FIXED_ON_RESUME = tuple(
    sorted((n for n, s in SETTINGS.items() if s.fixed_on_resume), key=lambda n: SETTINGS[n].fixed_on_resume)
)


def load_resume(
    run_dir: str | os.PathLike[str], overrides: dict[str, Any]
) -> tuple[TrainConfig, dict[str, Any]]:
    """(config to continue with, checkpoint dict) for `--resume RUN_DIR` plus the flags given."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "is a file, not a run folder" if run_dir.exists() else "does not exist"
        raise ConfigError(f"--resume {run_dir} {what}")
    path = run_dir / ckpt.FILE_NAME
    if not path.exists():
        if not (run_dir / CONFIG_FILE).is_file():
            raise CheckpointError(f"nothing to resume in {run_dir}: it is not a vae-tui run folder")
        raise CheckpointError(
            f"nothing to resume in {run_dir}: it has no {ckpt.FILE_NAME} (the run ended before its "
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
    ckpt.check_position(data, path)
    if config.epochs < data["epoch"]:
        raise ConfigError(
            f"--epochs {config.epochs} is fewer than the {data['epoch']} already trained in {run_dir}"
        )
    ckpt.check_restorable(data, state, config, path)
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
