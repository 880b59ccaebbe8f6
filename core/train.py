"""The training loop — the only one in vae-tui — as a generator of events.

`train(config)` yields `events` records; whoever iterates it (the headless printer, the TUI's
worker) feeds them to consumers. It checks `TrainControl` between batches, so a stop, a pause
or a save-now request takes effect within one batch, and the state it saves on a stop is exact:
the data order of an epoch is a pure function of (seed, epoch) and the sampling noise has its
own generator whose state is checkpointed, so a resumed run computes the same weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from . import checkpoint as ckpt
from .atomic import write_json_atomic
from .config import TrainConfig, kl_weight
from .control import TrainControl
from .data import load_split, resolve_dataset_dir
from .device import resolve_device
from .errors import ConfigError, VaeTuiError
from .evaluate import EvaluationStopped, evaluate, heldout_elbo
from .events import (
    BatchEnd,
    CheckpointSaved,
    EpochEnd,
    EpochImages,
    Event,
    FinalEvaluation,
    ModelSnapshot,
    Paused,
    RunFinished,
    RunStarted,
)
from .grids import PREVIEW_IMAGES, preview_grids, preview_latents
from .loss import vae_loss
from .memory import check_training
from .model import VAE
from .runlock import RunLock, claim_new_run_dir


class TrainingDiverged(VaeTuiError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def epoch_permutation(seed: int, epoch_index: int, n: int) -> torch.Tensor:
    """The data order of one epoch, a pure function of (seed, epoch) so resume can replay it."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch_index)
    return torch.randperm(n, generator=g)


def read_rows(pending: list[Any]) -> list[tuple[float, float, float]]:
    """The pending (loss, BCE, KLD) rows as floats: tensors (on an accelerator) in one sync."""
    if pending and isinstance(pending[0], torch.Tensor):
        return torch.stack(pending).tolist()
    return pending


def report_batches(
    pending: list[Any],
    sizes: list[int],
    sums: dict[str, float],
    epoch_index: int,
    epochs: int,
    batch: int,
    batches: int,
    step: int,
    beta: float,
) -> Iterator[BatchEnd]:
    """Read the pending (loss, BCE, KLD) rows back in one device sync, add them to the epoch's
    sums and report each batch; `batch` and `step` are the counts after the last pending one."""
    rows = read_rows(pending)
    for i, ((loss, bce, kld), size) in enumerate(zip(rows, sizes, strict=True)):
        b = batch - len(rows) + i + 1
        if not all(map(math.isfinite, (loss, bce, kld))):
            raise TrainingDiverged(
                f"loss became {loss} at epoch {epoch_index + 1}, batch {b}; stopped, the last good "
                "checkpoint is kept (try a lower --lr, or check the data)"
            )
        sums["loss"] += loss * size
        sums["bce"] += bce * size
        sums["kld"] += kld * size
        sums["images"] += size
        yield BatchEnd(epoch_index + 1, epochs, b, batches, step - len(rows) + i + 1, loss, bce, kld, beta)
    pending.clear()
    sizes.clear()


def make_optimizer(model: VAE, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with the fused kernel where torch has one for the device (fewer launches per step)."""
    try:
        return torch.optim.AdamW(model.parameters(), lr=config.lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(model.parameters(), lr=config.lr)


def prepare_run_dir(config: TrainConfig, resuming: bool, lock: RunLock) -> Path:
    """Create the run folder (no run_dir: claim a fresh runs/<timestamp>) and take its lock
    before writing anything; refuse to overwrite another run's checkpoint by accident."""
    if not config.run_dir:
        run_dir = claim_new_run_dir()
    else:
        run_dir = Path(config.run_dir)
        if run_dir.exists() and not run_dir.is_dir():
            raise ConfigError(f"--run-dir {run_dir} is a file, not a folder")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create run dir {run_dir}: {e.strerror or e}") from None
    lock.acquire(run_dir, resuming)
    if not resuming and (run_dir / "checkpoint.pt").exists():  # looked at under the lock
        raise ConfigError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --run-dir"
        )
    lock.record()
    return run_dir


