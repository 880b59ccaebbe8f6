"""Writing a file so that a crash, a kill or a full disk leaves either the old file or the new one.

Every file the project replaces goes through `write_atomic`: it writes a temp file beside the
target (`.NAME.tmp-PID`, so two processes never share one), then `os.replace`s it over the
target; on any failure the temp file is removed, and the temps of killed processes are removed
by the next write of the same file. A folder (the dataset cache) is installed the same way by
`staged_folder`.

Which writes fsync (`durable=True`: the file, then its folder, so the rename itself survives a
power cut), and why, in one place:
- `checkpoint.pt`: it is the run; a power cut must leave the previous complete one or the new.
- the rewrites of `metrics.jsonl` and `batches.jsonl` on resume: their rows are appended with an
  fsync each (core/metrics.py), and the rewrite that trims them must be no less durable.
Not fsynced (a power cut may lose the newest copy, and nothing depends on it):
- `config.json`: a record for people and tools, written again by every session; a resume takes
  its config from the checkpoint.
- the epoch grids (`images/*.png`): previews, drawn again by the next epoch.
- `swanlab/run_id`: SwanLab does not fsync the logs it names either.
- the dataset cache: a damaged file there is refused by the IDX reader with one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from .errors import ConfigError

E = TypeVar("E", bound=BaseException)


def write_atomic(path: Path, write: Callable[[IO[bytes]], object], *, durable: bool) -> None:
    """Replace `path` by what `write` puts in a binary file, atomically (see the module's doc).

    A Ctrl-C anywhere inside surfaces as KeyboardInterrupt, and a failure whose cause is an
    OSError (torch's zip writer on a full disk raises a RuntimeError with the OSError only in its
    chain) as that OSError, for the caller to word."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):  # on a read-only mount even this unlink fails (EROFS)
            tmp.unlink(missing_ok=True)
        if in_chain(e, KeyboardInterrupt) is not None:
            # A Ctrl-C inside torch.save makes its zip writer fail on the way out with a
            # RuntimeError; the user pressed Ctrl-C, so that is what callers must see.
            raise KeyboardInterrupt from None
        if (os_error := in_chain(e, OSError)) is not None and os_error is not e:
            raise os_error from None
        raise
    if durable:
        fsync_dir(path.parent)
    remove_stale_temps(path)


def write_text_atomic(path: Path, text: str, *, durable: bool) -> None:
    write_atomic(path, lambda f: f.write(text.encode()), durable=durable)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """`config.json`: indented JSON, not fsynced (see the module's doc); a failure is one line."""
    try:
        write_text_atomic(path, json.dumps(data, indent=2) + "\n", durable=False)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A temp folder beside `target` to fill; when the block ends without error it replaces
    `target` whole, so a half-filled `target` never exists. Not fsynced (see the module's doc)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    remove_stale_temps(target)


def in_chain(error: BaseException | None, kind: type[E]) -> E | None:
    """The first error of `kind` among `error` and the errors it was raised while handling."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__context__
    return None


def remove_stale_temps(path: Path) -> None:
    """Delete temp files (or folders) that killed processes left beside `path`, never a live
    writer's: the process id in their name is checked first."""
    prefix = f".{path.name}.tmp-"
    for stray in path.parent.glob(f"{prefix}*"):
        pid = stray.name.removeprefix(prefix).split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            if stray.is_dir() and not stray.is_symlink():
                shutil.rmtree(stray, ignore_errors=True)
            else:
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
    """Make a rename in `folder` durable (a no-op where directories cannot be opened)."""
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
