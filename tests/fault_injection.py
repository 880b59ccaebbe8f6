"""Helpers for the fault-injection tests (tests/faults/test_faults_*.py): the real `vae-tui` command,
run as a user would, with tiny models on small MNIST subsets."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

VAE_TUI = str(Path(sys.executable).parent / "vae-tui")
TINY = ("--hidden-dim", "32", "--latent-dim", "4", "--batch-size", "64", "--iwae-k", "0")
"""A model that trains in milliseconds per batch."""
SMALL = (*TINY, "--train-limit", "256", "--test-limit", "64", "--swanlab", "disabled")
"""A whole run in well under a second once torch is loaded."""
# Every process imports torch (~2 s here); the concurrent runs below share the 2 cores.
WORKERS = 3


def env(**extra: str) -> dict[str, str]:
    """The test process's environment (dataset cache, no download) plus `extra`.

    One intra-op thread: on a busy shared machine torch's default (one per core) makes these
    tiny models several times slower, as its threads wait for each other at every operation.
    Every run in a comparison gets the same setting, so results stay bit-for-bit comparable.
    """
    return {**os.environ, "NO_COLOR": "1", "OMP_NUM_THREADS": "1", **extra}


def cli(
    *args: str, cwd: Path | None = None, extra_env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`vae-tui ARGS` to completion, stdin closed, output captured."""
    return subprocess.run(
        [VAE_TUI, *args],
        check=False, capture_output=True, text=True, cwd=cwd, timeout=timeout,
        stdin=subprocess.DEVNULL, env=env(**(extra_env or {})),
    )  # fmt: skip


def cli_many(
    jobs: Mapping[str, Sequence[str] | tuple[Sequence[str], Mapping[str, Any]]],
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Several independent `vae-tui` runs at once (each pays for its own torch import)."""

    def one(job: Any) -> subprocess.CompletedProcess[str]:
        if isinstance(job, tuple) and len(job) == 2 and isinstance(job[1], Mapping):
            return cli(*job[0], **job[1])
        return cli(*job)

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {name: pool.submit(one, job) for name, job in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `vae-tui: error: ...` line of a failed run (asserting that is all there is)."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vae-tui: error: "), result.stderr
    return lines[0]


_spawned: list[subprocess.Popen[str]] = []


def spawn(*args: str, extra_env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """`vae-tui ARGS` in the background, its stdout read line by line by the test."""
    proc = subprocess.Popen(
        [VAE_TUI, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=env(**(extra_env or {})),
    )  # fmt: skip
    _spawned.append(proc)
    return proc


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """A test that fails halfway must not leave its long training runs behind."""
    yield
    while _spawned:
        proc = _spawned.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 180) -> list[str]:
    """stdout lines up to and including the first one containing `marker`."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:  # the process ended first
            raise AssertionError(f"no {marker!r} in output: {lines} / {proc.communicate()[1]}")
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} within {timeout} s")


def handles_sigterm(pid: int) -> bool:
    """Whether the process has installed a SIGTERM handler (Python does not, by default)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"did not exit within {timeout} s: {out} {err}") from None


def model_tensors(run_dir: Path) -> dict[str, Any]:
    from vae_tui.core import checkpoint as ckpt

    return ckpt.model_state(ckpt.read_checkpoint(run_dir / "checkpoint.pt"))


def same_weights(a: Path, b: Path) -> bool:
    import torch

    ta, tb = model_tensors(a), model_tensors(b)
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def resume_phrase(saved: Mapping[str, Any]) -> str:
    """What the headless header says when resuming from checkpoint data `saved`."""
    if saved["batch"]:
        return f"resuming epoch {saved['epoch'] + 1} at batch {saved['batch'] + 1}"
    return f"resuming after epoch {saved['epoch']}"


def epoch_rows(run_dir: Path) -> list[dict[str, Any]]:
    from vae_tui.core.metrics import read_metrics

    return [r for r in read_metrics(run_dir) if r.get("kind") == "epoch"]


def numbers(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must be identical between runs (everything but wall-clock times)."""
    return [(r["epoch"], r["step"], r["loss"], r["bce"], r["kld"], r["test_loss"]) for r in rows]


# A process that has imported torch, SwanLab and vae-tui once and forks a child per command line:
# a child is a separate process running the same `main()` as the `vae-tui` script, without its
# 2-4 s of imports. Safe because the server runs no torch computation (no thread pools to fork).
FORK_SERVER = r"""
import json, os, sys
import numpy, torch, swanlab
import vae_tui.core.resume, vae_tui.core.run, vae_tui.core.train, vae_tui.tui.headless
from vae_tui.tui.cli import main

torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])  # its first use imports ~900 modules
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "run":
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for fd, name, flags in ((0, os.devnull, os.O_RDONLY),
                                        (1, cmd["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                        (2, cmd["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
                    os.dup2(os.open(name, flags, 0o644), fd)
                code = main(cmd["argv"])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
    elif cmd["op"] == "wait":
        _, status = os.waitpid(cmd["pid"], 0)
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class ForkServer:
    """`run(argv)` starts `vae-tui ARGV` as a forked child and returns its pid; `wait(pid)` reaps it.
    Several children can run at once: start them all, then wait for each."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env(),
        )  # fmt: skip

    def _ask(self, **cmd: Any) -> dict[str, Any]:
        import json

        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the fork server died"
        return json.loads(line)

    def run(self, argv: Sequence[str], out: Path, err: Path) -> int:
        return self._ask(op="run", argv=list(argv), out=str(out), err=str(err))["pid"]

    def wait(self, pid: int) -> int:
        return self._ask(op="wait", pid=pid)["rc"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


_server: ForkServer | None = None


def fork_server() -> ForkServer:
    """The one fork server of the test session, started on first use."""
    global _server  # noqa: PLW0603
    if _server is None or _server.proc.poll() is not None:
        _server = ForkServer()
        atexit.register(_server.close)
    return _server


def forked_many(
    jobs: Mapping[str, Sequence[str]], tmp: Path, workers: int = WORKERS
) -> dict[str, subprocess.CompletedProcess[str]]:
    """`vae-tui ARGS` for each job, as children of the fork server, `workers` at a time: the CLI's
    own `main()`, each in its own process, minus the seconds of imports. Not for what happens
    during imports or at interpreter exit (signals, a broken SwanLab): children end by os._exit."""
    server = fork_server()
    done: dict[str, subprocess.CompletedProcess[str]] = {}
    names = list(jobs)
    for start in range(0, len(names), workers):
        running = {}
        for name in names[start : start + workers]:
            out, err = tmp / f".out-{time.monotonic_ns()}", tmp / f".err-{time.monotonic_ns()}"
            running[name] = (server.run(jobs[name], out, err), out, err)
        for name, (pid, out, err) in running.items():
            rc = server.wait(pid)
            done[name] = subprocess.CompletedProcess(
                ["vae-tui", *jobs[name]], rc, out.read_text(), err.read_text()
            )
            out.unlink()
            err.unlink()
    return done


def forked_cli(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """One `vae-tui ARGS` through the fork server (see `forked_many`)."""
    return forked_many({"one": args}, tmp)["one"]
