"""Continuing a run: its saved config, with only the changes that keep the result meaningful.

Everything the loop will restore (weights, optimizer, RNG states, position) is checked before any
training starts, so a damaged or foreign checkpoint is refused with one line instead of failing
deep inside torch: the file on its own by the format's reader (`checkpoint.read_run_checkpoint`),
then here, against the config the run goes on with (`check_restorable`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .config import SETTINGS, TrainConfig
from .errors import CheckpointError, ConfigError
from .runinfo import CONFIG_FILE
from .schedules import kl_weight

log = logging.getLogger("vae_tui")

# Changing any of these would make the saved weights, optimizer state or data order meaningless,
# or (test_limit) the held-out numbers already in metrics.jsonl incomparable with the next ones.
# Each field says so in its metadata (core/config.py), with its place in the refusal's list.
FIXED_ON_RESUME = tuple(
    sorted((n for n, s in SETTINGS.items() if s.fixed_on_resume), key=lambda n: SETTINGS[n].fixed_on_resume)
)


def load_resume(
    run_dir: str | os.PathLike[str], overrides: dict[str, Any]
) -> tuple[TrainConfig, ckpt.RunCheckpoint]:
    """(config to continue with, checked checkpoint) for `--resume RUN_DIR` plus the flags given."""
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
    checkpoint = ckpt.read_run_checkpoint(path)
    saved = checkpoint.config
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
    if config.epochs < checkpoint.epoch:
        raise ConfigError(
            f"--epochs {config.epochs} is fewer than the {checkpoint.epoch} already trained in {run_dir}"
        )
    check_restorable(checkpoint, config, path)
    if note := beta_change(saved, config, checkpoint.epoch, checkpoint.batch):
        log.warning(note)  # both front ends show these: a line on stderr, a notification in the app
    return config, checkpoint


def check_restorable(saved: ckpt.RunCheckpoint, config: TrainConfig, path: Path) -> None:
    """Restore `saved`'s weights, optimizer and RNG states into throwaway objects, as `train` will
    with `config` (its device, its learning rate), so what does not fit is refused before training."""
    import torch  # noqa: PLC0415

    from .device import resolve_device  # noqa: PLC0415
    from .model import VAE  # noqa: PLC0415
    from .optimizer import make_optimizer  # noqa: PLC0415

    dims = ckpt.architecture(saved.model, path)
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
        model.load_state_dict(saved.model)
        optimizer = make_optimizer(model, config.lr)  # torch's AdamW would import torch._dynamo (~1 s)
        optimizer.load_state_dict(saved.optimizer)
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
        if saved.rng is None:
            raise TypeError("missing")
        ckpt.restore_rng(saved.rng, torch.Generator(device=device), scratch=True)
    except unfit as e:
        first = " ".join(str(e).split())[:200]
        raise CheckpointError(
            f"cannot resume from {path}: its random-number states are damaged or from another kind of "
            f"device (resume with the --device it was trained on) ({first})"
        ) from None


WHY = {
    "linear": "linear annealing divides by the number of epochs",
    "warmup": "the warmup lasts a fifth of the epochs",
    "cyclical": "the cycles divide the epochs",
}
"""Why another --epochs changes a schedule's β."""
SHOWN_EPOCHS = 3
"""The β change is spelled out for this many epochs left (and the last one)."""


def beta_change(saved: TrainConfig, config: TrainConfig, epoch: int, batch: int = 0) -> str | None:
    """What continuing `saved` as `config` does to β, from `epoch` epochs and `batch` batches done;
    None when nothing changes. Linear annealing divides by the number of epochs, so another
    --epochs changes β for every epoch left: say so, with the next epochs' β before and after."""
    if config.kl_anneal == "none" or config.beta_max == 0 or config.epochs == saved.epochs:
        return None
    left = list(range(epoch, config.epochs))  # 0-based indices of the epochs still to train
    if not left or (config.kl_anneal == "warmup" and config.kl_warmup_epochs):
        return None  # (a warmup of set length does not depend on the number of epochs)
    shown = left if len(left) <= SHOWN_EPOCHS + 1 else [*left[:SHOWN_EPOCHS], None, left[-1]]

    def change(index: int | None) -> str:
        if index is None:
            return "…"
        new = f"{kl_weight(index, config):.3g}"
        if index >= saved.epochs:
            return f"epoch {index + 1} (added) {new}"
        return f"epoch {index + 1} {kl_weight(index, saved):.3g} → {new}"

    parts = [
        f"--epochs {config.epochs} (was {saved.epochs}) changes β for the epochs left ({WHY[config.kl_anneal]}): "
        f"{', '.join(map(change, shown))}"
    ]
    if batch:
        parts.append(
            f"epoch {epoch + 1}'s first {batch} batches were trained at {kl_weight(epoch, saved):.3g}"
        )
    elif epoch:
        parts.append(f"epoch {epoch} was trained at {kl_weight(epoch - 1, saved):.3g}")
    return "; ".join(parts)
