"""The one atomic-write helper: old file or new file, never a torn one, and no temp files left."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vae_tui.core import atomic
from vae_tui.core.errors import ConfigError


def dead_pid() -> int:
    """The id of a process that has exited (a killed writer's, for its stray temp files)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_write_replaces_the_file_and_removes_killed_writers_temps(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("old")
    killed = tmp_path / f".config.json.tmp-{dead_pid()}"
    killed.write_text("half")
    live = tmp_path / f".config.json.tmp-{os.getppid()}"  # a process that is still writing
    live.write_text("in progress")
    atomic.write_json_atomic(path, {"epochs": 2})
    assert path.read_text() == '{\n  "epochs": 2\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "config.json"]


@pytest.mark.parametrize("durable", [True, False])
def test_a_failed_write_keeps_the_old_file_and_says_why(tmp_path: Path, durable: bool) -> None:
    """A full disk, even when a library reports it as another error with the OSError only in its
    chain (torch's zip writer does), comes back as that OSError; the temp file is gone."""
    path = tmp_path / "rows.jsonl"
    path.write_text("old\n")

    def disk_full(f: object) -> None:
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("unexpected pos 64") from None

    with pytest.raises(OSError, match="No space left on device"):
        atomic.write_atomic(path, disk_full, durable=durable)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_config_json_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "config.json"
    with pytest.raises(ConfigError, match=f"^cannot write {missing}: No such file or directory$"):
        atomic.write_json_atomic(missing, {})


def test_a_staged_folder_replaces_the_target_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "mnist"
    target.mkdir()
    (target / "old").write_text("kept")
    with pytest.raises(OSError), atomic.staged_folder(target) as staging:
        (staging / "half").write_text("copied")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["mnist"] and (target / "old").read_text() == "kept"

    (tmp_path / f".mnist.tmp-{dead_pid()}-x1y2").mkdir()  # a killed install's staging folder
    with atomic.staged_folder(target) as staging:
        (staging / "new").write_text("copied")
    assert [p.name for p in tmp_path.iterdir()] == ["mnist"]
    assert [p.name for p in target.iterdir()] == ["new"]