def train(
    config: TrainConfig,
    control: TrainControl | None = None,
    *,
    resume: dict[str, Any] | None = None,
    threads: int | None = None,
) -> Iterator[Event]:
    """Train `config`'s model, yielding what happens; `resume` is a checkpoint dict to continue.

    `threads` sets torch's intra-op thread count (process-wide, for the rest of the process);
    None keeps the current setting (torch's default: one per core). The app passes
    `training_threads(...)`, leaving cores to the UI and SwanLab's writer (see there for why).

    The run folder is locked (core/runlock.py) before anything is written to it, until the
    stream ends: a second process training the same folder is refused in one line.
    """
    with RunLock() as lock:
        yield from _train(config, control or TrainControl(), resume, threads, lock)


def _train(
    config: TrainConfig,
    control: TrainControl,
    resume: dict[str, Any] | None,
    threads: int | None,
    lock: RunLock,
) -> Iterator[Event]:
    """`train`, inside its run folder's lock."""
    if threads is not None:
        torch.set_num_threads(max(1, threads))
    device = resolve_device(config.device)
    check_training(config, device)  # sizes that cannot fit: refused before anything is allocated
    data_dir = resolve_dataset_dir(config.dataset, config.data_dir)
    train_split = load_split(data_dir, "train", config.train_limit)
    test_split = load_split(data_dir, "test", config.test_limit)
    if len(train_split) == 0 or len(test_split) == 0:
        raise ConfigError("--train-limit and --test-limit must leave at least one image")
    run_dir = prepare_run_dir(config, resuming=resume is not None, lock=lock)
    config = config.with_(run_dir=str(run_dir))
    write_json_atomic(run_dir / "config.json", config.to_dict())

    torch.manual_seed(config.seed)
    model = VAE(config.input_dim, config.hidden_dim, config.latent_dim).to(device)
    optimizer = make_optimizer(model, config, device)
    noise = torch.Generator(device=device).manual_seed(config.seed + 1)
    epoch, batch, step = 0, 0, 0
    partial = {"loss": 0.0, "bce": 0.0, "kld": 0.0, "images": 0, "seconds": 0.0}
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        ckpt.restore_rng(resume["rng"], noise)
        epoch, batch, step = resume["epoch"], resume["batch"], resume["step"]
        partial = dict(resume.get("partial") or partial)

    x_train = train_split.images.reshape(len(train_split), -1).to(device)
    x_test = test_split.images.to(device)
    n, bs = x_train.shape[0], config.batch_size
    batches = math.ceil(n / bs)
    # Accelerators run ahead of Python; reading losses back every batch would stall them. On the
    # CPU nothing runs ahead, and three `.item()` reads cost less than stacking a row per batch.
    on_cpu = device.type == "cpu"
    sync_every = 1 if on_cpu else 25
    preview = x_test[:PREVIEW_IMAGES]
    fixed_z = preview_latents(config.latent_dim, config.seed).to(device)

    def save(reason: str, epoch_done: int, batch_done: int, sums: dict[str, float]) -> CheckpointSaved:
        path = ckpt.save_checkpoint(
            run_dir / "checkpoint.pt",
            model=model,
            optimizer=optimizer,
            config=config,
            position=(epoch_done, batch_done, step),
            partial=sums,
            noise=noise,
        )
        return CheckpointSaved(epoch_done, batch_done, str(path), reason)

    def snapshot(epoch_done: int, batch_done: int = 0) -> ModelSnapshot:
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return ModelSnapshot(epoch_done, state, batch_done)

    started = time.perf_counter()
    yield RunStarted(
        config=config.to_dict(),
        device=str(device),
        run_dir=str(run_dir),
        train_size=n,
        test_size=x_test.shape[0],
        batches_per_epoch=batches,
        start_epoch=epoch,
        start_step=step,
        start_batch=batch,
        start_seconds=partial["seconds"],
        test_images=test_split.images,
        test_labels=test_split.labels,
    )
    yield snapshot(epoch)

    while epoch < config.epochs:
        beta = kl_weight(epoch, config)
        order = epoch_permutation(config.seed, epoch, n).to(device)
        sums = dict(partial)
        model.train()
        epoch_start = time.perf_counter() - sums["seconds"]
        paused = 0.0
        pending: list[Any] = []  # (loss, bce, kld) rows: floats on the CPU, tensors elsewhere
        sizes: list[int] = []

        while batch < batches:
            if control.paused:  # report everything done so far before waiting
                yield from report_batches(
                    pending, sizes, sums, epoch, config.epochs, batch, batches, step, beta
                )
                yield Paused(epoch + 1, batch, step, beta)
            paused += control.wait_while_paused()
            if control.stop_requested:
                yield from report_batches(
                    pending, sizes, sums, epoch, config.epochs, batch, batches, step, beta
                )
                sums["seconds"] = time.perf_counter() - epoch_start - paused
                yield save("stop", epoch, batch, sums)
                yield RunFinished(epoch, step, "stopped", time.perf_counter() - started)
                return
            if control.take_save_request():
                yield from report_batches(
                    pending, sizes, sums, epoch, config.epochs, batch, batches, step, beta
                )
                sums["seconds"] = time.perf_counter() - epoch_start - paused
                yield save("request", epoch, batch, sums)
            if control.take_snapshot_request():
                yield snapshot(epoch, batch)
            if control.paused:
                continue  # woken only to serve a request: go back to waiting
            # index_select: the same rows as x_train[idx], without advanced indexing's overhead.
            x = x_train.index_select(0, order[batch * bs : (batch + 1) * bs])
            mu, logvar = model.encode(x)
            z = model.reparameterize(mu, logvar, noise)
            terms = vae_loss(model.decode_logits(z), x, mu, logvar, beta)
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            optimizer.step()
            step += 1
            batch += 1
            if on_cpu:
                pending.append((terms.total.item(), terms.bce.item(), terms.kld.item()))
            else:
                pending.append(torch.stack([t.detach() for t in terms]))
            sizes.append(x.shape[0])
            if len(pending) >= sync_every or batch == batches:
                yield from report_batches(
                    pending, sizes, sums, epoch, config.epochs, batch, batches, step, beta
                )
        train_seconds = time.perf_counter() - epoch_start - paused
        model.eval()
        held_out = heldout_elbo(model, x_test)
        if not math.isfinite(held_out["loss"]):  # the last step broke the weights: don't save them
            raise TrainingDiverged(
                f"the weights became non-finite in epoch {epoch + 1}; stopped before saving them, the last "
                "good checkpoint is kept (try a lower --lr)"
            )
        recon_grid, samples_grid = preview_grids(model, preview, fixed_z)
        seconds = time.perf_counter() - epoch_start - paused
        count = max(1, sums["images"])
        epoch += 1
        batch = 0
        partial = {"loss": 0.0, "bce": 0.0, "kld": 0.0, "images": 0, "seconds": 0.0}
        yield EpochEnd(
            epoch=epoch,
            epochs=config.epochs,
            step=step,
            loss=sums["loss"] / count,
            bce=sums["bce"] / count,
            kld=sums["kld"] / count,
            beta=beta,
            test_loss=held_out["loss"],
            test_bce=held_out["bce"],
            test_kld=held_out["kld"],
            test_loss_stderr=held_out["stderr"],
            seconds=seconds,
            images_per_second=sums["images"] / max(train_seconds, 1e-9),
        )
        yield EpochImages(epoch, step, recon_grid, samples_grid)
        yield snapshot(epoch)
        yield save("epoch", epoch, 0, partial)

    if config.iwae_k > 0 and not control.stop_requested:
        try:
            results = evaluate(model, x_test, k=config.iwae_k, should_stop=lambda: control.stop_requested)
        except EvaluationStopped:  # asked to quit: the trained model is saved, skip the bound
            pass
        else:
            yield FinalEvaluation(epoch, results)
    yield RunFinished(epoch, step, "completed", time.perf_counter() - started)
