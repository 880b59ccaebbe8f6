"""End to end in a real terminal: the installed `vae-tui` inside tmux, driven with send-keys."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from vae_tui.core import checkpoint as ckpt

from ..swanlab_log import read_swanlab_log

VAE_TUI = Path(sys.executable).parent / "vae-tui"
pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)"
)


class Tmux:
    def __init__(self, width: int, height: int) -> None:
        self.name = f"vae-tui-test-{uuid.uuid4().hex[:8]}"
        self.size = (width, height)

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout

    def start(self, command: str, cwd: Path) -> None:
        env = {
            k: os.environ[k]
            for k in ("VAE_TUI_CACHE", "VAE_TUI_NO_DOWNLOAD", "PATH", "HOME")
            if k in os.environ
        }
        env.setdefault("LANG", os.environ.get("LANG", "C.UTF-8"))  # tmux draws UTF-8 only in a UTF-8 locale
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # COLUMNS/LINES (pytest sets them) would pin Textual to a fixed size and hide resizes.
        script = (
            f"cd {shlex.quote(str(cwd))} && env -u COLUMNS -u LINES {exports} TERM=xterm-256color {command}; "
            "echo EXIT=$? > exit.txt"
        )
        self.run(
            "new-session", "-d", "-s", self.name, "-x", str(self.size[0]), "-y", str(self.size[1]), script
        )
        self.run("set-option", "-t", self.name, "window-size", "manual")  # detached: sizes are ours to set
        self.run("set-option", "-t", self.name, "remain-on-exit", "on")  # read the screen after exit
        self.resize(*self.size)

    def resize(self, width: int, height: int) -> None:
        self.run("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))

    def screen(self, joined: bool = False) -> str:
        """The pane's text; `joined` undoes the terminal's wrapping of long lines."""
        return self.run("capture-pane", "-p", *(["-J"] if joined else []), "-t", self.name)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", self.name, key)
            time.sleep(0.3)

    def wait(self, condition: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if condition(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out; the screen was:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True, check=False)


def step_of(screen: str) -> int:
    """The step counter on the status line."""
    match = re.search(r"step (\d+)", screen)
    return int(match.group(1)) if match else -1


def processes_of(run_dir: Path) -> list[int]:
    """PIDs of vae-tui processes writing to `run_dir` (python ones: tmux's server keeps our command line)."""
    pattern = f"python[0-9.]* \\S*vae-tui .*{run_dir}"
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(pid) for pid in out.stdout.split()]


def wait_gone(run_dir: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while processes_of(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    gone = not processes_of(run_dir)
    for pid in processes_of(run_dir):  # never leave a run behind, whatever the test found
        os.kill(pid, signal.SIGKILL)
    return gone


@pytest.fixture
def tmux():
    session = Tmux(100, 30)
    yield session
    session.kill()


def test_app_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    tmux.start(
        f"{VAE_TUI} --epochs 10000 --train-limit 4096 --test-limit 64 --hidden-dim 32 --latent-dim 4 "
        f"--run-dir {run_dir} --iwae-k 0",
        tmp_path,
    )
    screen = tmux.wait(lambda s: "TRAINING" in s and "epoch" in s)
    assert "Losses" in screen and "Quit" in screen  # the tabs and the footer are drawn
    tmux.keys("2")
    screen = tmux.wait(lambda s: "Selected #1 (label 7)" in s)
    tmux.keys("Right")
    tmux.wait(lambda s: "Selected #2 (label 2)" in s)
    tmux.keys("Down")
    tmux.wait(lambda s: "offset→z" in s and "by KL" in s)  # the traversal, on its first row by KL
    tmux.keys("Space")
    tmux.wait(lambda s: "PAUSED" in s)
    tmux.keys("Space")
    step_before = step_of(tmux.wait(lambda s: "TRAINING" in s))
    tmux.resize(160, 45)
    screen = tmux.wait(lambda s: "Batch loss" in s and "Traversal" in s)  # wide layout: plots beside images
    tmux.resize(30, 10)
    tmux.wait(lambda s: "Terminal too small" in s)
    tmux.resize(100, 30)
    # It kept training through the resizes.
    tmux.wait(lambda s: "TRAINING" in s and step_of(s) > step_before + 10)
    tmux.keys("q")
    deadline = time.monotonic() + 60
    while not (tmp_path / "exit.txt").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (tmp_path / "exit.txt").read_text().strip() == "EXIT=0"
    data = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    assert data["step"] > 0 and data["epoch"] < 10000
    assert wait_gone(run_dir, timeout=10)
    after = tmux.screen()
    assert "TRAINING" not in after and "Quit" not in after  # back on the normal screen
    assert "checkpoint.pt)" in after  # the closing line points at the saved run
    assert f"continue with vae-tui --resume {run_dir}" in tmux.screen(joined=True)  # and how to go on


def test_closing_the_terminal_saves_and_exits(tmux: Tmux, tmp_path: Path) -> None:
    """SIGHUP (SSH dropped, tmux window killed) mid-training: save, finish, exit; never linger."""
    run_dir = tmp_path / "run"
    tmux.start(
        f"{VAE_TUI} --epochs 10000 --train-limit 4096 --test-limit 64 --hidden-dim 32 --latent-dim 4 "
        f"--run-dir {run_dir} --iwae-k 0",
        tmp_path,
    )
    tmux.wait(lambda s: "last epoch" in s)  # at least one epoch saved
    tmux.kill()
    assert wait_gone(run_dir, timeout=40), "vae-tui outlived its terminal"
    data = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    assert data["step"] > 0
    log = read_swanlab_log(next((run_dir / "swanlab").glob("run-*/run-*.swanlab")))
    assert log["finished"] == "RUN_STATE_ABORTED"


def test_piped_stdout_still_fills_the_terminal(tmux: Tmux, tmp_path: Path) -> None:
    """`vae-tui | tee log`: Textual draws on stderr, so the screen takes stderr's size, not
    80×24 in a corner (it used to, sized from stdout)."""
    model = Path(__file__).parents[1] / "data" / "tiny-vae-state_dict.pt"
    tmux.start(f"{VAE_TUI} --checkpoint {model} --test-limit 100 | cat", tmp_path)
    rows = tmux.wait(lambda s: "Selected #1" in s).splitlines()
    assert len(rows) == 30 and "Quit" in rows[29], "\n".join(rows)  # the footer on the pane's last row
    tmux.resize(120, 36)
    rows = tmux.wait(lambda s: len(s.splitlines()) == 36 and "Quit" in s.splitlines()[35]).splitlines()
    tmux.keys("q")
    tmux.wait(lambda s: "Quit" not in s)
