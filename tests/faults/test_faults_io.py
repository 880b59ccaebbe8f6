"""A disk that fills up while the run writes, and a SwanLab that is broken or fails mid-run.

Full disks are simulated in-process (the CLI's `main()` with a write that fails with ENOSPC after
writing part of its bytes); SwanLab is broken for real, by a `swanlab` module earlier on
PYTHONPATH, so those runs need a fresh `vae-tui` process each."""

from __future__ import annotations

import builtins
import errno
import logging
import os
from pathlib import Path

import pytest
import torch

from vae_tui.core import checkpoint as ckpt
from vae_tui.core import metrics as metrics_module
from vae_tui.core.metrics import read_metrics
from vae_tui.tui.cli import main

from ..fault_injection import SMALL, cli_many, epoch_rows

NO_SPACE = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def run_main(capsys: pytest.CaptureFixture[str]):
    """`vae-tui ARGS` in this process: (exit code, stdout, stderr); the logger is put back after."""
    logger = logging.getLogger("vae_tui")
    saved = (list(logger.handlers), logger.level, logger.propagate)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    logger.handlers[:], logger.level, logger.propagate = saved


def one_error(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vae-tui: error: "), err
    return lines[0]


def test_disk_full_while_saving_a_checkpoint_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_main
) -> None:
    real_save = torch.save
    calls = []

    class FullDisk:
        """The temp file, on a disk with room for 10 kB: torch's zip writer sees the OSError and
        fails on the way out with its own RuntimeError, as on a real full disk."""

        def __init__(self, f) -> None:
            self.f, self.room = f, 10_000

        def write(self, data: bytes) -> int:
            if len(data) > self.room:
                self.f.write(bytes(data)[: self.room])
                self.room = 0
                raise NO_SPACE
            self.room -= len(data)
            return self.f.write(data)

        def flush(self) -> None:
            self.f.flush()

    def fills_up(obj: object, f, *args: object, **kwargs: object) -> None:
        calls.append(1)
        return real_save(obj, f if len(calls) < 2 else FullDisk(f), *args, **kwargs)

    monkeypatch.setattr(torch, "save", fills_up)
    run = tmp_path / "run"
    code, out, err = run_main("--train-only", *SMALL, "--epochs", "3", "--run-dir", str(run))
    line = one_error(err)
    assert code == 2
    assert f"could not save checkpoint {run / 'checkpoint.pt'}: No space left on device" in line
    assert "the previous checkpoint is kept" in line
    assert "Model saved at epoch 1." in out and "epoch 2." not in out
    data = ckpt.read_checkpoint(run / "checkpoint.pt")
    assert (data["epoch"], data["batch"]) == (1, 0)
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no temp file left
    assert [r["epoch"] for r in epoch_rows(run)] == [1, 2]  # epoch 2 ran; resume redoes it


def test_disk_full_while_writing_metrics_stops_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_main
) -> None:
    appended = []

    def fills_up(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)  # noqa: SIM115 - handed on, or closed by Torn
        if mode != "a" or Path(path).name != "metrics.jsonl":
            return f
        appended.append(path)
        if len(appended) < 2:
            return f

        class Torn:  # writes half the line, then the disk is full
            def __enter__(self):
                return self

            def __exit__(self, *exc: object) -> None:
                f.close()

            def write(self, text: str) -> None:
                f.write(text[: len(text) // 2])
                f.flush()
                raise NO_SPACE

        return Torn()

    monkeypatch.setattr(metrics_module, "open", fills_up, raising=False)
    run = tmp_path / "run"
    code, _, err = run_main("--train-only", *SMALL, "--epochs", "3", "--run-dir", str(run))
    line = one_error(err)
    assert code == 1
    assert f"cannot write {run / 'metrics.jsonl'}: No space left on device; training stopped" in line
    assert f"the last complete checkpoint, {run / 'checkpoint.pt'}, is kept" in line
    assert [r["epoch"] for r in read_metrics(run)] == [1]  # the torn half line is skipped
    assert ckpt.read_checkpoint(run / "checkpoint.pt")["epoch"] == 1


def test_disk_full_while_drawing_the_grids_stops_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_main
) -> None:
    from PIL import Image

    def fills_up(self, fp, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fp))

    monkeypatch.setattr(Image.Image, "save", fills_up)
    run = tmp_path / "run"
    code, _, err = run_main("--train-only", *SMALL, "--epochs", "2", "--run-dir", str(run))
    line = one_error(err)
    assert code == 1
    assert "epoch-001-reconstructions.png): No space left on device" in line
    assert "no checkpoint had been saved yet" in line


