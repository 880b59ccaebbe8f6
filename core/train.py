"""The training loop — the only one in vae-tui — as a generator of events.

`train(config)` yields `events` records; whoever iterates it (the headless printer, the TUI's
worker) feeds them to consumers. It checks `TrainControl` between batches, so a stop, a pause
or a save-now request takes effect within one batch, and the state it saves on a stop is exact:
the data order of an epoch is a pure function of (seed, epoch) and the sampling noise has its
own generator whose state is checkpointed, so a resumed run computes the same weights.

The loop's pieces, in the order a run meets them: `start` (data, run folder, model, resume),
then per epoch `train_epoch` (with `serve_control` between batches and `train_batch` for each)
and `end_epoch` (held-out pass, previews, save), and last `final_evaluation`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Iterator
from typing import Literal

import torch

from .atomic import write_json_atomic
from .checkpoint import RunCheckpoint, fresh_sums
from .config import TrainConfig
from .control import TrainControl
from .data import load_split, resolve_dataset_dir
from .device import resolve_device
from .errors import ConfigError, TrainingDiverged
from .evaluate import EvaluationStopped, evaluate, heldout_elbo
from .events import EpochEnd, EpochImages, Event, FinalEvaluation, Paused, RunFinished
from .grids import preview_grids, preview_latents, traversal_grid
from .loop_state import EpochTally, LoopState
from .memory import check_training
from .model import VAE
from .optimizer import make_optimizer
from .runinfo import CONFIG_FILE
from .runlock import RunLock, prepare_run_dir
from .schedules import kl_weight
from .step import STEPS


def epoch_permutation(seed: int, epoch_index: int, n: int) -> torch.Tensor:
    """The data order of one epoch, a pure function of (seed, epoch) so resume can replay it."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch_index)
    return torch.randperm(n, generator=g)


def train(
    config: TrainConfig,
    control: TrainControl | None = None,
    *,
    resume: RunCheckpoint | None = None,
    threads: int | None = None,
) -> Iterator[Event]:
    """Train `config`'s model, yielding what happens; `resume` is the checked checkpoint
    (`resume.load_resume`) to continue.

    `threads` sets torch's intra-op thread count (process-wide, for the rest of the process);
    None keeps the current setting (torch's default: one per core). The front ends get it from
    `run.TrainingRun`, which leaves cores to the app's UI and SwanLab's writer (core/threads.py
    says why); the benchmark sets its own.

    The run folder is locked (core/runlock.py) before anything is written to it, until the
    stream ends: a second process training the same folder is refused in one line.
    """
    with RunLock() as lock:
        yield from _train(config, control or TrainControl(), resume, threads, lock)


def _train(
    config: TrainConfig,
    control: TrainControl,
    resume: RunCheckpoint | None,
    threads: int | None,
    lock: RunLock,
) -> Iterator[Event]:
    """`train`, inside its run folder's lock."""
    loop = start(config, resume, threads, lock)
    loop.started = time.perf_counter()
    yield loop.run_started()
    yield loop.snapshot()
    while loop.epoch < loop.config.epochs:
        tally = yield from train_epoch(loop, control)
        if tally is None:  # stopped and saved
            return
        yield from end_epoch(loop, tally)
    yield from final_evaluation(loop, control)


def start(config: TrainConfig, resume: RunCheckpoint | None, threads: int | None, lock: RunLock) -> LoopState:
    """Everything before the first event. Sizes that cannot fit and empty data are refused
    before the run folder is touched; the folder is locked before anything is written to it."""
    if threads is not None:
        torch.set_num_threads(max(1, threads))
        torch.get_num_threads()  # fixes this thread's own count now (core/threads.py, serial_on_this_thread)
    device = resolve_device(config.device)
    check_training(config, device)  # sizes that cannot fit: refused before anything is allocated
    data_dir = resolve_dataset_dir(config.dataset, config.data_dir)
    train_split = load_split(data_dir, "train", config.train_limit)
    test_split = load_split(data_dir, "test", config.test_limit)
    if len(train_split) == 0 or len(test_split) == 0:
        raise ConfigError("--train-limit and --test-limit must leave at least one image")
    run_dir = prepare_run_dir(config, resuming=resume is not None, lock=lock)
    config = config.with_(run_dir=str(run_dir))
    write_json_atomic(run_dir / CONFIG_FILE, config.to_dict())

    torch.manual_seed(config.seed)
    model = VAE(config.input_dim, config.hidden_dim, config.latent_dim).to(device)
    optimizer = make_optimizer(model, config.lr)
    noise = torch.Generator(device=device).manual_seed(config.seed + 1)
    loop = LoopState(
        config,
        device,
        run_dir,
        model,
        optimizer,
        noise,
        x_train=train_split.images.reshape(len(train_split), -1).to(device),
        x_test=test_split.images.to(device),
        test_split=test_split,
        fixed_z=preview_latents(config.latent_dim, config.seed).to(device),
    )
    if resume is not None:
        loop.restore(resume)
    return loop


