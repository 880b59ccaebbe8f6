"""`vae-tui --serve`: the app in a browser, one app process per page, for whatever the other
flags ask (a training run, `--checkpoint`, `--watch`, `--compare`).

Training outlives connections: with training flags the server fixes the run folder first, starts
one headless trainer for it (`--train-only`, which holds the run's writer lock and prints its
progress lines here) and gives every page the watch-and-attach app on that folder (`--watch`:
plots, views, pause/save/stop through the run's request channel). A reload or a closed tab ends
only that page's app; a second tab is a second watcher, never a second trainer. Ctrl-C or
SIGTERM asks the trainer to stop as `q` does (it saves and finishes its SwanLab run), then ends
every app's process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from vae_tui.core import requests
from vae_tui.core.errors import ConfigError
from vae_tui.core.runlock import claim_new_run_dir, trainer

from .request import Request
from .serve_flags import Serve, drop_flags, is_loopback

PROG = "vae-tui"
STOP_WAIT = 120.0
"""Seconds the trainer gets to save and finish its SwanLab run after a stop request."""
START_WAIT = 180.0
"""Seconds to wait for a trainer to take its run's lock (torch's import is most of it)."""


def bind(serve: Serve) -> socket.socket:
    """The listening socket, bound before anything starts: a port in use is one line, not a
    trainer started for nothing."""
    try:
        infos = socket.getaddrinfo(serve.host, serve.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(f"--host {serve.host}: {e.strerror or e}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT: in use is in use
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {serve.port} on {serve.host} is in use; pick another with --port"
            ) from None
        raise ConfigError(f"cannot serve on {serve.host}:{serve.port}: {e.strerror or e}") from None
    return sock


def command(argv: list[str] | tuple[str, ...]) -> list[str]:
    """This vae-tui, run as a module by this Python (the same install, venv or pipx)."""
    return [sys.executable, "-m", "vae_tui.tui", *argv]


def plan_training(request: Request) -> tuple[Path, list[str]]:
    """The run folder, fixed before anything starts, and the trainer's command line. A bad
    setting is refused here, as the terminal app would (no folder claimed for it)."""
    from vae_tui.core.run import plan_run  # noqa: PLC0415

    assert request.serve is not None
    plan = plan_run(request.overrides, request.resume)
    argv = [*drop_flags(request.serve.argv, valued=("--graphics",)), "--train-only"]  # (no screen there)
    if request.resume or plan.config.run_dir:
        return Path(request.resume or plan.config.run_dir or ""), argv
    run_dir = claim_new_run_dir()
    return run_dir, [*argv, f"--run-dir={run_dir}"]


class TrainerProcess:
    """The one trainer the server started, in a process group of its own."""

    def __init__(self, run_dir: Path, argv: list[str]) -> None:
        self.run_dir = run_dir
        self.proc = subprocess.Popen(command(argv), stdin=subprocess.DEVNULL, start_new_session=True)
        self.reported = False

    def wait_started(self) -> int | None:
        """None once it holds the run's lock (or after `START_WAIT`: the pages then say they
        wait); its exit code if it ended first (its error line is already on stderr)."""
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            if (code := self.proc.poll()) is not None:
                return code
            if (holder := trainer(self.run_dir)) is not None and holder.pid == self.proc.pid:
                return None
            time.sleep(0.1)
        return None

    def stop(self) -> None:
        """As `q` in the trainer's own app: a stop request (it saves and finishes its SwanLab
        run), then SIGINT and SIGKILL to its group only if it does not end in time."""
        if self.proc.poll() is None:
            print(f"{PROG}: stopping the trainer of {self.run_dir} (it saves first)", flush=True)
            started = (holder := trainer(self.run_dir)) is not None and holder.pid == self.proc.pid
            steps: list[tuple[signal.Signals | None, float]] = [(signal.SIGINT, 30.0), (signal.SIGKILL, 10.0)]
            if started:  # (a request sent before it started would expire unread: SIGINT then)
                with contextlib.suppress(OSError):
                    requests.send(self.run_dir, "stop")
                steps.insert(0, (None, STOP_WAIT))
            for sig, wait in steps:
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(self.proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(wait)
                    break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything it left in its group

    def report_end(self) -> None:
        """Said once, when training ends while the server goes on (finished, stopped, failed)."""
        if not self.reported and (code := self.proc.poll()) is not None:
            self.reported = True
            how = "finished or stopped" if code == 0 else f"ended with exit code {code}"
            print(
                f"{PROG}: the trainer of {self.run_dir} {how}; pages still show the run (Ctrl-C to quit)",
                flush=True,
            )


def page_command(request: Request, run_dir: Path | None) -> str:
    """What each page's app is started with: the watcher of the served run, or the user's flags."""
    assert request.serve is not None
    argv: list[str] = list(request.serve.argv)
    if run_dir is not None:
        graphics = [] if request.graphics is None else ["--graphics", request.graphics]
        argv = [f"--watch={run_dir}", *graphics]  # (=: a folder named like a flag stays a value)
    return "exec " + shlex.join(command(argv))


def run_serve(request: Request) -> int:
    from .web_server import WebServer, end_groups  # noqa: PLC0415 - aiohttp only when serving

    assert request.serve is not None
    refuse_what_every_page_would(request)
    sock = bind(request.serve)
    training: TrainerProcess | None = None
    server: WebServer | None = None
    previous = signal.signal(signal.SIGTERM, interrupt)  # until the server's own handlers are in
    try:
        run_dir, trainer_argv = plan_training(request) if request.trains else (None, [])
        if run_dir is not None:
            training = TrainerProcess(run_dir, trainer_argv)
            if (code := training.wait_started()) is not None:
                return code
        announce(sock, run_dir, training)

        async def stop_all() -> None:
            if training is not None:
                await asyncio.get_running_loop().run_in_executor(None, training.stop)

        server = WebServer(page_command(request, run_dir), sock, stop_all, training and training.report_end)
        server.serve()
    finally:  # also after Ctrl-C or SIGTERM while the trainer starts: it must not train on alone
        signal.signal(signal.SIGTERM, previous)
        sock.close()
        if training is not None:
            training.stop()
        if server is not None:
            end_groups(set(server.groups))
    print(f"{PROG}: stopped serving", flush=True)
    return 0


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def refuse_what_every_page_would(request: Request) -> None:
    """A model that is not there, or a file given to --watch, would fail on every page (which
    then only says "Session ended"): said once, here, as the terminal app says it."""
    if request.checkpoint and not Path(request.checkpoint).exists():
        raise ConfigError(f"--checkpoint {request.checkpoint}: no such file or folder")
    if request.watch and Path(request.watch).exists() and not Path(request.watch).is_dir():
        raise ConfigError(f"--watch {request.watch} is a file, not a run folder")


def announce(sock: socket.socket, run_dir: Path | None, training: TrainerProcess | None) -> None:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    what = f"training {run_dir} (process {training.proc.pid}); " if training else ""
    print(f"{PROG}: serving http://{shown}:{port}/  ({what}Ctrl-C stops everything)", flush=True)
    if not is_loopback(host):
        print(
            f"{PROG}: warning: {host} is not loopback: anyone who can reach this port can watch, "
            "pause and stop the run",
            file=sys.stderr,
            flush=True,
        )
