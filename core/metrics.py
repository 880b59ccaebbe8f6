"""`metrics.jsonl`: one JSON line per epoch, durable line by line, readable after any crash.

A kill can tear the last line; readers skip what does not parse, and the writer cuts a torn
tail before appending so a new line is never glued onto half of an old one. A row is appended
before its epoch's checkpoint is saved, so after a kill the file may be one epoch ahead of the
checkpoint; a resumed run drops the rows it is about to redo, and each epoch appears once.
A write that fails (full disk) stops the run with one line: a run that cannot record its
metrics should not go on silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import VaeTuiError
from .events import EpochEnd, Event, FinalEvaluation, RunStarted

FILE_NAME = "metrics.jsonl"


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete, parseable row (a torn or garbled line is skipped, never raised)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    rows = []
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class MetricsError(VaeTuiError):
    """metrics.jsonl could not be written (a full disk, a folder that went away)."""


def _rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace the file by `rows` atomically (a kill leaves the old file or the new one)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise MetricsError(f"cannot write {path}: {e.strerror or e}") from None


class MetricsWriter:
    """Appends the epoch rows and the final evaluation to the run's `metrics.jsonl`."""

    path: Path | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.path = Path(event.run_dir) / FILE_NAME
            self._start(event.start_epoch)
        elif isinstance(event, EpochEnd):
            self._append({"kind": "epoch", **event.metrics()})
        elif isinstance(event, FinalEvaluation):
            self._append({"kind": "final", "epoch": event.epoch, **event.results})

    def _start(self, start_epoch: int) -> None:
        """Drop what a resumed run will redo (epochs after its checkpoint) and any torn tail."""
        assert self.path is not None
        self.path.with_name(f".{self.path.name}.tmp").unlink(missing_ok=True)  # a killed rewrite's
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as e:
            raise MetricsError(f"cannot read {self.path}: {e.strerror or e}") from None
        torn = bool(data) and not data.endswith(b"\n")
        rows = read_metrics(self.path)
        kept = [
            r
            for r in rows
            if r.get("kind", "epoch") == "epoch"
            and isinstance(r.get("epoch"), int)
            and r["epoch"] <= start_epoch
        ]
        if torn or len(kept) != len(rows):
            _rewrite(self.path, kept)

    def _append(self, row: dict[str, Any]) -> None:
        """One line in one write() call, fsynced: a kill tears at most this line."""
        assert self.path is not None, "RunStarted comes first"
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise MetricsError(f"cannot write {self.path}: {e.strerror or e}; training stopped") from None

    def close(self, state: str) -> None:
        pass
