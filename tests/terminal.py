"""Running a command on a real pseudo-terminal, as a person's shell would, without tmux."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

CONTROL = re.compile(rb"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b[()][AB0]|\x1b[=>78]|\x1b\][^\x07]*\x07")


def run_in_terminal(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    *,
    keys: bytes = b"",
    until: str = "",
    size: tuple[int, int] = (160, 46),
    timeout: float = 120,
) -> str:
    """Run `command` with stdin, stdout and stderr on a pty of `size` (columns, rows); type
    `keys` once `until` shows (if given); assert it exits 0, and return what it wrote with
    control codes removed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {k: v for k, v in env.items() if k not in {"COLUMNS", "LINES"}}  # (pytest sets them)
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)  # fmt: skip
    os.close(slave)
    raw, sent, deadline = b"", not keys, time.monotonic() + timeout
    text = b""
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the program exited and the terminal closed
                    break
                if not chunk:
                    break
                raw += chunk
                text = CONTROL.sub(b"", raw)
            if not sent and until.encode() in text:
                os.write(master, keys)
                sent = True
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    shown = text.decode(errors="replace")
    assert sent, f"{until!r} never showed: {shown[-2000:]!r}"
    assert code == 0, f"exit {code}: {shown[-2000:]!r}"
    return shown
