"""Writing a file so that a crash, a kill or a full disk leaves either the old file or the new one."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)
    except OSError as e:
        with contextlib.suppress(OSError):  # on a read-only mount even this unlink fails (EROFS)
            tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