BROKEN_IMPORT = "raise ImportError('swanlab is broken on this machine')\n"
FAILS_MID_RUN = """
import os

class Settings:
    def __init__(self, **kwargs): pass

class Image:
    def __init__(self, data): pass

class Run:
    id = "flaky01"

calls = []

def init(**kwargs):
    return Run()

def log(*args, **kwargs):
    calls.append(1)
    if len(calls) > 5:
        raise RuntimeError("disk on fire\\nsecond line of the message")

def finish(state="success", **kwargs):
    with open(os.environ["FAKE_SWANLAB_RECORD"], "a") as f:
        f.write(state + "\\n")
"""


def test_swanlab_broken_or_failing_is_one_warning_and_training_goes_on(tmp_path: Path) -> None:
    jobs = {}
    for name, source in [("import", BROKEN_IMPORT), ("mid-run", FAILS_MID_RUN)]:
        fake = tmp_path / f"fake-{name}"
        fake.mkdir()
        (fake / "swanlab.py").write_text(source)
        env = {"PYTHONPATH": str(fake), "FAKE_SWANLAB_RECORD": str(tmp_path / "finish.txt")}
        jobs[name] = (["--train-only", *SMALL, "--epochs", "2", "--swanlab", "offline",
                       "--run-dir", str(tmp_path / f"run-{name}")], {"extra_env": env})  # fmt: skip
    results = cli_many(jobs)
    expected = {
        "import": "vae-tui: warning: SwanLab unavailable (ImportError: swanlab is broken on this machine); "
        "training goes on without tracking",
        "mid-run": "vae-tui: warning: SwanLab tracking stopped: RuntimeError: disk on fire second line of "
        "the message (training goes on)",
    }
    for name, result in results.items():
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines() == [expected[name]]
        run = tmp_path / f"run-{name}"
        assert [r["epoch"] for r in epoch_rows(run)] == [1, 2]
        assert ckpt.read_checkpoint(run / "checkpoint.pt")["epoch"] == 2
        assert "Finished after 2 epochs" in result.stdout
    assert (tmp_path / "finish.txt").read_text() == "crashed\n"  # the mid-run failure, recorded


def test_swanlab_exiting_the_process_is_one_warning(
    tiny_config, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """SwanLab treats errors before init as fatal and may call sys.exit: that too is survived."""
    import swanlab

    from vae_tui.core.consumers import drive
    from vae_tui.core.run import standard_consumers
    from vae_tui.core.train import train

    def exits(*args: object, **kwargs: object) -> None:
        raise SystemExit("swanlab: critical error, exiting")

    monkeypatch.setattr(swanlab, "init", exits)
    monkeypatch.setattr(logging.getLogger("vae_tui"), "propagate", True)
    config = tiny_config.with_(swanlab="offline", epochs=1, iwae_k=0)
    with caplog.at_level(logging.WARNING, logger="vae_tui"):
        finished = drive(train(config), standard_consumers(config))
    assert finished is not None and finished.status == "completed"
    assert [r.getMessage() for r in caplog.records] == [
        "SwanLab unavailable (SystemExit: swanlab: critical error, exiting); training goes on without tracking"
    ]
