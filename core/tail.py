"""Reading a file another process appends to (and sometimes replaces whole), a poll at a time:
only complete lines, a torn last line kept until its newline comes (`core/follow.py`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class TailFile:
    """New complete lines of a file that is appended to (and sometimes replaced whole)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.rest = b""

    def lines(self) -> list[bytes]:
        """Complete lines since the last call; a torn tail waits for its newline."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_ino != self.inode or st.st_size < self.offset:  # replaced or cut: from the top
                    self.inode, self.offset, self.rest = st.st_ino, 0, b""
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.rest = data[cut:]
        return [line for line in data[:cut].split(b"\n") if line.strip()]

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for line in self.lines():
            try:
                row = json.loads(line)
            except ValueError:  # a line torn by a kill, then written over: skipped, as readers do
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


def file_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
