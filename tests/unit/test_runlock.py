"""One writer per run folder, in this process and one beside it: the lock, the lock-free query,
the fallback where OFD locks are missing, a filesystem that cannot lock, claiming a fresh folder.
The races between real `vae-tui` processes are in test_faults_runlock.py."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from vae_tui.core import runlock
from vae_tui.core.config import TrainConfig
from vae_tui.core.consumers import drive
from vae_tui.core.errors import ConfigError
from vae_tui.core.metrics import MetricsWriter
from vae_tui.core.runlock import RunLock, claim_new_run_dir, trainer
from vae_tui.core.train import train
from vae_tui.tui.cli import main

from ..fault_injection import env


def folder_state(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under `folder`: size, mtime and content (to tell that nothing was touched)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Path]:
    """A run folder whose lock this test process holds, as a trainer would."""
    run = tmp_path / "run"
    run.mkdir()
    lock = RunLock()
    lock.acquire(run, resuming=False)
    lock.record()
    yield run
    lock.release()


@pytest.fixture
def restore_logger() -> Iterator[None]:
    """`main` sets up the vae_tui logger for one-line warnings; put it back for other tests."""
    logger = logging.getLogger("vae_tui")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def query_elsewhere(run: Path) -> str:
    """`trainer(run)` as another process sees it."""
    code = "import sys; from vae_tui.core.runlock import trainer; print(trainer(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", code, str(run)], capture_output=True, text=True, env=env(), check=True
    )
    return result.stdout.strip()


def test_the_lock_says_who_holds_it_and_the_query_takes_nothing(held: Path) -> None:
    holder = trainer(held)
    assert holder is not None and holder.pid == os.getpid()
    assert datetime.fromisoformat(holder.started).tzinfo is not None
    assert f"process {os.getpid()} (started " in holder.describe()
    # Another process sees the same; its query neither takes the lock nor blocks.
    assert f"pid={os.getpid()}" in query_elsewhere(held)
    with pytest.raises(ConfigError, match=rf"{held} is being trained by process {os.getpid()} \(started "):
        RunLock().acquire(held, resuming=False)
    assert trainer(held) is not None  # the refused attempt dropped nothing


def test_closing_other_descriptors_of_the_file_keeps_the_lock(held: Path) -> None:
    """Classic POSIX locks (lockf) are dropped when the process closes ANY descriptor of the
    file: the app asking about its own run, or reading the file, would unlock it. OFD locks are
    not; another process still sees it held."""
    for _ in range(3):
        assert trainer(held) is not None  # opens and closes the lock file
    with open(held / runlock.LOCK_FILE, "rb") as f:
        f.read()
    assert f"pid={os.getpid()}" in query_elsewhere(held)


def test_released_or_never_taken_is_nobody(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    assert trainer(run) is None  # no lock file
    assert trainer(tmp_path / "missing") is None
    with RunLock() as lock:
        lock.acquire(run, resuming=False)
        lock.record()
        assert trainer(run) is not None
    assert trainer(run) is None
    assert query_elsewhere(run) == "None"
    assert (run / runlock.LOCK_FILE).exists()  # never deleted: a new file would be another lock


def test_without_ofd_locks_flock_holds_it_and_the_query_stays_correct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runlock, "OFD", False)
    run = tmp_path / "run"
    run.mkdir()
    assert trainer(run) is None
    lock = RunLock()
    lock.acquire(run, resuming=True)
    lock.record()
    for _ in range(3):  # the query's own open and close leave the lock in place
        holder = trainer(run)
        assert holder is not None and holder.pid == os.getpid()
    with pytest.raises(ConfigError, match="wait for it to end before resuming it"):
        RunLock().acquire(run, resuming=True)
    lock.release()
    assert trainer(run) is None
    with RunLock() as again:  # free again: the queries took nothing
        again.acquire(run, resuming=True)
        assert again.fd is not None


def test_a_second_trainer_in_this_process_is_refused_and_writes_nothing(
    tiny_config: TrainConfig, held: Path
) -> None:
    """Through `train` itself: the real acquisition (the app trains in-process, like this)."""
    config = tiny_config.with_(run_dir=str(held))
    before = folder_state(held)
    with pytest.raises(ConfigError, match="is being trained by process"):
        drive(train(config), [MetricsWriter()])
    assert folder_state(held) == before


def test_a_resume_is_refused_by_the_lock_itself(tiny_config: TrainConfig, tmp_path: Path) -> None:
    """`train(resume=...)` skips the early look and meets the lock: refused, nothing written."""
    from vae_tui.core.resume import load_resume

    config = tiny_config.with_(run_dir=str(tmp_path / "run"))
    drive(train(config.with_(epochs=1)), [MetricsWriter()])
    run = tmp_path / "run"
    resumed, saved = load_resume(run, {"epochs": 2})
    with RunLock() as lock:
        lock.acquire(run, resuming=False)
        lock.record()
        before = folder_state(run)
        with pytest.raises(ConfigError, match="wait for it to end before resuming it"):
            drive(train(resumed, resume=saved), [MetricsWriter()])
        assert folder_state(run) == before
    drive(train(resumed, resume=saved), [MetricsWriter()])  # released: it goes on
    assert [r["epoch"] for r in _epochs(run)] == [1, 2]


def _epochs(run: Path) -> list[dict]:
    from vae_tui.core.metrics import read_metrics

    return [r for r in read_metrics(run / "metrics.jsonl") if r.get("kind") == "epoch"]


def test_the_refusal_comes_before_torch_loads(held: Path) -> None:
    """`--resume` and an explicit `--run-dir` of a folder being trained are refused at once."""
    code = (
        "import sys; from vae_tui.tui.cli import main; rc = main(sys.argv[1:]); "
        "print(rc, 'torch' in sys.modules)"
    )
    before = folder_state(held)
    for flags, then in (
        (["--resume", str(held)], "wait for it to end before resuming it"),
        (["--run-dir", str(held), "--epochs", "1"], "wait for it or pick another --run-dir"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", code, "--train-only", *flags],
            capture_output=True, text=True, env=env(), check=False,
        )  # fmt: skip
        assert result.stdout.split() == ["2", "False"], result.stderr
        assert result.stderr.splitlines() == [
            f"vae-tui: error: {held} is being trained by {trainer(held).describe()}; {then}"
        ]
    assert folder_state(held) == before


def test_a_filesystem_that_cannot_lock_is_one_warning_and_training_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_logger: None
) -> None:
    """Some network mounts answer ENOLCK: the OS call is made to fail so here."""
    real = fcntl.fcntl

    def no_locks(fd: int, cmd: int, arg: object = 0) -> object:
        if cmd in (getattr(fcntl, "F_OFD_SETLK", -1), fcntl.F_SETLK):
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
        return real(fd, cmd, arg)

    def no_flock(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "fcntl", no_locks)
    monkeypatch.setattr(fcntl, "flock", no_flock)
    run = tmp_path / "run"
    code = main([
        "--train-only", "--hidden-dim", "32", "--latent-dim", "4", "--batch-size", "64", "--epochs", "2",
        "--train-limit", "256", "--test-limit", "64", "--iwae-k", "0", "--swanlab", "disabled",
        "--run-dir", str(run),
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err.splitlines() == [
        f"vae-tui: warning: cannot lock {run} (No locks available): training on without the guard "
        "against a second process training the same folder"
    ]
    assert "Finished after 2 epochs" in out
    assert [r["epoch"] for r in _epochs(run)] == [1, 2]


def test_runs_claiming_at_the_same_second_get_a_folder_each(tmp_path: Path) -> None:
    now = datetime(2025, 6, 1, 12, 0, 3)
    (tmp_path / "runs" / "20250601-120003").mkdir(parents=True)  # an older run, same second
    with ThreadPoolExecutor(8) as pool:
        claimed = list(pool.map(lambda _: claim_new_run_dir(tmp_path / "runs", now), range(16)))
    assert len(set(claimed)) == 16
    assert {p.name for p in claimed} == {f"20250601-120003-{n}" for n in range(2, 18)}
    assert all(p.is_dir() and not any(p.iterdir()) for p in claimed)


def test_a_claim_that_cannot_create_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("a file where the runs folder would go")
    with pytest.raises(ConfigError, match=r"cannot create run dir .*runs/2025"):
        claim_new_run_dir(tmp_path / "runs", datetime(2025, 6, 1))
