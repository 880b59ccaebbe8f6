"""Ctrl-C and SIGTERM on the real `vae-tui --train-only`: stop between batches, a valid checkpoint,
the SwanLab run finished as aborted, exit 128 + signal, and never a traceback."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.metrics import read_metrics
from vae_tui.core.tracking import saved_run_id

from ..fault_injection import (
    TINY,
    epoch_rows,
    finish,
    forked_cli,
    handles_sigterm,
    no_leftover_processes,  # noqa: F401 - autouse fixture
    read_until,
    resume_phrase,
    spawn,
)
from ..swanlab_log import read_swanlab_log

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Long enough (50 epochs of 4,000 images) that a signal sent after epoch 1 lands mid-training.
LONG = (*TINY, "--train-limit", "4000", "--test-limit", "200", "--epochs", "50")
BATCHES = 63  # ceil(4000 / 64)
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
# Each scenario below runs two `vae-tui` processes side by side: every start costs seconds of
# imports, and the two cores are better used by two runs than by one.


def swanlab_logs(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "swanlab").glob("run-*/run-*.swanlab"))


def assert_resumable_checkpoint(run_dir: Path) -> dict:
    data = ckpt.read_checkpoint(run_dir / "checkpoint.pt")
    assert ckpt.architecture(ckpt.model_state(data)) == {"input_dim": 784, "hidden_dim": 32, "latent_dim": 4}
    assert data["step"] == data["epoch"] * BATCHES + data["batch"]
    assert not list(run_dir.glob(".checkpoint.pt.tmp-*"))
    return data


def test_sigint_and_sigterm_mid_training_stop_save_and_finish_swanlab(tmp_path: Path) -> None:
    runs = {sig: tmp_path / sig.name for sig in (signal.SIGINT, signal.SIGTERM)}
    procs = {sig: spawn("--train-only", *LONG, "--run-dir", str(run), "--swanlab", "offline")
             for sig, run in runs.items()}  # fmt: skip
    for sig, proc in procs.items():
        read_until(proc, "Model saved at epoch 1.")  # mid-training from here on
        proc.send_signal(sig)
    saved = {}
    for sig, proc in procs.items():
        run_dir = runs[sig]
        out, err = finish(proc)
        assert proc.returncode == CODES[sig], err
        assert err.splitlines() == [
            f"vae-tui: {sig.name}: stopping at the next batch and saving a checkpoint (again to quit now)"
        ]
        assert "Checkpoint saved (stop) at epoch" in out and "Stopped after" in out
        assert f"Continue with: vae-tui --resume {run_dir}\n" in out  # how to go on, said
        data = saved[sig] = assert_resumable_checkpoint(run_dir)
        assert 1 <= data["epoch"] < 50
        assert [r["epoch"] for r in epoch_rows(run_dir)] == list(range(1, data["epoch"] + 1))
        [log] = swanlab_logs(run_dir)
        assert read_swanlab_log(log)["finished"] == "RUN_STATE_ABORTED"
        assert log.name == f"run-{saved_run_id(run_dir)}.swanlab"

    # SIGTERM'd run continues: the same metrics.jsonl, the same SwanLab run id, the next step.
    run_dir, data = runs[signal.SIGTERM], saved[signal.SIGTERM]
    run_id = saved_run_id(run_dir)
    target = data["epoch"] + 1
    result = forked_cli("--train-only", "--resume", str(run_dir), "--epochs", str(target), tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    # Fewer epochs than the 50 planned: linear annealing's β changes, which one line says.
    assert result.stderr.startswith(f"vae-tui: warning: --epochs {target} (was 50) changes β for the epochs")
    assert result.stderr.count("\n") == 1
    assert resume_phrase(data) in result.stdout
    assert [r["epoch"] for r in epoch_rows(run_dir)] == list(range(1, target + 1))
    assert ckpt.read_checkpoint(run_dir / "checkpoint.pt")["epoch"] == target
    logs = swanlab_logs(run_dir)
    assert len(logs) == 2 and all(p.name == f"run-{run_id}.swanlab" for p in logs)
    resumed = read_swanlab_log(logs[1])
    assert resumed["finished"] == "RUN_STATE_FINISHED"
    steps = [s for s, _ in resumed["scalars"]["train/loss"]]
    assert steps[0] == data["step"] + 1 and steps[-1] == target * BATCHES  # continues, by step


# A SwanLab whose finish() hangs, to be sure the second Ctrl-C lands while the run is stopping.
HANGING_SWANLAB = """
import os, time

class Settings:
    def __init__(self, **kwargs): pass

class Image:
    def __init__(self, data): pass

class Run:
    id = "hanging01"

def init(**kwargs):
    return Run()

def log(*args, **kwargs): pass

def finish(state="success", **kwargs):
    with open(os.environ["FAKE_SWANLAB_RECORD"], "a") as f:
        f.write(f"finish {state} started\\n")
    time.sleep(120)
    with open(os.environ["FAKE_SWANLAB_RECORD"], "a") as f:
        f.write("finish done\\n")
