"""Opening a `torch.save` file that may come from anywhere, without running anything in it.

Two ways, neither knowing what the file should hold (core/checkpoint.py does): `load_weights_only`
loads it with torch's weights-only unpickler and turns every way a file can be bad into one line;
`plain_fields` reads the plain data (numbers, strings, lists, dicts) of torch's zip format without
torch, for what must be answered before torch's seconds of imports (where a run stands). That
reader builds nothing the file names: every class or function it asks for, and every tensor's
storage, becomes an inert placeholder. So, as with `weights_only=True`, no code from the file runs.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

from .errors import CheckpointError

MAX_PICKLE = 16 << 20
"""Bytes of `data.pkl` worth reading without torch: ours is a few kB (tensors are other entries)."""


def load_weights_only(path: Path) -> Any:
    """What `path` holds, loaded on the CPU with torch's weights-only unpickler; a missing, empty,
    too large, truncated or corrupt file, or one holding code, is refused in one line."""
    import torch  # noqa: PLC0415 - torch-free to import, see the module's doc

    from .memory import check_file  # noqa: PLC0415 - torch

    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if (size := path.stat().st_size) == 0:
        raise CheckpointError(f"checkpoint {path} is empty")
    check_file(path, size)  # torch.load reads it all into memory
    with path.open("rb") as f:  # torch.save writes a zip (or, before 1.6, a pickle): else not one
        if not f.read(2).startswith((b"PK", b"\x80")):
            raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch weights file (not a zip)")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols before refusing
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
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


class _Placeholder:
    """Stands for whatever the pickle builds (tensors, OrderedDicts, ...): accepts and drops it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass

    def __setitem__(self, key: object, value: object) -> None:
        pass

    def append(self, item: object) -> None:
        pass

    def extend(self, items: object) -> None:
        pass


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return _Placeholder

    def persistent_load(self, pid: Any) -> Any:
        return None


def plain_fields(path: str | os.PathLike[str]) -> Any:
    """What `path` pickles, read without torch, tensors and classes as inert placeholders; None
    for a file that cannot be read this way (not torch's zip format, damaged, a pickle too large)."""
    try:
        with zipfile.ZipFile(path) as archive:
            entry = next(
                (
                    i
                    for i in archive.infolist()
                    if i.filename.count("/") == 1 and i.filename.endswith("/data.pkl")
                ),
                None,
            )
            if entry is None or entry.file_size > MAX_PICKLE:
                return None
            return _PlainUnpickler(archive.open(entry)).load()
    except Exception:  # noqa: BLE001 - any file that cannot be read this way gets the full load
        return None