def train_epoch(loop: LoopState, control: TrainControl) -> Generator[Event, None, EpochTally | None]:
    """The batches of epoch `loop.epoch` from `loop.batch` on, each reported; its tally, or
    None when a stop ended the run (the position is saved and `RunFinished` yielded)."""
    config = loop.config
    beta = kl_weight(loop.epoch, config)
    order = epoch_permutation(config.seed, loop.epoch, loop.x_train.shape[0]).to(loop.device)
    sums = dict(loop.partial)
    loop.model.train()
    tally = EpochTally(
        loop.epoch, config.epochs, loop.batches, beta, sums, time.perf_counter() - sums["seconds"]
    )
    while loop.batch < loop.batches:
        asked = yield from serve_control(loop, control, tally)
        if asked == "stopped":
            return None
        if asked == "paused":
            continue  # woken only to serve a request: go back to waiting
        train_batch(loop, order, tally)
        if len(tally.pending) >= loop.sync_every or loop.batch == loop.batches:
            yield from tally.report(loop.batch, loop.step)
    return tally


def serve_control(
    loop: LoopState, control: TrainControl, tally: EpochTally
) -> Generator[Event, None, Literal["stopped", "paused", "train"]]:
    """Between two batches, what other threads asked for: a pause (waited out here, unless a
    save or snapshot wakes it), a stop (saved, and the run ends), a save now, a snapshot.
    What to do next: the run has "stopped", it is still "paused", or "train" the next batch."""
    if control.paused:  # report everything done so far before waiting
        yield from tally.report(loop.batch, loop.step)
        yield Paused(tally.epoch_index + 1, loop.batch, loop.step, tally.beta)
    tally.paused += control.wait_while_paused()
    control.wait_out_hold()  # a key press in the app: counted as training time, it is a trade
    if control.stop_requested:
        yield from tally.report(loop.batch, loop.step)
        tally.sums["seconds"] = tally.seconds()
        yield loop.save("stop", tally.sums)
        yield RunFinished(loop.epoch, loop.step, "stopped", time.perf_counter() - loop.started)
        return "stopped"
    if control.take_save_request():
        yield from tally.report(loop.batch, loop.step)
        tally.sums["seconds"] = tally.seconds()
        yield loop.save("request", tally.sums)
    if control.take_snapshot_request():
        yield loop.snapshot(loop.batch)
    return "paused" if control.paused else "train"


def train_batch(loop: LoopState, order: torch.Tensor, tally: EpochTally) -> None:
    """One optimizer step on the next batch of the epoch's `order`; its losses go to `tally`."""
    bs = loop.config.batch_size
    # index_select: the same rows as x_train[idx], without advanced indexing's overhead.
    x = loop.x_train.index_select(0, order[loop.batch * bs : (loop.batch + 1) * bs])
    eps = torch.randn(
        (x.shape[0], loop.model.latent_dim), generator=loop.noise, device=x.device, dtype=x.dtype
    )
    terms = STEPS[loop.config.step](loop.model, x, eps, tally.beta)
    loop.optimizer.step()
    loop.step += 1
    loop.batch += 1
    if loop.on_cpu:
        tally.pending.append((terms.total.item(), terms.bce.item(), terms.kld.item()))
    else:
        tally.pending.append(torch.stack(list(terms)))
    tally.sizes.append(x.shape[0])


def end_epoch(loop: LoopState, tally: EpochTally) -> Iterator[Event]:
    """After an epoch's last batch: the held-out pass (its loss and latent usage), the preview
    grids, the epoch's events and its checkpoint. Weights the last step made non-finite are
    refused, never saved."""
    train_seconds = tally.seconds()
    loop.model.eval()
    held_out = heldout_elbo(loop.model, loop.x_test)
    if not math.isfinite(held_out["loss"]):
        raise TrainingDiverged(
            f"the weights became non-finite in epoch {loop.epoch + 1}; stopped before saving them, the last "
            "good checkpoint is kept (try a lower --lr)"
        )
    recon_grid, samples_grid = preview_grids(loop.model, loop.preview, loop.fixed_z)
    traversal = traversal_grid(loop.model, loop.preview)
    seconds = tally.seconds()
    sums = tally.sums
    count = max(1, sums["images"])
    loop.epoch += 1
    loop.batch = 0
    loop.partial = fresh_sums()
    yield EpochEnd(
        epoch=loop.epoch,
        epochs=loop.config.epochs,
        step=loop.step,
        loss=sums["loss"] / count,
        bce=sums["bce"] / count,
        kld=sums["kld"] / count,
        beta=tally.beta,
        test_loss=held_out["loss"],
        test_bce=held_out["bce"],
        test_kld=held_out["kld"],
        test_loss_stderr=held_out["stderr"],
        seconds=seconds,
        images_per_second=sums["images"] / max(train_seconds, 1e-9),
        kl_per_dim=tuple(held_out["kl_per_dim"]),
        active_units=held_out["active_units"],
        activity_per_dim=tuple(held_out["activity_per_dim"]),
    )
    yield EpochImages(loop.epoch, loop.step, recon_grid, samples_grid, traversal)
    yield loop.snapshot()
    yield loop.save("epoch", loop.partial)


def final_evaluation(loop: LoopState, control: TrainControl) -> Iterator[Event]:
    """The IWAE bound and latent usage of the trained model (skipped if a stop is asked for
    meanwhile: it can take minutes, and the model is saved already), then `RunFinished`."""
    if loop.config.iwae_k > 0 and not control.stop_requested:
        try:
            results = evaluate(
                loop.model, loop.x_test, k=loop.config.iwae_k, should_stop=lambda: control.stop_requested
            )
        except EvaluationStopped:
            pass
        else:
            yield FinalEvaluation(loop.epoch, results)
    yield RunFinished(loop.epoch, loop.step, "completed", time.perf_counter() - loop.started)
