"""`--watch` against a real `vae-tui --train-only` training in a subprocess: the watcher's plots
and views follow it; pause, save, resume and stop from the watcher are acknowledged and done by
the trainer; leaving the watcher leaves the trainer training; a trainer killed with SIGKILL is
said to be gone while the watcher keeps working, and a resumed run is picked up again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from vae_tui.core import requests as rq
from vae_tui.tui.widgets.status import StatusPanel

from ..app.helpers import make_app, text_of, wait_for

VAE_TUI = Path(sys.executable).parent / "vae-tui"
TINY = ["--hidden-dim", "32", "--latent-dim", "4", "--train-limit", "2048", "--test-limit", "256"]
TINY += ["--swanlab", "disabled", "--iwae-k", "0", "--seed", "0"]

pytestmark = pytest.mark.slow


def trainer(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """The real command, headless, in its own process (its output kept for the failure message)."""
    return subprocess.Popen(
        [str(VAE_TUI), "--train-only", *args],
        stdin=subprocess.DEVNULL, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


def answered(app: Any, verb: str, status: str = "done") -> dict[str, Any] | None:
    return next((a for a in app.answers if a.get("verb") == verb and a.get("status") == status), None)


def state(run: Path) -> dict[str, Any]:
    return rq.read_state(run) or {}


async def test_watch_steer_and_leave_a_real_headless_run(tmp_path: Path, mnist_dir: Path) -> None:
    run, log = tmp_path / "run", tmp_path / "trainer.log"
    proc = trainer("--run-dir", str(run), "--epochs", "400", *TINY, log=log)
    try:
        app = make_app("--watch", str(run))  # started before the folder exists: it waits for it
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.training_active and app.status.step > 0, timeout=120)
            steps, decoder = len(app.history.steps), app.state.decoder
            await wait_for(pilot, lambda: len(app.history.steps) > steps + 16)  # the batch curve moves
            await wait_for(pilot, lambda: len(app.history.epochs) >= 2)  # the epoch curve too
            await wait_for(pilot, lambda: app.state.decoder is not None and app.state.decoder is not decoder)
            await wait_for(pilot, lambda: "WATCHING TRAINING" in text_of(app.query_one(StatusPanel)))
            assert f"process {proc.pid}" in text_of(app.query_one(StatusPanel))

            await pilot.press("space")
            await wait_for(pilot, lambda: app.control.paused and answered(app, "pause"))
            ack = answered(app, "pause")
            assert state(run)["state"] == "paused" and f"(step {state(run)['step']})" in ack["message"]
            await wait_for(pilot, lambda: "PAUSED" in text_of(app.query_one(StatusPanel)))
            paused_at = state(run)["step"]

            before = (run / "checkpoint.pt").stat().st_mtime_ns
            await pilot.press("s")
            await wait_for(pilot, lambda: answered(app, "save"))
            assert str(run / "checkpoint.pt") in answered(app, "save")["message"]
            assert (run / "checkpoint.pt").stat().st_mtime_ns != before
            assert state(run)["step"] == paused_at  # saved, still paused

            await pilot.press("space")
            await wait_for(pilot, lambda: answered(app, "resume") and not app.control.paused)
            await wait_for(pilot, lambda: app.status.step > paused_at)
            await pilot.press("q")  # leaves the watcher only
        assert app.return_code == 0
        moving = state(run)["step"]
        proc_alive = proc.poll() is None
        assert proc_alive, log.read_text()
        # The trainer goes on without its watcher, and asked nothing.
        deadline = time.monotonic() + 60
        while state(run).get("step", 0) <= moving and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state(run)["step"] > moving and state(run)["state"] == "running"

        app = make_app("--watch", str(run))  # a second watcher stops it: x, twice
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.training_active)
            await pilot.press("x")
            await pilot.pause(0.2)
            assert not answered(app, "stop", "accepted") and proc.poll() is None  # asked, not sent
            await pilot.press("x")
            await wait_for(pilot, lambda: answered(app, "stop"))
            assert proc.wait(60) == 0, log.read_text()
            await wait_for(pilot, lambda: app.status.phase == "stopped" and not app.training_active)
            assert "saved at" in answered(app, "stop")["message"]
            await pilot.press("q")
        assert state(run)["state"] == "finished" and state(run)["outcome"] == "stopped"
        assert "continue with --resume" in log.read_text() or "Stopped after" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_a_killed_trainer_is_gone_and_a_resumed_one_is_picked_up(
    tmp_path: Path, mnist_dir: Path
) -> None:
    run, log = tmp_path / "run", tmp_path / "trainer.log"
    proc = trainer("--run-dir", str(run), "--epochs", "400", *TINY, log=log)
    resumed: subprocess.Popen[bytes] | None = None
    try:
        app = make_app("--watch", str(run))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.training_active and len(app.history.epochs) >= 1, timeout=120)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            await wait_for(pilot, lambda: app.status.phase == "gone")
            await wait_for(pilot, lambda: "TRAINER GONE" in text_of(app.query_one(StatusPanel)).upper()
                           or "GONE" in text_of(app.query_one(StatusPanel)))  # fmt: skip
            assert not app.training_active
            await pilot.press("tab", "right", "space", "s")  # the watcher keeps working; nothing to steer
            assert not rq.pending_requests(run)
            step = app.status.step
            resumed = trainer("--resume", str(run), log=log)
            await wait_for(pilot, lambda: app.training_active and app.status.phase == "training", timeout=120)
            await wait_for(pilot, lambda: app.status.step > step + 16)
            await pilot.press("q")
        assert resumed.poll() is None  # the watcher's end leaves the trainer training
    finally:
        for p in (proc, resumed):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
