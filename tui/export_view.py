"""`e` in the app: the view shown, written as a PNG at its real pixels, enlarged by a whole number.

Where it goes follows `--export`'s rule (core/export.py): the run folder's `export/`, or for a
bare model file `<its folder>/export/<file stem>/`; the file is written atomically and the app
says where. Torch-free: the view has its pixels already.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vae_tui.core.export import EXPORT_DIR, target
from vae_tui.core.gif import picture_scale, save_png

from .widgets.views import ImageView


def export_folder(run_folder: str | None, model: str | None) -> Path | None:
    """The run's export/ folder, else the model file's (None: neither is known yet)."""
    if run_folder:
        return Path(run_folder) / EXPORT_DIR
    if model:
        return target(model).out
    return None


def export_shown(
    view: ImageView | None, run_folder: str | None, model: str | None
) -> tuple[str, str, Path | None]:
    """Write `view`'s full picture; (what to tell the user, the toast's severity, the file)."""
    found = view.full_picture() if view is not None else None
    if found is None:
        return "This view has no picture to export (e works on the image views).", "warning", None
    folder = export_folder(run_folder, model)
    if folder is None:
        return "No run folder yet: nothing to export into.", "warning", None
    pixels, stem = found
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = save_png(folder / f"{stem}.png", pixels, picture_scale(pixels.shape))
    except OSError as e:
        return f"Could not write {folder / stem}.png: {e.strerror or e}", "error", None
    return f"Wrote {path}", "information", path


def export_from(app: Any, view: ImageView | None) -> tuple[str, str]:
    """`export_shown` with the app's run folder and browsed model file. In a browser
    (`--serve`) the PNG is also offered to the page as a download: the run folder may be on a
    machine the viewer cannot reach."""
    request = getattr(app, "request", None)
    model = getattr(request, "checkpoint", None)
    run_folder = app.run_folder() if hasattr(app, "run_folder") else None
    message, severity, path = export_shown(view, run_folder, model)
    if path is not None and app.is_web:
        app.deliver_binary(path, save_filename=path.name, mime_type="image/png")
        message += " (and sent to this browser as a download)"
    return message, severity
