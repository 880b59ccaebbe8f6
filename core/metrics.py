"""`metrics.jsonl`: one JSON line per epoch, durable line by line, readable after any crash.

A kill can tear the last line; readers skip what does not parse, and the writer cuts a torn
tail before appending so a new line is never glued onto half of an old one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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


def _rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, path)


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
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        torn = bool(data) and not data.endswith(b"\n")
        rows = read_metrics(self.path)
        kept = [r for r in rows if r.get("kind", "epoch") == "epoch" and r.get("epoch", 0) <= start_epoch]
        if torn or len(kept) != len(rows):
            _rewrite(self.path, kept)

    def _append(self, row: dict[str, Any]) -> None:
        assert self.path is not None, "RunStarted comes first"
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def close(self, state: str) -> None:
        pass
