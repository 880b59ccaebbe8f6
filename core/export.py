"""`--export`: a run's story as files — GIFs of its epochs, its last views, its loss curves.

Export only reads what the trainer wrote (never taking its lock, never touching its files or its
SwanLab run) and writes only under the run folder's `export/`, each file atomically: so it works
on a finished run, a run stopped mid-epoch, a run being trained right now (from what is on disk)
and a run from before the traversal was kept (its traversal GIF is skipped, and said so).

A bare model file (a state_dict, or a checkpoint outside a run folder) has no history: only its
views are written, into `<its folder>/export/<file stem>/`, so two models in one folder never
overwrite each other's pictures. The history half needs no torch; the views half does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import history
from .checkpoint import FILE_NAME as CHECKPOINT_FILE
from .curves_png import loss_curves
from .errors import CheckpointError, VaeTuiError
from .gif import gif_bytes, picture_scale, save_png, write_bytes
from .metrics import BATCHES_FILE, read_history
from .metrics import FILE_NAME as METRICS_FILE
from .runinfo import CONFIG_FILE

EXPORT_DIR = "export"
"""The one folder of a run that anyone but its trainer may write (with `requests/`)."""
GIF_KINDS = ("samples", "reconstructions", "traversal")
RUN_FILES = (CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, BATCHES_FILE, history.IMAGES_DIR)


class ExportError(VaeTuiError):
    """Nothing to export from the path given, or the export folder cannot be written."""

    exit_code = 2


@dataclass(frozen=True)
class Target:
    """What `--export PATH` reads and where it writes."""

    run_dir: Path | None
    """The run folder, when PATH is one (or its checkpoint.pt): its history is exported."""
    model: Path | None
    """The weights whose views are drawn (None: a run before its first checkpoint)."""
    out: Path


@dataclass
class Exported:
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was skipped, and why, in words."""


def is_run_dir(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).exists() for name in RUN_FILES)


def target(path: str | os.PathLike[str]) -> Target:
    """Read `path`: a run folder, its checkpoint.pt, or a model file elsewhere."""
    p = Path(path)
    if not p.exists():
        raise ExportError(f"{p} does not exist")
    if p.is_dir():
        if not is_run_dir(p):
            raise ExportError(
                f"{p} is not a vae-tui run folder (no {CHECKPOINT_FILE}, {METRICS_FILE} or images/)"
            )
        model = p / CHECKPOINT_FILE
        return Target(p, model if model.is_file() else None, p / EXPORT_DIR)
    if p.name == CHECKPOINT_FILE and (p.parent / CONFIG_FILE).is_file():
        return Target(p.parent, p, p.parent / EXPORT_DIR)
    return Target(None, p, p.parent / EXPORT_DIR / p.stem)


def make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot write {out}: {e.strerror or e}") from None


def total_epochs(run_dir: Path, seen: list[int]) -> int:
    """The epochs the run trains to (config.json), for the frames' "epoch 12/50"."""
    try:
        epochs = json.loads((run_dir / CONFIG_FILE).read_text()).get("epochs")
    except (OSError, ValueError, AttributeError):
        epochs = None
    return max([*seen, epochs]) if isinstance(epochs, int) and epochs > 0 else max(seen, default=0)


def epoch_gif(run_dir: Path, kind: str) -> bytes | None:
    """The GIF of a run's `kind` pictures, one frame per epoch on disk labelled "epoch 12/50";
    None when it has none (a torn picture, which atomic writes should make impossible, is left out)."""
    frames = [
        (e, g)
        for e in history.epochs_on_disk(run_dir, kind)
        if (g := history.read_image(run_dir, e, kind)) is not None
    ]
    if not frames:
        return None
    total = total_epochs(run_dir, [e for e, _ in frames])
    return gif_bytes([g for _, g in frames], [f"epoch {e}/{total}" for e, _ in frames])


def export_history(run_dir: Path, out: Path, done: Exported) -> None:
    """The GIFs and loss-curves.png; torch-free."""
    for kind in GIF_KINDS:
        data = epoch_gif(run_dir, kind)
        if data is None:
            why = "a run from before they were kept" if kind == "traversal" else "no complete epoch yet"
            done.notes.append(
                f"no {kind} pictures in {run_dir / history.IMAGES_DIR} ({why}): {kind}.gif skipped"
            )
        else:
            done.written.append(write_bytes(out / f"{kind}.gif", data))
    curves = loss_curves(read_history(run_dir))
    done.written.append(save_png(out / "loss-curves.png", curves, 1))


def last_views(
    model_path: Path, dataset: str | None, data_dir: str | None, test_limit: int | None
) -> tuple[dict[str, np.ndarray], str]:
    """The views of the weights in `model_path` — the grids the trainer draws at an epoch's end
    (the same fixed test images and z) — and which weights they are, in words."""
    from .checkpoint import load_model  # noqa: PLC0415 - torch
    from .data import load_split, resolve_dataset_dir  # noqa: PLC0415
    from .grids import PREVIEW_IMAGES, preview_grids, preview_latents, traversal_grid  # noqa: PLC0415

    loaded = load_model(model_path)
    c = loaded.config
    folder = resolve_dataset_dir(dataset or c.dataset, data_dir or c.data_dir, splits=("test",))
    limit = min(PREVIEW_IMAGES, test_limit or c.test_limit or PREVIEW_IMAGES)
    images = load_split(folder, "test", limit).images
    if len(images) == 0:
        raise ExportError("--test-limit must leave at least one test image")
    recon, samples = preview_grids(loaded.model, images, preview_latents(c.latent_dim, c.seed))
    views = {"reconstructions": recon, "samples": samples, "traversal": traversal_grid(loaded.model, images)}
    if loaded.epoch is None:
        return views, f"the weights in {model_path}"
    if loaded.batch:  # worded as the trainer and the app word a mid-epoch position (tui/wording.py)
        return views, f"the weights at epoch {loaded.epoch + 1}, batch {loaded.batch} ({model_path})"
    return views, f"the weights of epoch {loaded.epoch} ({model_path})"


def export_views(model: Path, out: Path, done: Exported, dataset: str | None = None,
                 data_dir: str | None = None, test_limit: int | None = None) -> None:  # fmt: skip
    """reconstructions.png, samples.png and traversal.png of the weights in `model`, enlarged."""
    views, which = last_views(model, dataset, data_dir, test_limit)
    make_out(out)
    for kind, grid in views.items():
        done.written.append(save_png(out / f"{kind}.png", grid, picture_scale(grid.shape)))
    done.notes.append(f"views drawn from {which}")


def export(path: str | os.PathLike[str], dataset: str | None = None, data_dir: str | None = None,
           test_limit: int | None = None) -> Exported:  # fmt: skip
    """Everything `--export path` writes (see the module's doc). A model that does not load is
    refused before anything is written."""
    where, done = target(path), Exported()
    try:
        if where.run_dir is None:
            assert where.model is not None
            export_views(where.model, where.out, done, dataset, data_dir, test_limit)
            return done
        make_out(where.out)
        export_history(where.run_dir, where.out, done)
        if where.model is None:
            done.notes.append(f"no {CHECKPOINT_FILE} in {where.run_dir} yet: the last views are skipped")
        else:
            export_views(where.model, where.out, done, dataset, data_dir, test_limit)
    except CheckpointError:
        raise
    except OSError as e:
        raise ExportError(f"cannot export {path}: {e.strerror or e} ({e.filename or where.out})") from None
    return done