"""


def read_err_line(proc) -> str:
    line = proc.stderr.readline()
    assert line, proc.communicate()
    return line.rstrip("\n")


def test_second_ctrl_c_quits_at_once_and_corrupts_nothing(tmp_path: Path) -> None:
    """`hanging`: SwanLab's finish() never returns, so the second Ctrl-C surely lands while the run
    stops. `real`: the real SwanLab; the second Ctrl-C lands wherever it lands (the batch, the
    save, SwanLab's finish, the exit); either way nothing may be left corrupt."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "swanlab.py").write_text(HANGING_SWANLAB)
    record = tmp_path / "swanlab-calls.txt"
    hanging, real = tmp_path / "hanging", tmp_path / "real"
    procs = {
        hanging: spawn("--train-only", *LONG, "--run-dir", str(hanging), "--swanlab", "offline",
                       extra_env={"PYTHONPATH": str(fake), "FAKE_SWANLAB_RECORD": str(record)}),
        real: spawn("--train-only", *LONG, "--run-dir", str(real), "--swanlab", "offline"),
    }  # fmt: skip
    for proc in procs.values():
        read_until(proc, "Model saved at epoch 1.")
    for proc in procs.values():
        proc.send_signal(signal.SIGINT)
    for proc in procs.values():
        assert "stopping at the next batch" in read_err_line(proc)
    if procs[real].poll() is None:
        procs[real].send_signal(signal.SIGINT)
    deadline = time.monotonic() + 60
    while "finish aborted started" not in (record.read_text() if record.exists() else ""):
        assert procs[hanging].poll() is None and time.monotonic() < deadline  # SwanLab now hangs
        time.sleep(0.01)
    procs[hanging].send_signal(signal.SIGINT)

    out, err = finish(procs[hanging], timeout=90)  # long before the fake finish() would return
    assert procs[hanging].returncode == 130, err
    assert err.splitlines() == [
        "vae-tui: second signal (SIGINT): quitting now",
        "vae-tui: warning: quitting without waiting for SwanLab; its log may lack the finish record",
        f"vae-tui: interrupted; the last complete checkpoint, {hanging / 'checkpoint.pt'}, is kept "
        f"(continue with --resume {hanging})",
    ]
    assert "finish done" not in record.read_text()
    assert "Checkpoint saved (stop)" in out  # the first Ctrl-C's checkpoint, intact
    data = assert_resumable_checkpoint(hanging)
    assert [r["epoch"] for r in epoch_rows(hanging)] == list(range(1, data["epoch"] + 1))

    _, err = finish(procs[real])
    assert procs[real].returncode == 130, err
    assert "Traceback" not in err and "Error" not in err
    assert assert_resumable_checkpoint(real)["epoch"] >= 1
    rows = read_metrics(real)
    assert rows and all(r["kind"] == "epoch" for r in rows)
    assert (real / "metrics.jsonl").read_text().endswith("\n")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_torch_loads_exits_cleanly_and_writes_nothing(
    tmp_path: Path, sig: signal.Signals
) -> None:
    run_dir = tmp_path / "run"
    proc = spawn("--train-only", *LONG, "--run-dir", str(run_dir))
    deadline = time.monotonic() + 60
    while not handles_sigterm(proc.pid):  # the handlers go in before torch is imported
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(sig)  # the imports that follow the handlers take seconds: it lands in them
    out, err = finish(proc)
    assert proc.returncode == CODES[sig], err
    assert out == ""
    assert err.splitlines() == [
        f"vae-tui: {sig.name}: stopping before training starts (again to quit now)",
        "vae-tui: stopped before training started; nothing was written",
    ]
    assert not run_dir.exists()


def test_the_headless_front_end_loads_without_torch() -> None:
    """So `run_headless` installs its signal handlers before the seconds of torch imports."""
    code = "import sys, vae_tui.tui.cli, vae_tui.tui.headless\nprint('torch' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.fixture
def restore_logging():
    logger = logging.getLogger("vae_tui")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def test_signal_while_the_data_loads_saves_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    """In-process, so the signal lands exactly inside `load_split` (after the imports)."""
    from vae_tui.core import train as train_module
    from vae_tui.tui.cli import main

    real_load = train_module.load_split

    def load_and_get_interrupted(folder: Path, split: str, limit: int | None = None):
        if split == "train":  # once: a second signal would mean "quit now"
            os.kill(os.getpid(), signal.SIGINT)
        return real_load(folder, split, limit)

    monkeypatch.setattr(train_module, "load_split", load_and_get_interrupted)
    previous = signal.getsignal(signal.SIGINT)
    run_dir = tmp_path / "run"
    code = main(["--train-only", *TINY, "--train-limit", "256", "--test-limit", "64",
                 "--swanlab", "disabled", "--run-dir", str(run_dir)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 130, err
    assert signal.getsignal(signal.SIGINT) is previous  # handlers restored
    assert "Traceback" not in err
    data = ckpt.read_checkpoint(run_dir / "checkpoint.pt")  # the starting position: resumable
    assert (data["epoch"], data["batch"], data["step"]) == (0, 0, 0)


def test_a_third_signal_exits_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from vae_tui.core.control import TrainControl
    from vae_tui.tui.signals import StopOnSignals

    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    control, err = TrainControl(), io.StringIO()
    signals = StopOnSignals(control, err)
    signals.started = True
    signals._handler(signal.SIGTERM, None)
    assert control.stop_requested and signals.exit_code == 143
    with pytest.raises(KeyboardInterrupt):
        signals._handler(signal.SIGINT, None)
    assert signals.exit_code == 130
    signals._handler(signal.SIGINT, None)
    assert exits == [130]
    assert len(err.getvalue().splitlines()) == 2
